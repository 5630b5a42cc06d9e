// npm run bench -- [--out FILE.json] [--quick | --smoke] [--sections matmul,adapter,step,decode,memory] [--no-tfjs] [--cpu | --no-cpu]
// deno run -A src/cli/bench.ts [same flags]
// Headless benchmark: Node runs Dawn (the WebGPU inside Chrome), Deno its built-in wgpu (the one
// inside Firefox). Prints the tables and writes the whole report (every run's time) as JSON.
import { readFileSync, writeFileSync } from 'node:fs';
import { arch, cpus, release, tmpdir, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { presetConfig, type Preset } from '../bench/config.ts';
import { MemoryTracker } from '../engine/webgpu/memory.ts';
import { SECTION_IDS, type MachineInfo, type RuntimeInfo, type SectionId } from '../bench/report.ts';
import { formatCpuReport, runCpuBench, type CpuReport } from '../bench/cpu.ts';
import { runSuite } from '../bench/suite.ts';
import { formatReport } from '../bench/table.ts';
import { createHeadlessGpu, isDeno } from '../engine/webgpu/headless.ts';
import { shaders } from '../engine/webgpu/shaders.node.ts';

const HELP = `usage: npm run bench -- [options]        (Node + Dawn)
       deno run -A src/cli/bench.ts [options] (Deno + wgpu)
  --out FILE.json   write the report there (default: a file in ${tmpdir()})
  --quick           small shapes, few repeats: minutes on a CPU rasteriser (SwiftShader, lavapipe)
  --smoke           the smallest quick configuration (what the unit test runs)
  --sections LIST   comma-separated subset of ${SECTION_IDS.join(',')}
  --no-tfjs         skip the tfjs-backend-webgpu comparison
  --cpu             only the CPU section (src/bench/cpu.ts): SIMD vs the former CPU backend vs OpenBLAS
                    (when ../shared/tools/sgemm_anchor.py runs), and one RL step of the default model, old vs new
  --no-cpu          skip the CPU section (it runs after the GPU sections, Node only; --smoke skips its RL step)
Without a GPU, Dawn uses SwiftShader and Deno lavapipe: their numbers say nothing about a GPU.`;

function dawnVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../node_modules/webgpu/package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '?';
  } catch {
    return '?';
  }
}

function runtimeInfo(): RuntimeInfo {
  const deno = (globalThis as { Deno?: { version: { deno: string; v8: string } } }).Deno;
  if (isDeno && deno) return { kind: 'deno-wgpu', description: `Deno ${deno.version.deno}, wgpu (Deno's built-in WebGPU)` };
  return { kind: 'node-dawn', description: `Node ${process.version}, Dawn (npm webgpu ${dawnVersion()})` };
}

function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    os: `${type()} ${release()}`,
    arch: arch(),
    cpuModel: c[0]?.model?.trim() || 'unknown CPU',
    cpuCount: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' }, quick: { type: 'boolean' }, smoke: { type: 'boolean' }, sections: { type: 'string' },
      'no-tfjs': { type: 'boolean' }, cpu: { type: 'boolean' }, 'no-cpu': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const preset: Preset = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const cfg = presetConfig(preset);
  if (values.sections !== undefined) {
    const want = values.sections.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = want.filter((s) => !(SECTION_IDS as readonly string[]).includes(s));
    if (bad.length) {
      console.error(`bench: unknown section(s) ${bad.join(', ')}; valid: ${SECTION_IDS.join(', ')}`);
      return 2;
    }
    cfg.sections = want as SectionId[];
  }
  if (values['no-tfjs']) cfg.matmul.tfjs = false;
  const cpuSection = async (): Promise<CpuReport> => {
    const m = machineInfo();
    const r = await runCpuBench({ quick: preset !== 'full', rl: preset !== 'smoke', machine: `${m.cpuModel} × ${m.cpuCount}, ${m.os}, Node ${process.version}`, log: (msg) => console.log(msg) });
    console.log(`\n${formatCpuReport(r)}`);
    return r;
  };
  if (values.cpu) {
    if (isDeno) throw new Error('the CPU section runs under Node (npm run bench:cpu)');
    const cpu = await cpuSection();
    const out = values.out ?? join(tmpdir(), `rlvr-bench-cpu-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(out, JSON.stringify({ cpu }, null, 1));
    console.log(`\nreport: ${out}`);
    return 0;
  }
  const handle = await createHeadlessGpu();
  const memory = new MemoryTracker(handle.device);
  const gpu = isDeno ? globalThis.navigator?.gpu : globalThis.__rlvrDawn;
  const report = await runSuite({ handle, shaders, cfg, machine: machineInfo(), runtime: runtimeInfo(), gpu, memory, log: (m) => console.log(m) });
  console.log(`\n${formatReport(report)}`);
  const out = values.out ?? join(tmpdir(), `rlvr-bench-${preset}-${report.runtime.kind}-${report.createdAt.replace(/[:.]/g, '-')}.json`);
  const cpu = values['no-cpu'] || isDeno ? undefined : await cpuSection();
  writeFileSync(out, JSON.stringify({ ...report, cpu }, null, 1));
  console.log(`\nreport: ${out}`);
  return report.errors.length ? 1 : 0;
}

main().then((code) => process.exit(code), (e: unknown) => {
  console.error(`bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  process.exit(1);
});
