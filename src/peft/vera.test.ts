// VeRA: the shared projections (sizes, PEFT's √(6/fan_in) bound, seeded), each layer's slice of
// them (forward against the merged weight on layers of different in / out sizes), loading PEFT's
// saved projections under either name, settings and counts.
import { describe, expect, it } from 'vitest';
import { defaultPeftConfig } from './registry.ts';
import { adapterPass, denseForwardErr, mcfg, newModel, rnd } from './testing.ts';
import type { PeftConfig } from './types.ts';
import { vera, veraDims, veraProjections } from './vera.ts';

const cfgOf = (over: Partial<PeftConfig> = {}): PeftConfig => ({ ...defaultPeftConfig('vera'), r: 16, dropout: 0, ...over });

describe('VeRA shared projections', () => {
  it('A (r × in_max), B (out_max × r), U(±√(6/fan_in)) as PEFT\'s _kaiming_init, reproducible from the seed', () => {
    expect(veraDims(cfgOf(), mcfg)).toEqual({ inMax: 128, outMax: 128 });
    expect(veraDims(cfgOf({ targets: ['q_proj', 'v_proj', 'o_proj', 'up_proj', 'gate_proj'] }), mcfg)).toEqual({ inMax: 64, outMax: 128 });
    const { A, B } = veraProjections(0, 16, 64, 128);
    expect(A.length).toBe(16 * 64);
    expect(B.length).toBe(128 * 16);
    const max = (x: Float32Array) => x.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    expect(max(A)).toBeLessThanOrEqual(Math.sqrt(6 / 64));
    expect(max(A)).toBeGreaterThan(0.95 * Math.sqrt(6 / 64));
    expect(max(B)).toBeLessThanOrEqual(Math.sqrt(6 / 16));
    expect(max(B)).toBeGreaterThan(0.95 * Math.sqrt(6 / 16));
    expect(Array.from(veraProjections(0, 16, 64, 128).A)).toEqual(Array.from(A));
    expect(veraProjections(1, 16, 64, 128).A[0]).not.toBe(A[0]);
  });
});

describe('VeRA layer', () => {
  it('initialises λ_d = d_initial, λ_b = 0; the forward of every layer equals x·W_mergedᵀ + b (slices of A and B)', async () => {
    const m = newModel(), be = m.backend;
    const cfg = cfgOf({ vera: { dInitial: 0.25, seed: 3 } });
    const inst = await vera.attach(m, cfg);
    const snap = await inst.snapshot();
    for (const p of inst.params) {
      const want = p.name.includes('lambda_d') ? 0.25 : 0;
      expect(Array.from(snap.get(p.name)!).every((v) => v === want), p.name).toBe(true);
    }
    expect(snap.get('base_model.vera_A.default')!.length).toBe(16 * 128);
    inst.load(new Map(inst.params.map((p, i) => [p.name, rnd(p.tensor.size, i + 1)])));
    const merged = await inst.merged();
    const N = 3;
    const sizes = new Set<string>();
    for (const [base, ad] of m.adapters) {
      const W = merged.get(`${base}.weight`)!, bias = m.params.get(`${base}.bias`);
      const b = bias ? await be.read(bias) : null;
      const outF = inst.params.find((p) => p.name === `base_model.model.${base}.vera_lambda_b.default`)!.shape[0], inF = W.length / outF;
      sizes.add(`${outF}x${inF}`);
      const xs = rnd(N * inF, 5);
      const { y } = await adapterPass(m, inst, ad, xs, null, N, inF, outF);
      expect(denseForwardErr(y, W, b, xs, N, inF, outF), base).toBeLessThan(1e-6);
    }
    expect([...sizes].sort()).toEqual(['128x64', '32x64', '64x128', '64x64']);
    inst.detach();
  });

  it('load takes PEFT\'s projections under the shared or a layer\'s name, and rejects bad ones', async () => {
    const m = newModel();
    const inst = await vera.attach(m, cfgOf({ targets: ['q_proj', 'v_proj'] }));
    const A = rnd(16 * 64, 11), B = rnd(64 * 16, 12);
    inst.load(new Map([['base_model.model.model.layers.1.self_attn.v_proj.vera_A.default', A], ['base_model.vera_B.default', B]]));
    const snap = await inst.snapshot();
    expect(Array.from(snap.get('base_model.vera_A.default')!)).toEqual(Array.from(A));
    expect(Array.from(snap.get('base_model.vera_B.default')!)).toEqual(Array.from(B));
    // The merged weight uses the loaded projections: v_proj of layer 0 with λ_d = 1, λ_b = 1.
    const ones = (n: number) => new Float32Array(n).fill(1);
    const pre = 'base_model.model.model.layers.0.self_attn.v_proj';
    inst.load(new Map([[`${pre}.vera_lambda_d.default`, ones(16)], [`${pre}.vera_lambda_b.default`, ones(32)]]));
    const W0 = await m.backend.read(m.p('model.layers.0.self_attn.v_proj.weight'));
    const Wm = (await inst.merged()).get('model.layers.0.self_attn.v_proj.weight')!;
    let d = 0;
    for (let k = 0; k < 16; k++) d += B[5 * 16 + k] * A[k * 64 + 7];
    expect(Wm[5 * 64 + 7] - W0[5 * 64 + 7]).toBeCloseTo(d, 6);
    expect(() => inst.load(new Map([['base_model.vera_A.default', new Float32Array(5)]]))).toThrow(/base_model\.vera_A\.default: got 5 values, expected 1024/);
    expect(() => inst.load(new Map([['base_model.model.model.layers.0.mlp.up_proj.vera_A.default', A]]))).toThrow(/unknown tensor/);
    inst.detach();
    expect(m.adapters.size).toBe(0);
  });
});

describe('VeRA settings and counts', () => {
  it('names the setting', () => {
    const v = (o: Partial<PeftConfig>) => vera.validate(cfgOf(o), mcfg).join('\n');
    expect(v({})).toBe('');
    expect(v({ r: 256 })).toBe(''); // VeRA ranks may exceed the layer sizes
    expect(v({ r: 0 })).toMatch(/^r: VeRA rank must be a positive integer, got 0/);
    expect(v({ targets: [] })).toMatch(/^targets: choose at least one target module/);
    expect(v({ dropout: 1 })).toMatch(/^dropout: must be in \[0, 1\)/);
  });
  it('trainableCount equals the tensors attach() allocates (the frozen projections are not trainable)', async () => {
    for (const cfg of [cfgOf(), cfgOf({ r: 256, targets: ['k_proj', 'down_proj'] })]) {
      const inst = await vera.attach(newModel(), cfg);
      expect(inst.params.reduce((n, p) => n + p.tensor.size, 0)).toBe(vera.trainableCount(cfg, mcfg));
      inst.detach();
    }
  });
});
