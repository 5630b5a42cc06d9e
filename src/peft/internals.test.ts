// Method internals against states whose answer is known by hand, on the tiny HF fixture and the CPU
// backend: a DoRA magnitude vector moved by set fractions, IA³ and VeRA scales set to known values,
// AdaLoRA's E with entries zeroed by hand and by its own allocator; carried by the spectral records.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { parseHfConfig } from '../model/config.ts';
import { Model } from '../model/model.ts';
import { loadWeights } from '../model/parity.ts';
import { peftName } from './common.ts';
import { InternalsProbe, internalsLine, layerOf, summarizeInternals, type Internals } from './internals.ts';
import { defaultPeftConfig, getMethod } from './registry.ts';
import { SpectralProbe } from './spectral.ts';
import type { MethodId, PeftConfig } from './types.ts';

const dir = new URL('../../tests/fixtures/hf-qwen2-tiny/', import.meta.url);
const mcfg = parseHfConfig(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')));
const buf = readFileSync(new URL('model.safetensors', dir));
const weights = () => loadWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, 'model.safetensors');
const attach = async (method: MethodId, over: Partial<PeftConfig> = {}) => {
  const w = weights(), model = new Model(new CpuBackend(), mcfg, w);
  const inst = await getMethod(method).attach(model, { ...defaultPeftConfig(method), ...over });
  return { model, inst, w };
};
const Q0 = 'model.layers.0.self_attn.q_proj', V1 = 'model.layers.1.self_attn.v_proj';
const layer = <T extends { name: string }>(x: { layers: T[] }, base: string) => x.layers.find((l) => l.name === `${base}.weight`)!;

describe('method internals', () => {
  it('names layers as the spectral records do; null for methods without internals', async () => {
    expect(layerOf(peftName(Q0, 'lora_E.default'))).toBe(`${Q0}.weight`);
    expect(layerOf(peftName(Q0, 'lora_magnitude_vector.default.weight'))).toBe(`${Q0}.weight`);
    expect(layerOf(peftName(Q0, 'vera_lambda_b.default'))).toBe(`${Q0}.weight`);
    for (const m of ['lora', 'pissa', 'full', 'ln_tuning', 'miss'] as const) {
      expect(summarizeInternals(defaultPeftConfig(m), new Map(), null, 1)).toBeNull();
      const { inst, model } = await attach(m);
      expect(await InternalsProbe.create(inst)).toBeNull();
      inst.detach();
      model.free();
    }
  });

  it('DoRA: m₀ = ‖W₀‖_row; m moved by +10% and −30% on two rows of one layer reads their relative change', async () => {
    const { inst, model, w } = await attach('dora', { r: 4 });
    const probe = (await InternalsProbe.create(inst))!;
    const at0 = await probe.record(0) as Extract<Internals, { method: 'dora' }>;
    expect(at0.layers.length).toBe(7 * mcfg.layers);
    for (const l of at0.layers) expect([l.rel, l.maxDev]).toEqual([0, 0]);
    const key = peftName(Q0, 'lora_magnitude_vector.default.weight');
    const m0 = (await inst.snapshot()).get(key)!;
    // The init is the row norms of the base weight.
    const W = w.get(`${Q0}.weight`)!, inF = mcfg.hidden;
    for (let o = 0; o < m0.length; o++) {
      let s = 0;
      for (let c = 0; c < inF; c++) s += W[o * inF + c] ** 2;
      expect(m0[o]).toBeCloseTo(Math.sqrt(s), 5);
    }
    const m = Float32Array.from(m0);
    m[0] *= 1.1;
    m[3] *= 0.7;
    inst.load(new Map([[key, m]]));
    const r = await probe.record(1) as Extract<Internals, { method: 'dora' }>;
    const n0 = Math.sqrt(m0.reduce((s, x) => s + x * x, 0));
    const want = Math.sqrt((0.1 * m0[0]) ** 2 + (0.3 * m0[3]) ** 2) / n0;
    const q = layer(r, Q0);
    expect(q.rel).toBeCloseTo(want, 6);
    expect(q.maxDev).toBeCloseTo(0.3, 6);
    expect(r.layers.filter((l) => l !== q).every((l) => l.rel === 0 && l.maxDev === 0)).toBe(true);
    expect(internalsLine(r)).toMatch(/^DoRA magnitude change/);
    inst.detach();
    model.free();
  });

  it('IA³: scales set by hand read their mean, min, max and RMS distance from 1; untouched ones read 1 and 0', async () => {
    const { inst, model } = await attach('ia3');
    const probe = (await InternalsProbe.create(inst))!;
    const key = peftName(V1, 'ia3_l.default'), n = mcfg.kvHeads * mcfg.headDim;
    const l = Float32Array.from({ length: n }, (_, i) => (i === 0 ? 0.5 : i === 1 ? 2 : 1));
    inst.load(new Map([[key, l]]));
    const r = await probe.record(3) as Extract<Internals, { method: 'ia3' }>;
    expect(r.layers.length).toBe(3 * mcfg.layers); // k, v, down
    const v = layer(r, V1);
    expect(v.mean).toBeCloseTo((n + 0.5) / n, 6);
    expect([v.min, v.max]).toEqual([0.5, 2]);
    expect(v.rms1).toBeCloseTo(Math.sqrt((0.25 + 1) / n), 6);
    const down = layer(r, 'model.layers.0.mlp.down_proj');
    expect([down.mean, down.min, down.max, down.rms1]).toEqual([1, 1, 1, 0]);
    inst.detach();
    model.free();
  });

  it('VeRA: mean and max |λ_d| and |λ_b| of set scales; at init λ_d = d_initial, λ_b = 0', async () => {
    const { inst, model } = await attach('vera', { r: 8 });
    const probe = (await InternalsProbe.create(inst))!;
    const init = await probe.record(0) as Extract<Internals, { method: 'vera' }>;
    for (const l of init.layers) {
      expect(l.dMean).toBeCloseTo(0.1, 6);
      expect(l.dMax).toBeCloseTo(0.1, 6);
      expect([l.bMean, l.bMax]).toEqual([0, 0]);
    }
    const out = mcfg.heads * mcfg.headDim;
    const ld = Float32Array.from({ length: 8 }, (_, i) => (i % 2 ? -1 : 1) * (i + 1) / 10); // |λ_d| = 0.1 … 0.8
    const lb = Float32Array.from({ length: out }, (_, i) => (i === 5 ? -0.4 : 0));
    inst.load(new Map([[peftName(Q0, 'vera_lambda_d.default'), ld], [peftName(Q0, 'vera_lambda_b.default'), lb]]));
    const q = layer(await probe.record(1) as Extract<Internals, { method: 'vera' }>, Q0);
    expect(q.dMean).toBeCloseTo(0.45, 6);
    expect(q.dMax).toBeCloseTo(0.8, 6);
    expect(q.bMean).toBeCloseTo(0.4 / out, 6);
    expect(q.bMax).toBeCloseTo(0.4, 6);
    inst.detach();
    model.free();
  });

  it('AdaLoRA: the rank is the count of nonzero E, zeroed by hand or by the allocator to its budget', async () => {
    const cfg = (allocate: boolean): Partial<PeftConfig> => ({ r: 6, dropout: 0, adalora: { ...defaultPeftConfig('adalora').adalora, targetR: 4, allocate, tInit: 0, tFinal: 0, deltaT: 1, totalStep: 10 } });
    {
      const { inst, model } = await attach('adalora', cfg(false));
      const probe = (await InternalsProbe.create(inst))!;
      const E = new Map<string, Float32Array>();
      for (const p of inst.params) if (p.name.endsWith('lora_E.default')) E.set(p.name, Float32Array.from({ length: 6 }, (_, i) => 0.1 * (i + 1)));
      E.set(peftName(Q0, 'lora_E.default'), Float32Array.of(0, 0.3, 0, -0.7, 0, 0.2));
      inst.load(E);
      const r = await probe.record(2) as Extract<Internals, { method: 'adalora' }>;
      expect(r.r).toBe(6);
      expect(r.budget).toBeNull(); // the allocator is off
      expect(layer(r, Q0)).toEqual({ name: `${Q0}.weight`, rank: 3, eMax: expect.closeTo(0.7, 6) });
      expect(r.layers.filter((l) => l.name !== `${Q0}.weight`).every((l) => l.rank === 6)).toBe(true);
      expect(internalsLine(r)).toBe('AdaLoRA rank per layer 3–6 (mean 5.8) of 6');
      inst.detach();
      model.free();
    }
    {
      // As adalora.test.ts: one backward, then afterStep(5) masks 25 of the 84 triplets (budget 59).
      const { inst, model } = await attach('adalora', cfg(true));
      const probe = (await InternalsProbe.create(inst))!;
      const E = new Map<string, Float32Array>();
      for (const p of inst.params) if (p.name.endsWith('lora_E.default')) E.set(p.name, Float32Array.from({ length: 6 }, (_, i) => 0.1 + 0.01 * i));
      inst.load(E);
      const ids = Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 96);
      const targets = Int32Array.from({ length: 16 }, (_, i) => (i < 15 ? ids[i + 1] : -1));
      inst.zeroGrads();
      model.forward(ids, targets, 2, 8);
      model.backward(new Float32Array(16).fill(-1 / 15));
      await inst.afterStep!(5);
      const r = await probe.record(5) as Extract<Internals, { method: 'adalora' }>;
      expect(r.budget).toBe(59);
      expect(r.layers.reduce((s, l) => s + l.rank, 0)).toBe(59);
      expect(r.layers.some((l) => l.rank < 6)).toBe(true);
      inst.detach();
      model.free();
    }
  });

  it('the spectral records carry them (and the init is taken at create)', async () => {
    const { inst, model } = await attach('ia3');
    const probe = await SpectralProbe.create(inst, mcfg);
    inst.load(new Map([[peftName(V1, 'ia3_l.default'), new Float32Array(mcfg.kvHeads * mcfg.headDim).fill(1.5)]]));
    const r = await probe.record(1);
    expect(r.internals?.method).toBe('ia3');
    expect(r.internalsSeconds).toBeGreaterThanOrEqual(0);
    expect(r.internalsSeconds!).toBeLessThanOrEqual(r.seconds);
    expect(layer(r.internals as Extract<Internals, { method: 'ia3' }>, V1).mean).toBeCloseTo(1.5, 6);
    // The record survives JSON (the CLI's lines, the worker's messages).
    expect(JSON.parse(JSON.stringify(r)).internals).toEqual(r.internals);
    inst.detach();
    model.free();
    const lora = await attach('lora');
    expect((await (await SpectralProbe.create(lora.inst, mcfg)).record(1)).internals).toBeUndefined();
    lora.inst.detach();
    lora.model.free();
  });
});
