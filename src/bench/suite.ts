// The bench suite, the same in every runtime: src/cli/bench.ts runs it headless (Node + Dawn, or
// Deno + wgpu), bench.html in a browser. The caller brings the GPU handle, the engine's shaders and
// a description of the machine and runtime; the suite returns the whole report.
import { WebGpuBackend } from '../engine/webgpu/backend.ts';
import { describeGpu, type GpuHandle, type GpuInfo } from '../engine/webgpu/device.ts';
import type { BenchConfig } from './config.ts';
import { errorMessage, type BenchEnv } from './env.ts';
import { adapterSection, matmulSection } from './kernels.ts';
import { mergedRolloutRows } from './merged.ts';
import { MemoryTracker } from '../engine/webgpu/memory.ts';
import { withBenchShaders } from './naive.ts';
import { BENCH_SCHEMA, type BenchReport, type MachineInfo, type RuntimeInfo, type SectionId } from './report.ts';
import { now } from './timing.ts';
import { decodeSection, memorySection, stepSection, type Rig } from './training.ts';

export function gpuName(info: GpuInfo): string {
  return [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || 'unknown adapter';
}

export interface SuiteInput {
  handle: GpuHandle;
  shaders: Record<string, string>;
  cfg: BenchConfig;
  machine: MachineInfo;
  runtime: RuntimeInfo;
  /** The runtime's GPU object (tfjs checks navigator.gpu); navigator.gpu in a browser. */
  gpu?: GPU;
  log?: (msg: string) => void;
  /** A tracker already installed on the device (it must see every buffer); made here if absent. */
  memory?: MemoryTracker;
}

const TITLES: Record<SectionId, string> = {
  matmul: '1. matmul GFLOP/s: ours vs naive vs tfjs-backend-webgpu',
  adapter: '2. low-rank adapter path vs the dense matmul it replaces',
  step: '3. RL training step and rollout',
  decode: '4. decode cost per token as the sequence grows (KV cache)',
  memory: '5. peak GPU memory per PEFT method',
};

export async function runSuite(input: SuiteInput): Promise<BenchReport> {
  const t0 = now();
  const log = input.log ?? (() => {});
  const memory = input.memory ?? new MemoryTracker(input.handle.device);
  const shaders = withBenchShaders(input.shaders);
  const be = new WebGpuBackend(input.handle, shaders);
  const name = gpuName(input.handle.info);
  const env: BenchEnv = { handle: input.handle, shaders, be, memory, cfg: input.cfg, gpuName: name, gpu: input.gpu, log };
  const report: BenchReport = {
    schema: BENCH_SCHEMA,
    createdAt: new Date().toISOString(),
    preset: input.cfg.preset,
    machine: input.machine,
    runtime: input.runtime,
    gpu: { ...input.handle.info, name, summary: describeGpu(input.handle.info) },
    settings: input.cfg,
    sections: input.cfg.sections,
    tfjs: { ok: false, version: null, note: 'not run' },
    matmul: [], adapter: [], step: null, decode: [], mergedRollout: [], memory: [], errors: [], notes: [],
    durationS: 0,
  };
  log(`GPU: ${report.gpu.summary}`);
  log(`runtime: ${input.runtime.description}; machine: ${input.machine.os}, ${input.machine.cpuCount} × ${input.machine.cpuModel}`);
  const holder: { rig?: Rig } = {};
  for (const section of input.cfg.sections) {
    log(`\n${TITLES[section]}`);
    const s0 = now();
    try {
      switch (section) {
        case 'matmul': {
          const { rows, tfjs } = await matmulSection(env);
          report.matmul = rows;
          report.tfjs = tfjs;
          break;
        }
        case 'adapter':
          report.adapter = await adapterSection(env);
          break;
        case 'step':
          report.step = await stepSection(env, holder);
          if (report.step.fallback) report.notes.push(report.step.fallback);
          break;
        case 'decode':
          report.decode = await decodeSection(env, holder.rig);
          report.mergedRollout = await mergedRolloutRows(env, holder.rig);
          break;
        case 'memory':
          report.memory = await memorySection(env);
          break;
      }
    } catch (e) {
      report.errors.push({ section, message: errorMessage(e) });
      log(`  ${section} failed: ${errorMessage(e)}`);
    }
    log(`  (${((now() - s0) / 1000).toFixed(1)} s)`);
  }
  report.durationS = (now() - t0) / 1000;
  return report;
}
