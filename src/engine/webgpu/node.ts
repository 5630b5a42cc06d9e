// Headless WebGPU for Node: Dawn (npm `webgpu`, the implementation inside Chrome).
// Why Dawn and not Deno's wgpu: Dawn runs our tiled kernels ~50x faster on NVIDIA (docs/DESIGN.md),
// runs inside vitest with the rest of the tests, and is the implementation Chromium users get.
// On a machine without a GPU it uses Chromium's SwiftShader (Debian `chromium` ships the ICD).
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

export async function createNodeGpu(): Promise<GpuHandle> {
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
