// MiSS (Kang et al., "Balancing LoRA Performance and Efficiency with Simple Shard Sharing"; Bone in
// older PEFT) as HF PEFT's MissLinear in its default ("balance") form: one trainable block
// D (r × out), zero-initialised, no scaling. The input x (length in) is zero-padded to a multiple of
// r and split into contiguous chunks of r, the chunks summed to x̄ (r), and y = W₀x + b + x̄ D.
// Equivalently W = W₀ + ΔW with ΔW[o, k·r + j] = D[j, o] (Dᵀ tiled along the input, the last tile
// cut to in mod r), which is what merge_and_unload() writes. PEFT requires r > 0 only: r need not
// divide in (the "bat" variant, which needs r | in and r | out, is not implemented here).
import type { ModelConfig } from '../model/config.ts';
import { PROJS, type LinearAdapter, type Model } from '../model/model.ts';
import { baseOf, checkSize, Grow, InputDropout, safeFree } from './adalora.ts';
import { linearDims, peftName, sites, trainable, validateCommon, type Site } from './common.ts';
import type { MethodSpec, PeftConfig, PeftInstance, SettingSpec, TrainableParam } from './types.ts';

const SETTINGS: SettingSpec[] = [
  { key: 'r', label: 'rank', kind: 'int', min: 1, max: 1024, help: 'chunk length r: the input is folded into r sums; D is r × out' },
  { key: 'dropout', label: 'dropout', kind: 'float', min: 0, max: 0.9, help: 'dropout on the adapter input (0 allowed)' },
  { key: 'targets', label: 'target modules', kind: 'targets', help: 'linear layers that get a MiSS block' },
];

function validate(cfg: PeftConfig, model: ModelConfig): string[] {
  const e = validateCommon(cfg, model, { rank: false });
  if (!Number.isInteger(cfg.r) || cfg.r < 1) {
    e.push(`r: MiSS rank must be a positive integer, got ${cfg.r}`);
    return e;
  }
  for (const t of new Set(cfg.targets.filter((x) => PROJS.includes(x)))) {
    const { inF } = linearDims(model, t);
    if (cfg.r > inF) e.push(`r: MiSS rank ${cfg.r} exceeds ${t}'s input size ${inF} (the input is folded into chunks of r)`);
  }
  return e;
}

function trainableCount(cfg: PeftConfig, model: ModelConfig): number {
  return sites(model, cfg.targets).reduce((n, s) => n + cfg.r * s.outF, 0);
}

interface MissSite {
  site: Site;
  D: TrainableParam;
  seed: number;
}

/** W₀ + ΔW for one layer: W (out × in), D (r × out). */
export function missMerge(w: Float32Array, d: Float32Array, r: number, inF: number, outF: number): Float32Array {
  const m = Float32Array.from(w);
  for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) m[o * inF + i] += d[(i % r) * outF + o];
  return m;
}

async function attach(model: Model, cfg: PeftConfig): Promise<PeftInstance> {
  const errors = validate(cfg, model.cfg);
  if (errors.length) throw new Error(`MiSS: ${errors.join('; ')}`);
  const be = model.backend, r = cfg.r;
  model.setTrainable([]);
  const drop = new InputDropout(be, cfg.dropout, cfg.seed, 'miss');
  const xbar = new Grow(be, 'miss.xbar'), dxbar = new Grow(be, 'miss.dxbar');
  const list: MissSite[] = [];
  const byName = new Map<string, TrainableParam>();
  for (const site of sites(model.cfg, cfg.targets)) {
    const { inF, outF } = site;
    const D = trainable(be, peftName(site.base, 'miss_block.default'), [r, outF], new Float32Array(r * outF));
    const s: MissSite = { site, D, seed: 0 };
    list.push(s);
    byName.set(D.name, D);
    const { w, bias } = baseOf(model, site);
    const adapter: LinearAdapter = {
      forward(out, inp, N) {
        be.matmulForward(out, inp, w, bias, N, inF, outF);
        if (drop.p > 0) s.seed = drop.nextSeed();
        const xb = xbar.get(N * r);
        be.chunkSum(xb, drop.apply(inp, N * inF, s.seed), N, inF, r);
        be.matmulBackwardInput(out, xb, D.tensor, N, outF, r, true); // out += x̄ · D
      },
      backward(dinp, dout, inp, N, accumulate) {
        const xb = xbar.get(N * r), gx = dxbar.get(N * r);
        be.chunkSum(xb, drop.apply(inp, N * inF, s.seed), N, inF, r); // x̄ again: cheaper than keeping it per layer
        be.matmulBackwardWeight(D.grad, xb, dout, N, outF, r); // dD += x̄ᵀ · dout
        be.matmulForward(gx, dout, D.tensor, null, N, outF, r); // dx̄ = dout · Dᵀ
        be.matmulBackwardInput(dinp, dout, w, N, inF, outF, accumulate);
        drop.addInputGrad(dinp, N * inF, s.seed, (g, acc) => be.chunkSumBackward(g, gx, N, inF, r, acc));
      },
    };
    model.adapters.set(site.base, adapter);
  }
  const params = list.map((s) => s.D);

  return {
    config: cfg,
    params,
    zeroGrads() {
      for (const p of params) be.zero(p.grad);
    },
    async merged() {
      const out = new Map<string, Float32Array>();
      for (const s of list) {
        const { inF, outF, base } = s.site;
        const [w, d] = await Promise.all([be.read(model.p(`${base}.weight`)), be.read(s.D.tensor)]);
        out.set(`${base}.weight`, missMerge(w, d, r, inF, outF));
      }
      return out;
    },
    async snapshot() {
      const out = new Map<string, Float32Array>();
      for (const p of params) out.set(p.name, await be.read(p.tensor));
      return out;
    },
    load(tensors) {
      for (const [name, data] of tensors) {
        const p = byName.get(name);
        if (!p) throw new Error(`MiSS: unknown tensor "${name}"`);
        checkSize(name, data, p.tensor.size);
        be.upload(p.tensor, data);
      }
    },
    detach() {
      for (const s of list) {
        model.adapters.delete(s.site.base);
        safeFree(be, s.D.tensor);
        be.free(s.D.grad);
      }
      for (const g of [drop, xbar, dxbar]) g.free();
      model.setTrainable(model.params.keys());
    },
  };
}

export const miss: MethodSpec = {
  id: 'miss',
  name: 'MiSS',
  description: 'One shared r × out block per layer applied to the input folded into r-sized chunk sums (Bone)',
  paper: 'https://arxiv.org/abs/2409.15371',
  settings: SETTINGS,
  validate,
  trainableCount,
  deterministicInit: /\.miss_block\.default$/,
  attach,
};
