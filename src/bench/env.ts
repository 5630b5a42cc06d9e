// What every bench section gets: the backend (built with the bench's extra shaders), the memory
// tracker on its device, the run's config, and a logger.
import type { WebGpuBackend } from '../engine/webgpu/backend.ts';
import type { GpuHandle } from '../engine/webgpu/device.ts';
import type { BenchConfig } from './config.ts';
import type { MemoryTracker } from '../engine/webgpu/memory.ts';
import type { GpuClock } from './timing.ts';

export interface BenchEnv {
  handle: GpuHandle;
  /** The engine's shaders plus the bench's (naive.ts). */
  shaders: Record<string, string>;
  be: WebGpuBackend;
  memory: MemoryTracker;
  cfg: BenchConfig;
  /** Short adapter name, stamped on every row. */
  gpuName: string;
  /** The runtime's GPU object, for tfjs in headless runtimes (navigator.gpu in a browser). */
  gpu: GPU | undefined;
  log(msg: string): void;
}

export function backendClock(be: WebGpuBackend): GpuClock {
  return { finish: () => be.sync(), submissions: () => be.ctx.submissions, dispatches: () => be.ctx.dispatches };
}

/** Deterministic values in [−1, 1) (a 32-bit LCG), so every implementation multiplies the same data. */
export function testData(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export function relErr(x: Float32Array, ref: Float32Array): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(x[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
