// Backend construction for the headless CLI. `auto` takes WebGPU on a real GPU and the CPU
// backend when the only adapter is a software rasteriser (SwiftShader, lavapipe/llvmpipe), where
// the CPU backend is measured faster for the lab's small models (docs/PERFORMANCE.md).
import type { Backend } from '../engine/backend.ts';
import { FastCpuBackend } from '../engine/cpu/fast.ts';
import { SimdCpuBackend } from '../engine/cpu/simd/backend.ts';
import { describeGpu, GpuError, type GpuInfo } from '../engine/webgpu/device.ts';
import { createHeadlessGpu, isDeno } from '../engine/webgpu/headless.ts';
import { WebGpuBackend } from '../engine/webgpu/backend.ts';
import { shaders } from '../engine/webgpu/shaders.node.ts';

export type BackendName = 'cpu' | 'webgpu' | 'auto' | 'cpu-f64';
/** cpu-f64: the former CPU backend (float64 sums, one thread, ~20× slower), kept because the shipped
 * models were distilled on it: their cards' commands reproduce the weights bit for bit only there. */
export const BACKENDS: readonly BackendName[] = ['auto', 'webgpu', 'cpu', 'cpu-f64'];

/** The SIMD CPU backend on every core (`RLVR_CPU_THREADS` sets another count), with its description. */
async function cpu(why = ''): Promise<{ backend: Backend; description: string }> {
  const env = typeof process !== 'undefined' ? process.env.RLVR_CPU_THREADS : undefined;
  const threads = env ? Number(env) : undefined;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new Error(`RLVR_CPU_THREADS must be a positive integer, got "${env}"`);
  const backend = await SimdCpuBackend.create({ threads });
  return { backend, description: backend.describe() + why };
}

export function isSoftwareAdapter(info: GpuInfo): boolean {
  return /swiftshader|llvmpipe|lavapipe/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

export async function createBackend(name: BackendName): Promise<{ backend: Backend; description: string }> {
  if (!BACKENDS.includes(name)) throw new Error(`--backend must be one of ${BACKENDS.join(', ')}, got "${name}"`);
  if (name === 'cpu') return cpu();
  if (name === 'cpu-f64') return { backend: new FastCpuBackend(), description: 'CPU, float64 sums, one thread (the former CPU backend: bit-identical to the reference kernels)' };
  let handle;
  try {
    handle = await createHeadlessGpu();
  } catch (e) {
    if (name === 'auto' && e instanceof GpuError) return cpu(` — no WebGPU: ${e.message}`);
    throw e;
  }
  const gpu = `WebGPU (${isDeno ? 'Deno wgpu' : 'Dawn'}): ${describeGpu(handle.info)}`;
  if (name === 'auto' && isSoftwareAdapter(handle.info)) {
    handle.device.destroy();
    return cpu(` — the only adapter is a software rasteriser (${gpu})`);
  }
  return { backend: new WebGpuBackend(handle, shaders), description: gpu };
}
