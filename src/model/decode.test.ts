// The fused decode step (Backend.normMatmul / qkvRope: 5 dispatches per layer) against the separate
// ops on the same WebGPU device: the same tokens, log-probs and entropies within float32 rounding,
// for a model with q/k/v biases (Qwen2) and one without (Llama), sampled and greedy.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../engine/backend.ts';
import { testGpu } from '../engine/webgpu/testing.ts';
import { parseHfConfig } from './config.ts';
import { Model } from './model.ts';
import { loadWeights } from './parity.ts';

function fixture(name: string) {
  const dir = new URL(`../../tests/fixtures/${name}/`, import.meta.url);
  const buf = readFileSync(new URL('model.safetensors', dir));
  return {
    cfg: parseHfConfig(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8'))),
    weights: () => loadWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, 'model.safetensors'),
  };
}

/** The same backend without the decode fusions: the model runs the separate ops. */
const unfused = (be: Backend): Backend => Object.create(be, { normMatmul: { value: undefined }, qkvRope: { value: undefined } }) as Backend;

describe('fused decode step (WebGPU)', () => {
  const TOL = 1e-5; // |Δ log-prob| and |Δ entropy|: the fused dot products sum in another order (a few ulp of the logits)
  for (const name of ['hf-qwen2-tiny', 'hf-llama-tiny']) {
    it(`${name}: same tokens and log-probs as the separate ops, ≤ 5 dispatches per layer per token`, async () => {
      const gpu = await testGpu();
      const { cfg, weights } = fixture(name);
      const fused = new Model(gpu, cfg, weights()), plain = new Model(unfused(gpu), cfg, weights());
      const B = 3, P = 5, steps = 8;
      const prompt = Int32Array.from({ length: B * P }, (_, i) => (i * 7 + 3) % cfg.vocabSize);
      for (const opts of [{ temperature: 0.9, topP: 1, seed: 11 }, { temperature: 0, topP: 1, seed: 0 }]) {
        const count = async (m: Model, n: number) => {
          const d0 = gpu.ctx.dispatches;
          const g = await m.generate(prompt, B, n, opts);
          return { g, d: gpu.ctx.dispatches - d0 };
        };
        const [a, b] = [await count(fused, steps), await count(plain, steps)];
        expect(Array.from(a.g.tokens)).toEqual(Array.from(b.g.tokens));
        for (let i = 0; i < a.g.logp.length; i++) {
          expect(Math.abs(a.g.logp[i] - b.g.logp[i])).toBeLessThanOrEqual(TOL);
          expect(Math.abs(a.g.entropy[i] - b.g.entropy[i])).toBeLessThanOrEqual(TOL);
        }
        const perToken = (a.d - (await count(fused, steps - 2)).d) / 2;
        expect(perToken).toBe(5 * cfg.layers + 3); // + embedding, final norm + head, sampler
      }
    });
  }
});
