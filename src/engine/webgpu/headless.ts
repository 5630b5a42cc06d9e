// Headless WebGPU. Under Node: Dawn (npm `webgpu`, the implementation inside Chrome). Under Deno:
// its built-in wgpu (the implementation inside Firefox), so every kernel is tested on both compilers.
// Dawn is the default for the CLI: it ran tiled kernels ~50x faster than wgpu on an H200
// (docs/DESIGN.md), runs inside vitest with the rest of the tests, and is what Chromium users get.
// Without a GPU, Dawn uses Chromium's SwiftShader (Debian `chromium` ships the ICD) and Deno uses
// Mesa's lavapipe (Debian `mesa-vulkan-drivers`), ~8x faster than SwiftShader.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createGpu, GpuError, type GpuHandle } from './device.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

declare global {
  // Dawn-node aborts at random if the object create() returns is garbage collected while work is
  // pending (docs/DESIGN.md): keep it referenced for the life of the process.
  var __rlvrDawn: GPU | undefined;
}

export const isDeno = 'Deno' in globalThis;

export async function createHeadlessGpu(): Promise<GpuHandle> {
  if (isDeno) return createGpu(globalThis.navigator?.gpu);
  if (!globalThis.__rlvrDawn) {
    // Without a GPU driver, point the Vulkan loader at SwiftShader. RLVR_VK_ICD overrides.
    const icd = process.env.RLVR_VK_ICD ?? (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES ? undefined : SWIFTSHADER_ICD);
    if (icd && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
    let dawn: DawnModule;
    try {
      dawn = createRequire(import.meta.url)('webgpu') as DawnModule;
    } catch (e) {
      throw new GpuError('no-webgpu', `the npm package "webgpu" (Dawn for Node) failed to load: ${String(e)}`);
    }
    Object.assign(globalThis, dawn.globals);
    globalThis.__rlvrDawn = dawn.create([]);
  }
  return createGpu(globalThis.__rlvrDawn);
}
