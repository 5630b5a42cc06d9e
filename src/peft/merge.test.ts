// The merge for rollouts (PeftInstance.withMerged) of every method, on the CPU backends and on WebGPU
// (Dawn): inside it the model reads, for every adapted layer, the weights merged() gives (the merge
// checked against HF PEFT in parity.test.ts) up to float32 rounding, the adapters are bypassed, and
// its forward equals the adapters' eval-mode forward; afterwards every base weight, every adapter
// tensor and the forward are bit-identical to before, also when `fn` throws.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../engine/backend.ts';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { SimdCpuBackend } from '../engine/cpu/simd/backend.ts';
import { testGpu } from '../engine/webgpu/testing.ts';
import { parseHfConfig } from '../model/config.ts';
import { Model } from '../model/model.ts';
import { loadWeights, relErr, TOL } from '../model/parity.ts';
import { defaultPeftConfig, getMethod, methodIds } from './registry.ts';
import type { MethodId, PeftConfig, PeftInstance } from './types.ts';

/** Merged weights against merged(): float32 rounding of a differently ordered computation (DoRA's
 * row norm in float32 against float64, VeRA's and IA³'s scalings in another order), ≈ 8 ulp. */
const TOL_MERGED = 1e-6;

const dir = new URL('../../tests/fixtures/hf-qwen2-tiny/', import.meta.url);
const buf = readFileSync(new URL('model.safetensors', dir));
const weights = loadWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, 'model.safetensors');
const mcfg = parseHfConfig(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')));
const B = 2, T = 5;
const ids = Int32Array.from({ length: B * T }, (_, i) => 3 + ((i * 37) % 90));
const targets = Int32Array.from({ length: B * T }, (_, i) => (i % T === T - 1 ? -1 : ids[i + 1]));

/** Small ranks for a quick test; dropout on, so a merged path that kept it would show. rsLoRA gets
 * α = 4 so that its scale α/√r equals LoRA's α/r = 2: at scale 4 the perturbed adapters swamp the
 * base weights and the forward is ill-conditioned (measured in float64: a relative change of 6e-8 in
 * the adapter tensors alone moves the logits by up to 7e-6, ten times LoRA's 7e-7), so float32
 * rounding, not the merge, would set the difference between the two forwards. */
function config(method: MethodId): PeftConfig {
  const c = defaultPeftConfig(method);
  return { ...c, r: method === 'lora_r1' ? 1 : method === 'vera' ? 8 : 4, alpha: method === 'rslora' ? 4 : 8, dropout: 0.2, adalora: { ...c.adalora, targetR: 2 } };
}

/** Every trainable tensor moved off its init (LoRA's B = 0, IA³'s l = 1 would make merging trivial). */
function perturb(inst: PeftInstance, data: Map<string, Float32Array>): void {
  inst.load(new Map(inst.params.map((p, k) => [p.name, data.get(p.name)!.map((v, i) => v + 0.3 * Math.sin(k * 12.9898 + i * 78.233))])));
}

async function logits(m: Model): Promise<Float32Array> {
  return m.backend.read(m.forward(ids, targets, B, T).logits);
}

async function state(m: Model, inst: PeftInstance): Promise<Map<string, Float32Array>> {
  const out = await inst.snapshot();
  for (const [name, t] of m.params) out.set(`model:${name}`, await m.backend.read(t));
  return out;
}

/** The model's parameter table holds the very tensors it held before. */
function expectSameTensors(m: Model, tensors: Map<string, unknown>): void {
  expect([...m.params.keys()]).toEqual([...tensors.keys()]);
  for (const [name, t] of tensors) expect(m.params.get(name) === t, name).toBe(true);
}

const backends: [string, () => Promise<Backend>][] = [
  ['cpu', async () => new CpuBackend()],
  ['cpu (SIMD, as the CLI runs)', () => SimdCpuBackend.create({ threads: 2 })],
  ['webgpu', testGpu],
];

for (const [bname, make] of backends) {
  describe(`withMerged on ${bname}`, () => {
    for (const method of methodIds) {
      it(`${method}: merged weights and forward inside, no trace after`, async () => {
        const be = await make();
        const model = new Model(be, mcfg, weights);
        const inst = await getMethod(method).attach(model, config(method));
        try {
          perturb(inst, await inst.snapshot());
          const tensors = new Map(model.params), before = await state(model, inst), ref = await inst.merged();
          inst.setTraining?.(false);
          const want = await logits(model);
          inst.setTraining?.(true); // withMerged is the eval-mode forward whatever the mode
          const adapted = model.adapters.size > 0;
          let got: Float32Array | null = null;
          await inst.withMerged(async () => {
            expect(model.adaptersEnabled).toBe(!adapted);
            for (const [name, w] of ref) expect(relErr(await be.read(model.p(name)), w), name).toBeLessThanOrEqual(TOL_MERGED);
            got = await logits(model);
          });
          expect(got).not.toBeNull();
          expect(relErr(got!, want)).toBeLessThanOrEqual(TOL.logits);
          expect(model.adaptersEnabled).toBe(true);
          expectSameTensors(model, tensors);
          expect(await state(model, inst)).toEqual(before);
          inst.setTraining?.(false);
          expect(await logits(model)).toEqual(want);
        } finally {
          inst.detach();
          model.free();
        }
      }, 120_000);
    }

    it('restores everything when fn throws, and refuses to nest', async () => {
      const be = await make();
      const model = new Model(be, mcfg, weights);
      const inst = await getMethod('lora').attach(model, config('lora'));
      try {
        perturb(inst, await inst.snapshot());
        const tensors = new Map(model.params), before = await state(model, inst);
        await expect(inst.withMerged(async () => {
          await expect(inst.withMerged(async () => 0)).rejects.toThrow(/already running/);
          throw new Error('boom');
        })).rejects.toThrow('boom');
        expect(model.adaptersEnabled).toBe(true);
        expectSameTensors(model, tensors);
        expect(await state(model, inst)).toEqual(before);
      } finally {
        inst.detach();
        model.free();
      }
    });
  });
}
