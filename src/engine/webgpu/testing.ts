// The GPU backend for tests under Node: Dawn on whatever adapter the machine has (SwiftShader in
// CI). No adapter is a failure, never a skip.
import { createHeadlessGpu } from './headless.ts';
import { WebGpuBackend } from './backend.ts';
import { shaders } from './shaders.vite.ts';

let backend: Promise<WebGpuBackend> | null = null;

export function testGpu(): Promise<WebGpuBackend> {
  backend ??= createHeadlessGpu().then((h) => new WebGpuBackend(h, shaders));
  return backend;
}
