// Backend construction for the headless CLI.
import type { Backend } from '../engine/backend.ts';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { describeGpu } from '../engine/webgpu/device.ts';
import { createHeadlessGpu, isDeno } from '../engine/webgpu/headless.ts';
import { WebGpuBackend } from '../engine/webgpu/backend.ts';
import { shaders } from '../engine/webgpu/shaders.node.ts';

export type BackendName = 'cpu' | 'webgpu';

export async function createBackend(name: BackendName): Promise<{ backend: Backend; description: string }> {
  if (name === 'cpu') return { backend: new CpuBackend(), description: 'CPU (float32 reference kernels)' };
  const handle = await createHeadlessGpu();
  return { backend: new WebGpuBackend(handle, shaders), description: `WebGPU (${isDeno ? 'Deno wgpu' : 'Dawn'}): ${describeGpu(handle.info)}` };
}
