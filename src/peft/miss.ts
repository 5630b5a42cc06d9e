// MiSS (Kang et al., "Balancing LoRA Performance and Efficiency with Simple Shard Sharing"; Bone in
// older PEFT) as HF PEFT's MissLinear in its default ("balance") form: one trainable block
// D (r × out), zero-initialised, no scaling. The input x (length in) is zero-padded to a multiple of
// r and split into contiguous chunks of r, the chunks summed to x̄ (r), and y = W₀x + b + x̄ D.
// Equivalently W = W₀ + ΔW with ΔW[o, k·r + j] = D[j, o] (Dᵀ tiled along the input, the last tile
// cut to in mod r), which is what merge_and_unload() writes. PEFT requires r > 0 only: r need not
// divide in (the "bat" variant, which needs r | in and r | out, is not implemented here).
import type { Tensor } from '../engine/backend.ts';
import type { ModelConfig } from '../model/config.ts';
import { PROJS } from '../model/model.ts';
import { linearDims, peftName, savedName, sites, validateCommon } from './common.ts';
import { fail, nonNeg, num, posInt, targets, unsupported } from './hf_config.ts';
import { attachAdapters, baseOf, type AdapterRuntime } from './runtime.ts';
import { NOT_LORA } from './trl_verl.ts';
import type { HfMapping, MethodDefaults, MethodSpec, PeftConfig, PeftInstance, SettingSpec } from './types.ts';

const SETTINGS: SettingSpec[] = [
  { key: 'r', label: 'rank', kind: 'int', min: 1, max: 1024, help: 'chunk length r: the input is folded into r sums; D is r × out' },
  { key: 'dropout', label: 'dropout', kind: 'float', min: 0, max: 0.9, help: 'dropout on the adapter input (0 allowed)' },
  { key: 'targets', label: 'target modules', kind: 'targets', help: 'linear layers that get a MiSS block' },
];

const DEFAULTS: MethodDefaults = { study: { lr: 1e-3 }, page: { lr: 1e-2 } };

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

/** W₀ + ΔW for one layer: W (out × in), D (r × out). */
export function missMerge(w: Float32Array, d: Float32Array, r: number, inF: number, outF: number): Float32Array {
  const m = Float32Array.from(w);
  for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) m[o * inF + i] += d[(i % r) * outF + o];
  return m;
}

function build(rt: AdapterRuntime): PeftInstance {
  const { be, model, cfg } = rt, r = cfg.r;
  // The merge's tiling P (r × in): P[j, i] = 1 where i mod r = j, so (Dᵀ·P)[o, i] = D[i mod r, o] = ΔW[o, i].
  const tiles = new Map<number, Tensor>();
  for (const { inF } of sites(model.cfg, cfg.targets)) {
    if (tiles.has(inF)) continue;
    const P = new Float32Array(r * inF);
    for (let i = 0; i < inF; i++) P[(i % r) * inF + i] = 1;
    const t = rt.alloc(`miss.tile[${inF}]`, r * inF);
    be.upload(t, P);
    tiles.set(inF, t);
  }
  const list = sites(model.cfg, cfg.targets).map((site, index) => {
    const { inF, outF } = site;
    const D = rt.param(peftName(site.base, 'miss_block.default'), [r, outF], new Float32Array(r * outF));
    const acts = rt.acts(site.base, []); // only the dropout seed of each forward (x̄ is cheap to recompute)
    const { w, bias } = baseOf(model, site);
    const tile = tiles.get(inF)!;
    rt.install(site.base, {
      forward(out, inp, N) {
        be.matmulForward(out, inp, w, bias, N, inF, outF);
        const seed = acts.take(inp, N, rt.forwardSeed(index)).seed, xb = rt.scratch('xbar', N * r);
        be.chunkSum(xb, rt.drop(inp, N * inF, seed), N, inF, r);
        be.matmulBackwardInput(out, xb, D.tensor, N, outF, r, true); // out += x̄ · D
      },
      backward(dinp, dout, inp, N, accumulate) {
        const seed = acts.find(inp, N)?.seed ?? -1;
        const xb = rt.scratch('xbar', N * r), gx = rt.scratch('dxbar', N * r);
        be.chunkSum(xb, rt.drop(inp, N * inF, seed), N, inF, r); // x̄ again: cheaper than keeping it per layer
        be.matmulBackwardWeight(D.grad, xb, dout, N, outF, r); // dD += x̄ᵀ · dout
        be.matmulForward(gx, dout, D.tensor, null, N, outF, r); // dx̄ = dout · Dᵀ
        be.matmulBackwardInput(dinp, dout, w, N, inF, outF, accumulate);
        rt.addInputGrad(dinp, N * inF, seed, (g, acc) => be.chunkSumBackward(g, gx, N, inF, r, acc));
      },
    }, {
      weight(dst) {
        be.copy(dst, w, outF * inF);
        be.matmulBackwardWeight(dst, D.tensor, tile, r, inF, outF); // W′ = W + Dᵀ·P: one term per entry, exact
      },
    });
    return { site, D, w };
  });

  return rt.instance(list.map((s) => s.D), {
    /** On the host: the reference the merge rules are tested against. */
    async merged() {
      const out = new Map<string, Float32Array>();
      for (const { site: { inF, outF, base }, D, w: W } of list) {
        const [w, d] = await Promise.all([be.read(W), be.read(D.tensor)]);
        out.set(`${base}.weight`, missMerge(w, d, r, inF, outF));
      }
      return out;
    },
  });
}

// PEFT's MissConfig; Bone's (its older name) is read too.
const HF: HfMapping = {
  write: (cfg) => ({ peft_type: 'MISS', r: cfg.r, miss_dropout: cfg.dropout, mini_r: 1, target_modules: [...cfg.targets], exclude_modules: null,
    init_weights: true, layers_to_transform: null, layers_pattern: null, bias: 'none', modules_to_save: null }),
  read: {
    types: ['MISS', 'BONE'],
    settings(json, type) {
      unsupported(json, ['modules_to_save', 'layers_to_transform', 'exclude_modules']);
      const init = json.init_weights ?? true;
      if (init !== true) fail('init_weights', `${JSON.stringify(init)} (a MiSS variant other than the default) is not supported`);
      return { method: 'miss', r: num(json, 'r', 64, posInt, 'a positive integer'), dropout: num(json, type === 'MISS' ? 'miss_dropout' : 'bone_dropout', 0, nonNeg),
        targets: targets(json, ['q_proj', 'v_proj']) };
    },
  },
  // miss_block (r, out).
  shapes(cfg, model) {
    const out = new Map<string, number[]>();
    for (const { base, outF } of sites(model, cfg.targets)) out.set(savedName(peftName(base, 'miss_block.default'))!, [cfg.r, outF]);
    return out;
  },
};

export const miss: MethodSpec = {
  id: 'miss',
  name: 'MiSS',
  description: 'One shared r × out block per layer applied to the input folded into r-sized chunk sums (Bone)',
  paper: 'https://arxiv.org/abs/2409.15371',
  settings: SETTINGS,
  defaults: DEFAULTS,
  validate,
  trainableCount,
  hf: HF,
  trlVerl: NOT_LORA,
  attach: (model, cfg) => attachAdapters(miss, model, cfg, build),
};
