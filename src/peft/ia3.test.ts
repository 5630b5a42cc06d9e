// IA³: output scaling (bias included) for attention targets, input scaling for feed-forward ones,
// both against the merged weight and against hand-derived gradients; shapes, settings, counts.
import { describe, expect, it } from 'vitest';
import { ia3 } from './ia3.ts';
import { defaultPeftConfig } from './registry.ts';
import { adapterPass, mcfg, newModel, rnd } from './testing.ts';
import type { PeftConfig } from './types.ts';

const cfgOf = (over: Partial<PeftConfig> = {}): PeftConfig => ({ ...defaultPeftConfig('ia3'), ...over });
const rel = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / den);
};

describe('IA³ layer', () => {
  it('defaults to PEFT\'s Qwen2/Llama targets k, v, down (down scales its input); l starts at 1 in PEFT\'s shapes', async () => {
    const cfg = cfgOf();
    expect(cfg.targets).toEqual(['k_proj', 'v_proj', 'down_proj']);
    const inst = await ia3.attach(newModel(), cfg);
    const shapes = Object.fromEntries(inst.params.filter((p) => p.name.includes('layers.0.')).map((p) => [p.name.split('.').at(-3), p.shape]));
    expect(shapes).toEqual({ k_proj: [32, 1], v_proj: [32, 1], down_proj: [1, 128] });
    for (const t of (await inst.snapshot()).values()) expect(t.every((v) => v === 1)).toBe(true);
    inst.detach();
  });

  for (const ff of [['down_proj'], ['down_proj', 'up_proj']] as const) {
    it(`every target (feed-forward: ${ff.join(', ')}): forward = x·W_mergedᵀ + b_merged; dl and dx by hand`, async () => {
      const m = newModel(), be = m.backend;
      const inst = await ia3.attach(m, cfgOf({ targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], ia3FeedForward: [...ff] }));
      inst.load(new Map(inst.params.map((p, i) => [p.name, rnd(p.tensor.size, i + 1).map((v) => 1 + v)])));
      const merged = await inst.merged();
      const N = 3;
      for (const [base, ad] of m.adapters) {
        const p = inst.params.find((q) => q.name === `base_model.model.${base}.ia3_l.default`)!;
        const isFF = p.shape[0] === 1, W0 = await be.read(m.p(`${base}.weight`)), W = merged.get(`${base}.weight`)!;
        const bias = m.params.get(`${base}.bias`), b0 = bias ? await be.read(bias) : null, b = merged.get(`${base}.bias`) ?? b0;
        expect(merged.has(`${base}.bias`)).toBe(!!bias && !isFF);
        const l = await be.read(p.tensor);
        const outF = isFF ? W.length / l.length : l.length, inF = W.length / outF;
        const xs = rnd(N * inF, 5), ds = rnd(N * outF, 6);
        const { y, dinp } = await adapterPass(m, inst, ad, xs, ds, N, inF, outF);
        const yWant = new Float64Array(N * outF), dxWant = new Float64Array(N * inF), dlWant = new Float64Array(l.length);
        for (let n = 0; n < N; n++) for (let o = 0; o < outF; o++) {
          let s = b ? b[o] : 0, base0 = b0 ? b0[o] : 0;
          for (let i = 0; i < inF; i++) {
            s += W[o * inF + i] * xs[n * inF + i];
            base0 += W0[o * inF + i] * xs[n * inF + i] * (isFF ? l[i] : 1);
            dxWant[n * inF + i] += ds[n * outF + o] * W[o * inF + i];
            if (isFF) dlWant[i] += ds[n * outF + o] * W0[o * inF + i] * xs[n * inF + i];
          }
          yWant[n * outF + o] = s;
          if (!isFF) dlWant[o] += ds[n * outF + o] * base0; // d(l ⊙ (Wx + b))/dl
        }
        expect(rel(y, yWant), base).toBeLessThan(1e-6);
        expect(rel(dinp!, dxWant), base).toBeLessThan(1e-6);
        expect(rel(await be.read(p.grad), dlWant), base).toBeLessThan(1e-6);
      }
      inst.detach();
    });
  }
});

describe('IA³ settings and counts', () => {
  it('feed-forward modules must be among the targets; the setting is named', () => {
    const v = (o: Partial<PeftConfig>) => ia3.validate(cfgOf(o), mcfg).join('\n');
    expect(v({})).toBe('');
    expect(v({ ia3FeedForward: ['down_proj', 'up_proj'] })).toMatch(/^ia3FeedForward: "up_proj" is not among the targets/);
    expect(v({ targets: ['k_proj', 'w_proj' as never] })).toMatch(/^targets: unknown target module "w_proj"/m);
  });
  it('trainableCount equals the tensors attach() allocates', async () => {
    for (const cfg of [cfgOf(), cfgOf({ targets: ['q_proj', 'up_proj', 'down_proj'], ia3FeedForward: ['up_proj', 'down_proj'] })]) {
      const inst = await ia3.attach(newModel(), cfg);
      expect(inst.params.reduce((n, p) => n + p.tensor.size, 0)).toBe(ia3.trainableCount(cfg, mcfg));
      inst.detach();
    }
  });
});
