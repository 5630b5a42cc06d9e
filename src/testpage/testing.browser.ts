// The browser twin of src/engine/webgpu/testing.ts, swapped in by vite.config.ts when tests.html
// runs the GPU kernel tests: the same testGpu(), on the page's navigator.gpu instead of Dawn-node.
// Keep its exports in step with testing.ts. No adapter is a failure, never a skip.
import { WebGpuBackend } from '../engine/webgpu/backend.ts';
import { createGpu } from '../engine/webgpu/device.ts';
import { shaders } from '../engine/webgpu/shaders.vite.ts';

let backend: Promise<WebGpuBackend> | null = null;

export function testGpu(): Promise<WebGpuBackend> {
  backend ??= createGpu().then((h) => new WebGpuBackend(h, shaders));
  return backend;
}
