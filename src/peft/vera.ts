// VeRA (Kopiczko et al., ICLR 2024) as HF PEFT's vera layer: y = W₀x + b + λ_b ⊙ B(λ_d ⊙ (A x)).
// A (r × in_max) and B (out_max × r) are frozen, random and shared by every adapted layer (each
// slices A[:, :in] and B[:out, :]); in_max / out_max are the largest in / out sizes among the
// targets. PEFT draws them with `_kaiming_init` from torch.Generator(projection_prng_key):
// U(−√(6/fan_in), √(6/fan_in)) with fan_in = A's in_max and B's r. torch's generator cannot be
// reproduced here, so the lab draws the same distribution from its own seeded generator and
// load() accepts PEFT's saved projections (`base_model.vera_A.default`, or a layer's
// `…vera_A.default` alias of the same tensor). Trainable: λ_d (r, init d_initial), λ_b (out, init 0).
import type { Tensor } from '../engine/backend.ts';
import type { ModelConfig } from '../model/config.ts';
import { Rng } from '../tasks/rng.ts';
import { peftName, savedName, sites, validateCommon, type Site } from './common.ts';
import { nonNeg, num, posInt, targets, unsupported } from './hf_config.ts';
import { attachAdapters, baseOf, type AdapterRuntime } from './runtime.ts';
import { NOT_LORA } from './trl_verl.ts';
import type { HfMapping, MethodDefaults, MethodSpec, PeftConfig, PeftInstance, SettingSpec, TrainableParam } from './types.ts';

const SHARED_A = 'base_model.vera_A.default';
const SHARED_B = 'base_model.vera_B.default';

const SETTINGS: SettingSpec[] = [
  { key: 'r', label: 'rank', kind: 'int', min: 1, max: 4096, help: 'rows of the shared random projection A (VeRA ranks are large: the paper uses 256–1024)' },
  { key: 'dropout', label: 'dropout', kind: 'float', min: 0, max: 0.9, help: 'dropout on the adapter input (0 allowed)' },
  { key: 'targets', label: 'target modules', kind: 'targets', help: 'linear layers that get λ_d, λ_b' },
  { key: 'vera.dInitial', label: 'initial λ_d', kind: 'float', min: 0, max: 10, help: 'd_initial: every λ_d entry starts here (λ_b starts at 0)' },
  { key: 'vera.seed', label: 'projection seed', kind: 'int', min: 0, max: 2 ** 31 - 1, help: 'projection_prng_key: seed of the shared frozen A and B' },
];

/** VeRA's own settings, in every config: initial λ_d (PEFT's d_initial) and the projections' seed. */
export const VERA_DEFAULTS: PeftConfig['vera'] = { dInitial: 0.1, seed: 0 };

// VeRA ranks are large: the study's 256 (PEFT's default); the page's tiny model takes 64.
const DEFAULTS: MethodDefaults = { peft: { r: 256 }, study: { lr: 1e-3 }, page: { lr: 3e-2, peft: { r: 64 } } };

function validate(cfg: PeftConfig, model: ModelConfig): string[] {
  const e = validateCommon(cfg, model, { rank: false });
  if (!Number.isInteger(cfg.r) || cfg.r < 1) e.push(`r: VeRA rank must be a positive integer, got ${cfg.r}`);
  if (!Number.isFinite(cfg.vera.dInitial)) e.push(`vera.dInitial: must be a finite number, got ${cfg.vera.dInitial}`);
  if (!Number.isSafeInteger(cfg.vera.seed)) e.push(`vera.seed: must be an integer, got ${cfg.vera.seed}`);
  return e;
}

function trainableCount(cfg: PeftConfig, model: ModelConfig): number {
  return sites(model, cfg.targets).reduce((n, s) => n + cfg.r + s.outF, 0);
}

/** The shared projections' sizes: the largest in and out among the targets (PEFT's _find_dim). */
export function veraDims(cfg: PeftConfig, model: ModelConfig): { inMax: number; outMax: number } {
  const ss = sites(model, cfg.targets);
  return { inMax: Math.max(...ss.map((s) => s.inF)), outMax: Math.max(...ss.map((s) => s.outF)) };
}

/** A (r × inMax) then B (outMax × r) from one generator seeded with `seed`, each U(±√(6/fan_in)). */
export function veraProjections(seed: number, r: number, inMax: number, outMax: number): { A: Float32Array; B: Float32Array } {
  const rng = new Rng(`vera:${seed}`);
  const draw = (n: number, fanIn: number) => {
    const bound = Math.sqrt(6 / fanIn);
    return Float32Array.from({ length: n }, () => (2 * rng.next() - 1) * bound);
  };
  const A = draw(r * inMax, inMax);
  return { A, B: draw(outMax * r, r) };
}

interface VeraSite {
  site: Site;
  ld: TrainableParam;
  lb: TrainableParam;
  /** The base weight. */
  w: Tensor;
}

function build(rt: AdapterRuntime): PeftInstance {
  const { be, model, cfg } = rt, r = cfg.r;
  const { inMax, outMax } = veraDims(cfg, model.cfg);
  const proj = veraProjections(cfg.vera.seed, r, inMax, outMax);
  const A = rt.alloc(SHARED_A, r * inMax), B = rt.alloc(SHARED_B, outMax * r);
  // Contiguous slices A[:, :in] (r × in) and B[:out, :] (out × r), one per distinct size.
  const aSlices = new Map<number, Tensor>(), bSlices = new Map<number, Tensor>();
  const setProjections = (a: Float32Array, b: Float32Array) => {
    be.upload(A, a);
    be.upload(B, b);
    for (const [inF, t] of aSlices) for (let k = 0; k < r; k++) be.copy(t, A, inF, k * inF, k * inMax);
    for (const [outF, t] of bSlices) be.copy(t, B, outF * r);
  };
  const list: VeraSite[] = [];
  for (const [index, site] of sites(model.cfg, cfg.targets).entries()) {
    const { inF, outF } = site;
    if (!aSlices.has(inF)) aSlices.set(inF, rt.alloc(`vera_A[:, :${inF}]`, r * inF));
    if (!bSlices.has(outF)) bSlices.set(outF, rt.alloc(`vera_B[:${outF}]`, outF * r));
    const As = aSlices.get(inF)!, Bs = bSlices.get(outF)!;
    const lb = rt.param(peftName(site.base, 'vera_lambda_b.default'), [outF], new Float32Array(outF));
    const ld = rt.param(peftName(site.base, 'vera_lambda_d.default'), [r], new Float32Array(r).fill(cfg.vera.dInitial));
    const { w, bias } = baseOf(model, site);
    list.push({ site, ld, lb, w });
    const acts = rt.acts(site.base, [r, r]); // xa = x̃·Aᵀ and xd = λ_d ⊙ xa (N × r each)
    const lowRank = (xa: Tensor, xd: Tensor, x: Tensor, N: number) => {
      be.matmulForward(xa, x, As, null, N, inF, r);
      be.scaleCols(xd, xa, ld.tensor, null, N, r, false);
    };
    rt.install(site.base, {
      forward(out, inp, N) {
        be.matmulForward(out, inp, w, bias, N, inF, outF);
        const slot = acts.take(inp, N, rt.forwardSeed(index));
        const [xa, xd] = slot.bufs, y = rt.scratch('xb', N * outF);
        lowRank(xa, xd, rt.drop(inp, N * inF, slot.seed), N);
        be.matmulForward(y, xd, Bs, null, N, r, outF);
        be.scaleCols(out, y, lb.tensor, null, N, outF, true);
      },
      backward(dinp, dout, inp, N, accumulate) {
        const slot = acts.find(inp, N), seed = slot?.seed ?? -1;
        let [xa, xd] = slot?.bufs ?? [];
        if (!slot) lowRank((xa = rt.scratch('xa', N * r)), (xd = rt.scratch('xd', N * r)), inp, N);
        const y = rt.scratch('xb', N * outF), gd = rt.scratch('dxd', N * r), ga = rt.scratch('dxa', N * r);
        be.matmulForward(y, xd, Bs, null, N, r, outF); // B(λ_d ⊙ Ax) again rather than kept per layer
        be.scaleColsBackward(lb.grad, dout, y, N, outF);
        be.scaleCols(y, dout, lb.tensor, null, N, outF, false); // y is now d(B·xd)
        be.matmulBackwardInput(gd, y, Bs, N, r, outF, false);
        be.scaleColsBackward(ld.grad, gd, xa, N, r);
        be.scaleCols(ga, gd, ld.tensor, null, N, r, false);
        be.matmulBackwardInput(dinp, dout, w, N, inF, outF, accumulate);
        rt.addInputGrad(dinp, N * inF, seed, (g, acc) => be.matmulBackwardInput(g, ga, As, N, inF, r, acc));
      },
    }, {
      // W′ = W + (B ⊙ λ_b λ_dᵀ)·A: the r-wide factor scaled by columns (λ_d), then rows (λ_b); one matmul.
      weight(dst) {
        const bd = rt.scratch('mergeBd', outF * r), bdb = rt.scratch('mergeB', outF * r);
        be.scaleCols(bd, Bs, ld.tensor, null, outF, r, false);
        rt.scaleRows(bdb, bd, lb.tensor, outF, r);
        be.copy(dst, w, outF * inF);
        be.matmulBackwardInput(dst, bdb, As, outF, inF, r, true);
      },
    });
  }
  setProjections(proj.A, proj.B);

  return rt.instance(list.flatMap((s) => [s.lb, s.ld]), {
    async merged() {
      // W + (B ⊙ λ_b λ_dᵀ)·A with the r-wide factor scaled on the host (in float64), then one matmul
      // on the backend: the reference the merge rules are tested against.
      const out = new Map<string, Float32Array>();
      const b = await be.read(B);
      for (const s of list) {
        const { inF, outF, base } = s.site;
        const [ld, lb] = [await be.read(s.ld.tensor), await be.read(s.lb.tensor)];
        const scaled = new Float32Array(outF * r);
        for (let o = 0; o < outF; o++) for (let k = 0; k < r; k++) scaled[o * r + k] = b[o * r + k] * lb[o] * ld[k];
        const Bs = rt.scratch('mergeB', outF * r), V = rt.scratch('merged', outF * inF);
        be.upload(Bs, scaled);
        be.matmulBackwardInput(V, Bs, aSlices.get(inF)!, outF, inF, r, false);
        be.add(V, V, s.w, outF * inF);
        out.set(`${base}.weight`, (await be.read(V)).slice(0, outF * inF));
      }
      return out;
    },
    async snapshot() {
      const out = await rt.snapshot();
      out.set(SHARED_A, await be.read(A));
      out.set(SHARED_B, await be.read(B));
      return out;
    },
    load(tensors) {
      // The shared projections: PEFT saves them once (base_model.vera_A.default) and its state dict
      // also lists each layer's reference to the same tensor (…q_proj.vera_A.default).
      const aliases = (t: string) => new Set([`base_model.${t}.default`, ...list.map((s) => peftName(s.site.base, `${t}.default`))]);
      const aNames = aliases('vera_A'), bNames = aliases('vera_B');
      let changed = false;
      rt.load(tensors, (name) => {
        if (aNames.has(name)) return { size: r * inMax, set: (d) => ((proj.A = d), (changed = true)) };
        if (bNames.has(name)) return { size: outMax * r, set: (d) => ((proj.B = d), (changed = true)) };
        return undefined;
      });
      if (changed) setProjections(proj.A, proj.B);
    },
  });
}

const HF: HfMapping = {
  write: (cfg) => ({ peft_type: 'VERA', r: cfg.r, target_modules: [...cfg.targets], projection_prng_key: cfg.vera.seed, save_projection: true,
    vera_dropout: cfg.dropout, d_initial: cfg.vera.dInitial, fan_in_fan_out: false, bias: 'none', modules_to_save: null,
    init_weights: true, layers_to_transform: null, layers_pattern: null }),
  read: {
    types: ['VERA'],
    settings(json) {
      unsupported(json, ['fan_in_fan_out', 'modules_to_save', 'layers_to_transform']);
      return { method: 'vera', r: num(json, 'r', 256, posInt, 'a positive integer'), dropout: num(json, 'vera_dropout', 0, nonNeg),
        targets: targets(json, ['q_proj', 'v_proj']),
        vera: { dInitial: num(json, 'd_initial', 0.1), seed: num(json, 'projection_prng_key', 0, Number.isSafeInteger, 'an integer') } };
    },
  },
  // vera_lambda_b (out), vera_lambda_d (r) per layer, and the shared base_model.vera_A (r, in_max), base_model.vera_B (out_max, r).
  shapes(cfg, model) {
    const out = new Map<string, number[]>(), r = cfg.r;
    for (const { base, outF } of sites(model, cfg.targets)) {
      const n = (t: string) => savedName(peftName(base, `${t}.default`))!;
      out.set(n('vera_lambda_b'), [outF]).set(n('vera_lambda_d'), [r]);
    }
    const { inMax, outMax } = veraDims(cfg, model);
    return out.set(savedName(SHARED_A)!, [r, inMax]).set(savedName(SHARED_B)!, [outMax, r]);
  },
  // The shared projections are frozen buffers, not params, kept flat: PEFT's (r, in_max) and (out_max, r).
  bufferShape(cfg, saved, length) {
    const r = cfg.r;
    return saved === savedName(SHARED_A) ? [r, length / r] : saved === savedName(SHARED_B) ? [length / r, r] : undefined;
  },
};

export const vera: MethodSpec = {
  id: 'vera',
  name: 'VeRA',
  description: 'Shared frozen random projections A, B; each layer trains only two scaling vectors λ_d and λ_b',
  paper: 'https://arxiv.org/abs/2310.11454',
  settings: SETTINGS,
  defaults: DEFAULTS,
  validate,
  trainableCount,
  hf: HF,
  trlVerl: NOT_LORA,
  attach: (model, cfg) => attachAdapters(vera, model, cfg, build),
};
