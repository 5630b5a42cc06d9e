// The whole model against HuggingFace goldens (tests/fixtures, copied from shared/reference),
// on the reference CPU backend, the SIMD CPU backend and on WebGPU (Dawn; SwiftShader in CI). Tolerances: TOL in parity.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { SimdCpuBackend } from '../engine/cpu/simd/backend.ts';
import type { Backend } from '../engine/backend.ts';
import { testGpu } from '../engine/webgpu/testing.ts';
import { runParity, type ParityFiles } from './parity.ts';

function fixture(name: string): ParityFiles {
  const dir = new URL(`../../tests/fixtures/${name}/`, import.meta.url);
  const buf = (f: string) => {
    const b = readFileSync(new URL(f, dir));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  };
  return { config: JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')), model: buf('model.safetensors'), goldenBase: buf('golden_base.safetensors') };
}

const backends: [string, () => Promise<Backend>][] = [
  ['cpu', async () => new CpuBackend()],
  ['cpu-simd (2 threads)', () => SimdCpuBackend.create({ threads: 2 })],
  ['webgpu', testGpu],
];

for (const [bname, make] of backends) {
  describe(`HF parity on ${bname}`, () => {
    for (const model of ['hf-qwen2-tiny', 'hf-llama-tiny']) {
      it(`${model}: logits, loss, every gradient, token log-probs, greedy decode`, async () => {
        const rows = await runParity(await make(), fixture(model), model);
        const bad = rows.filter((r) => !r.ok).map((r) => `${r.name}: ${r.relErr}`);
        expect(bad).toEqual([]);
        expect(rows.some((r) => r.name.startsWith('grad/model.layers.1.mlp.down_proj'))).toBe(true);
      });
    }
  });
}
