// Backend construction for the headless CLI. `auto` takes WebGPU on a real GPU and the CPU
// backend when the only adapter is a software rasteriser (SwiftShader, lavapipe/llvmpipe), where
// the CPU backend is measured faster for the lab's small models (docs/PERFORMANCE.md).
import type { Backend } from '../engine/backend.ts';
import { FastCpuBackend } from '../engine/cpu/fast.ts';
import { describeGpu, GpuError, type GpuInfo } from '../engine/webgpu/device.ts';
import { createHeadlessGpu, isDeno } from '../engine/webgpu/headless.ts';
import { WebGpuBackend } from '../engine/webgpu/backend.ts';
import { shaders } from '../engine/webgpu/shaders.node.ts';

export type BackendName = 'cpu' | 'webgpu' | 'auto';
export const BACKENDS: readonly BackendName[] = ['auto', 'webgpu', 'cpu'];

const CPU_DESCRIPTION = 'CPU (float32; the reference kernels, matmuls reordered for the cache, bit-identical)';

export function isSoftwareAdapter(info: GpuInfo): boolean {
  return /swiftshader|llvmpipe|lavapipe/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

export async function createBackend(name: BackendName): Promise<{ backend: Backend; description: string }> {
  if (!BACKENDS.includes(name)) throw new Error(`--backend must be one of ${BACKENDS.join(', ')}, got "${name}"`);
  if (name === 'cpu') return { backend: new FastCpuBackend(), description: CPU_DESCRIPTION };
  let handle;
  try {
    handle = await createHeadlessGpu();
  } catch (e) {
    if (name === 'auto' && e instanceof GpuError) return { backend: new FastCpuBackend(), description: `${CPU_DESCRIPTION} — no WebGPU: ${e.message}` };
    throw e;
  }
  const gpu = `WebGPU (${isDeno ? 'Deno wgpu' : 'Dawn'}): ${describeGpu(handle.info)}`;
  if (name === 'auto' && isSoftwareAdapter(handle.info)) {
    handle.device.destroy();
    return { backend: new FastCpuBackend(), description: `${CPU_DESCRIPTION} — the only adapter is a software rasteriser (${gpu})` };
  }
  return { backend: new WebGpuBackend(handle, shaders), description: gpu };
}
