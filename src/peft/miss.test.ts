// MiSS: ranks that do not divide the input size (PEFT zero-pads the last chunk), the merged
// weight against PEFT's layout by hand, forward and gradient against that merged weight, settings.
import { describe, expect, it } from 'vitest';
import { miss, missMerge } from './miss.ts';
import { defaultPeftConfig } from './registry.ts';
import { adapterPass, denseForwardErr, denseInputGradErr, mcfg, newModel, rnd } from './testing.ts';
import type { PeftConfig } from './types.ts';

const cfgOf = (r: number, over: Partial<PeftConfig> = {}): PeftConfig => ({ ...defaultPeftConfig('miss'), r, dropout: 0, ...over });

describe('MiSS merge (PEFT get_delta_weight_miss)', () => {
  it('tiles Dᵀ along the input, the last tile cut to in mod r', () => {
    // out = 2, in = 5, r = 2: D (r × out) = [[1, 2], [3, 4]], ΔW[o, i] = D[i mod 2, o].
    const m = missMerge(new Float32Array(10), Float32Array.of(1, 2, 3, 4), 2, 5, 2);
    expect(Array.from(m)).toEqual([1, 3, 1, 3, 1, 2, 4, 2, 4, 2]);
  });
});

describe('MiSS layer', () => {
  for (const r of [4, 3, 5]) {
    it(`r = ${r}: forward equals x·W_mergedᵀ + b and dD = x̄ᵀ·dout on every target (in mod r = ${64 % r}, ${128 % r})`, async () => {
      const m = newModel(), be = m.backend;
      const inst = await miss.attach(m, cfgOf(r));
      inst.load(new Map(inst.params.map((p, i) => [p.name, rnd(p.tensor.size, i + 1)])));
      const merged = await inst.merged();
      const N = 3;
      for (const [base, ad] of m.adapters) {
        const W = merged.get(`${base}.weight`)!, bias = m.params.get(`${base}.bias`);
        const b = bias ? await be.read(bias) : null;
        const D = inst.params.find((p) => p.name === `base_model.model.${base}.miss_block.default`)!;
        const outF = D.shape[1], inF = W.length / outF;
        const xs = rnd(N * inF, 7), ds = rnd(N * outF, 9);
        const { y, dinp } = await adapterPass(m, inst, ad, xs, ds, N, inF, outF);
        const gD = await be.read(D.grad);
        expect(denseForwardErr(y, W, b, xs, N, inF, outF), base).toBeLessThan(1e-6);
        // dD[j, o] = Σ_n x̄[n, j] dout[n, o]; dx = dout · W_merged.
        let num = 0, den = 0;
        for (let j = 0; j < r; j++) for (let o = 0; o < outF; o++) {
          let s = 0;
          for (let n = 0; n < N; n++) {
            let xb = 0;
            for (let i = j; i < inF; i += r) xb += xs[n * inF + i];
            s += xb * ds[n * outF + o];
          }
          num += (gD[j * outF + o] - s) ** 2;
          den += s * s;
        }
        expect(Math.sqrt(num / den), base).toBeLessThan(1e-6);
        expect(denseInputGradErr(dinp!, W, ds, N, inF, outF), base).toBeLessThan(1e-6);
      }
      inst.detach();
      expect(m.adapters.size).toBe(0);
    });
  }
});

describe('MiSS settings and counts', () => {
  it('names the setting; like PEFT, a rank that does not divide the input is fine', () => {
    const v = (r: number, over: Partial<PeftConfig> = {}) => miss.validate(cfgOf(r, over), mcfg).join('\n');
    expect(v(4)).toBe('');
    expect(v(3)).toBe('');
    expect(v(0)).toMatch(/^r: MiSS rank must be a positive integer, got 0/);
    expect(v(2.5)).toMatch(/^r: MiSS rank must be a positive integer/);
    expect(v(65)).toMatch(/^r: MiSS rank 65 exceeds q_proj's input size 64/m);
    expect(v(65, { targets: ['down_proj'] })).toBe('');
    expect(v(4, { targets: ['bogus' as never] })).toMatch(/^targets: unknown target module "bogus"/m);
  });
  it('trainableCount equals the tensors attach() allocates, in PEFT\'s (r, out) layout', async () => {
    for (const cfg of [cfgOf(4), cfgOf(3, { targets: ['k_proj', 'down_proj'] })]) {
      const inst = await miss.attach(newModel(), cfg);
      expect(inst.params.reduce((n, p) => n + p.tensor.size, 0)).toBe(miss.trainableCount(cfg, mcfg));
      expect(inst.params[0].shape).toEqual([cfg.r, cfg.targets.includes('q_proj') ? 64 : 32]);
      inst.detach();
    }
  });
  it('load rejects unknown names and wrong sizes, naming the tensor, before setting anything', async () => {
    const inst = await miss.attach(newModel(), cfgOf(4));
    const name = inst.params[0].name;
    expect(() => inst.load(new Map([[name, new Float32Array(3)]]))).toThrow(new RegExp(`${name.replace(/\./g, '\\.')}: got 3 values, expected 256`));
    expect(() => inst.load(new Map([['base_model.model.x.miss_block.default', new Float32Array(3)]]))).toThrow(/unknown tensor "base_model\.model\.x\.miss_block\.default"/);
    // Nothing is set unless everything checks out.
    expect(() => inst.load(new Map([[name, new Float32Array(256).fill(1)], ['bogus', new Float32Array(1)]]))).toThrow(/unknown tensor "bogus"/);
    expect((await inst.snapshot()).get(name)!.every((v) => v === 0)).toBe(true);
    inst.detach();
  });
});
