// Every PEFT method in the fixtures against HF PEFT's own numbers (golden_peft.safetensors): init,
// logits, loss, every trainable gradient and the merged weights, on the reference and SIMD CPU backends and on WebGPU
// (Dawn; SwiftShader in CI), for the Qwen2 and Llama fixtures. Tolerances: TOL in model/parity.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../engine/backend.ts';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { SimdCpuBackend } from '../engine/cpu/simd/backend.ts';
import { testGpu } from '../engine/webgpu/testing.ts';
import type { ParityFiles } from '../model/parity.ts';
import { runPeftParity } from './parity.ts';

/** The fixture methods checked here (one line, shared by everyone adding a method). */
const METHODS = ['lora', 'rslora', 'lora_r1', 'dora', 'pissa', 'olora', 'adalora', 'vera', 'ia3', 'miss', 'ln_tuning'];

function fixture(name: string): ParityFiles {
  const dir = new URL(`../../tests/fixtures/${name}/`, import.meta.url);
  const buf = (f: string) => {
    const b = readFileSync(new URL(f, dir));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  };
  return {
    config: JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')),
    model: buf('model.safetensors'),
    goldenBase: buf('golden_base.safetensors'),
    goldenPeft: buf('golden_peft.safetensors'),
    manifest: JSON.parse(readFileSync(new URL('golden_manifest.json', dir), 'utf8')),
  };
}

const backends: [string, () => Promise<Backend>][] = [
  ['cpu', async () => new CpuBackend()],
  ['cpu-simd (2 threads)', () => SimdCpuBackend.create({ threads: 2 })],
  ['webgpu', testGpu],
];

for (const [bname, make] of backends) {
  describe(`HF PEFT parity on ${bname}`, () => {
    for (const model of ['hf-qwen2-tiny', 'hf-llama-tiny']) {
      for (const method of METHODS) {
        it(`${model}: ${method}`, async () => {
          const rows = await runPeftParity(await make(), fixture(model), model, [method]);
          const bad = rows.filter((r) => !r.ok).map((r) => `${r.name}: ${r.relErr} > ${r.tol}`);
          expect(bad).toEqual([]);
          // Every part was compared: logits, losses, gradients, merged weights (and init).
          for (const part of ['logits', 'ce_loss', 'loss', 'grad/', 'merged/', 'init/']) {
            expect(rows.some((r) => r.name.startsWith(`${method}/${part}`)), `${method}: no ${part} rows`).toBe(true);
          }
        });
      }
    }
  });
}
