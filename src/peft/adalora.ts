// AdaLoRA (Zhang et al., ICLR 2023) as HF PEFT's SVDLinear: y = W₀x + b + s · B((A ⊙ E) x) with
// A (r×in), E (r×1) the "singular values", B (out×r) and s = lora_alpha / (ranknum + 1e-5), ranknum
// the initial rank r. Init A, B ~ N(0, 0.02²), E = 0. PEFT's training loss adds orth_reg_weight ×
// the mean over every adapted A and B (each counted once) of ‖AAᵀ − I‖_F / ‖BᵀB − I‖_F
// (`regularize`), and its RankAllocator masks the least important E entries to a budget
// (`afterStep`, adalora_alloc.ts; off by default, as in the study).
import type { Tensor } from '../engine/backend.ts';
import type { ModelConfig } from '../model/config.ts';
import { RankAllocator, type TripletState } from './adalora_alloc.ts';
import { peftName, savedName, siteRng, sites, validateCommon, type Site } from './common.ts';
import { fail, nonNeg, num, posInt, targets, unsupported } from './hf_config.ts';
import { LORA_UNSUPPORTED, loraFields } from './lora.ts';
import { attachAdapters, baseOf, type ActCache, type AdapterRuntime } from './runtime.ts';
import { verlNotLora } from './trl_verl.ts';
import type { HfMapping, MethodDefaults, MethodSpec, PeftConfig, PeftInstance, SettingSpec, TrainableParam, TrlVerl } from './types.ts';

interface AdaSite {
  site: Site;
  A: TrainableParam;
  B: TrainableParam;
  E: TrainableParam;
  /** xa = x̃·Aᵀ and xe = xa ⊙ E (N × r each), per input. */
  acts: ActCache;
}

const SETTINGS: SettingSpec[] = [
  { key: 'r', label: 'initial rank', kind: 'int', min: 1, max: 256, help: 'init_r: rank of every adapted matrix before any allocation' },
  { key: 'alpha', label: 'alpha', kind: 'float', min: 0, max: 1024, help: 'lora_alpha: scale s = alpha / (init_r + 1e-5)' },
  { key: 'dropout', label: 'dropout', kind: 'float', min: 0, max: 0.9, help: 'dropout on the adapter input (0 allowed)' },
  { key: 'targets', label: 'target modules', kind: 'targets', help: 'linear layers that get an adapter' },
  { key: 'adalora.orthRegWeight', label: 'orthogonality weight', kind: 'float', min: 0, max: 10, help: 'orth_reg_weight: weight of the ‖PPᵀ − I‖ regulariser added to the loss' },
  { key: 'adalora.allocate', label: 'rank allocation', kind: 'bool', help: 'run the importance-based rank allocator after each step (the study never called it)' },
  { key: 'adalora.targetR', label: 'target rank', kind: 'int', min: 1, max: 256, help: 'target_r: average rank left after allocation' },
  { key: 'adalora.tInit', label: 'warm-up steps', kind: 'int', min: 0, max: 100000, help: 'tinit: steps before the budget starts to shrink' },
  { key: 'adalora.tFinal', label: 'final steps', kind: 'int', min: 0, max: 100000, help: 'tfinal: last steps at the target budget, mask fixed' },
  { key: 'adalora.deltaT', label: 'allocation interval', kind: 'int', min: 1, max: 100000, help: 'deltaT: steps between two allocations' },
  { key: 'adalora.beta1', label: 'β1 (sensitivity EMA)', kind: 'float', min: 0, max: 1, help: 'smoothing of the importance |w·∇w|' },
  { key: 'adalora.beta2', label: 'β2 (uncertainty EMA)', kind: 'float', min: 0, max: 1, help: 'smoothing of the importance uncertainty' },
  { key: 'adalora.totalStep', label: 'total steps', kind: 'int', min: 1, max: 1000000, help: 'total_step: length of the budget schedule' },
];

/** AdaLoRA's own settings, in every config: the allocator's schedule, the regulariser's weight,
 * and whether the allocator runs at all (the study's runs never called it). */
export const ADALORA_DEFAULTS: PeftConfig['adalora'] = {
  targetR: 16, tInit: 10, tFinal: 20, deltaT: 5, beta1: 0.85, beta2: 0.85, orthRegWeight: 0.5, totalStep: 200, allocate: false,
};

const DEFAULTS: MethodDefaults = { study: { lr: 1e-3 }, page: { lr: 1e-2 } };

function validate(cfg: PeftConfig, model: ModelConfig): string[] {
  const e = validateCommon(cfg, model, { rank: true });
  const a = cfg.adalora;
  if (!Number.isInteger(a.targetR) || a.targetR < 1) e.push(`adalora.targetR: target rank must be a positive integer, got ${a.targetR}`);
  else if (a.targetR > cfg.r) e.push(`adalora.targetR: target rank ${a.targetR} exceeds the initial rank r = ${cfg.r}`);
  if (!(a.orthRegWeight >= 0)) e.push(`adalora.orthRegWeight: must be ≥ 0, got ${a.orthRegWeight}`);
  if (!(a.beta1 > 0 && a.beta1 < 1)) e.push(`adalora.beta1: must be in (0, 1), got ${a.beta1}`);
  if (!(a.beta2 > 0 && a.beta2 < 1)) e.push(`adalora.beta2: must be in (0, 1), got ${a.beta2}`);
  if (!Number.isInteger(a.totalStep) || a.totalStep < 1) e.push(`adalora.totalStep: must be a positive integer, got ${a.totalStep}`);
  if (!Number.isInteger(a.deltaT) || a.deltaT < 1) e.push(`adalora.deltaT: must be a positive integer, got ${a.deltaT}`);
  for (const k of ['tInit', 'tFinal'] as const) if (!Number.isInteger(a[k]) || a[k] < 0) e.push(`adalora.${k}: must be a non-negative integer, got ${a[k]}`);
  if (a.tInit >= a.totalStep - a.tFinal) {
    e.push(`adalora.tInit: tInit (${a.tInit}) must be below totalStep − tFinal (${a.totalStep - a.tFinal}) to leave a budgeting phase`);
  }
  return e;
}

function trainableCount(cfg: PeftConfig, model: ModelConfig): number {
  return sites(model, cfg.targets).reduce((n, s) => n + cfg.r * (s.inF + s.outF + 1), 0);
}

function gaussian(cfg: PeftConfig, site: Site, what: string, n: number): Float32Array {
  const rng = siteRng(cfg, site, what);
  return Float32Array.from({ length: n }, () => rng.normal(0, 0.02));
}

function build(rt: AdapterRuntime): PeftInstance {
  const { be, model, cfg } = rt, r = cfg.r;
  let ranknum = r;
  const scale = () => cfg.alpha / (ranknum + 1e-5);
  const list: AdaSite[] = [];
  for (const [index, site] of sites(model.cfg, cfg.targets).entries()) {
    const { inF, outF } = site;
    const nm = (t: string) => peftName(site.base, `${t}.default`);
    const A = rt.param(nm('lora_A'), [r, inF], gaussian(cfg, site, 'A', r * inF));
    const B = rt.param(nm('lora_B'), [outF, r], gaussian(cfg, site, 'B', outF * r));
    const E = rt.param(nm('lora_E'), [r, 1], new Float32Array(r));
    const s: AdaSite = { site, A, B, E, acts: rt.acts(site.base, [r, r]) };
    list.push(s);
    const { w, bias } = baseOf(model, site);
    const lowRank = (xa: Tensor, xe: Tensor, x: Tensor, N: number) => {
      be.matmulForward(xa, x, A.tensor, null, N, inF, r);
      be.scaleCols(xe, xa, E.tensor, null, N, r, false);
    };
    // W′ = W + s·(B ⊙ Eᵀ)·A: E scales B's columns, then one matmul.
    const merge = {
      weight(dst: Tensor) {
        const bE = rt.scratch('mergeB', outF * r);
        be.scaleCols(bE, B.tensor, E.tensor, null, outF, r, false);
        be.matmulBackwardInput(dst, bE, A.tensor, outF, inF, r, false, scale());
        be.add(dst, dst, w, outF * inF);
      },
    };
    rt.install(site.base, {
      forward(out, inp, N) {
        be.matmulForward(out, inp, w, bias, N, inF, outF);
        const slot = s.acts.take(inp, N, rt.forwardSeed(index));
        const [xa, xe] = slot.bufs;
        lowRank(xa, xe, rt.drop(inp, N * inF, slot.seed), N);
        be.matmulForward(out, xe, B.tensor, null, N, r, outF, true, scale());
      },
      backward(dinp, dout, inp, N, accumulate) {
        const slot = s.acts.find(inp, N), seed = slot?.seed ?? -1;
        const x = rt.drop(inp, N * inF, seed);
        let [xa, xe] = slot?.bufs ?? [];
        if (!slot) lowRank((xa = rt.scratch('xa', N * r)), (xe = rt.scratch('xe', N * r)), x, N);
        const sc = scale(), ge = rt.scratch('dxe', N * r), ga = rt.scratch('dxa', N * r);
        be.matmulBackwardInput(ge, dout, B.tensor, N, r, outF, false, sc);
        be.matmulBackwardWeight(B.grad, dout, xe, N, r, outF, sc);
        be.scaleColsBackward(E.grad, ge, xa, N, r);
        be.scaleCols(ga, ge, E.tensor, null, N, r, false);
        be.matmulBackwardWeight(A.grad, ga, x, N, inF, r);
        be.matmulBackwardInput(dinp, dout, w, N, inF, outF, accumulate);
        rt.addInputGrad(dinp, N * inF, seed, (g, acc) => be.matmulBackwardInput(g, ga, A.tensor, N, inF, r, acc));
      },
    }, merge);
  }
  const params = list.flatMap((s) => [s.A, s.B, s.E]);
  const allocator = new RankAllocator({ ...cfg.adalora, initR: r }, list.map(() => r));
  const ranknums = new Set(list.map((s) => peftName(s.site.base, 'ranknum.default')));

  const readTriplets = async (grads: boolean): Promise<TripletState[]> => {
    const out: TripletState[] = [];
    for (const s of list) {
      const empty = new Float32Array(0);
      const rd = (t: Tensor) => (grads ? be.read(t) : Promise.resolve(empty));
      out.push({
        r, inF: s.site.inF, outF: s.site.outF,
        A: await rd(s.A.tensor), gA: await rd(s.A.grad), B: await rd(s.B.tensor), gB: await rd(s.B.grad),
        E: await be.read(s.E.tensor), gE: await rd(s.E.grad),
      });
    }
    return out;
  };

  return rt.instance(params, {
    regularize: () => orthRegularize(rt, list, cfg.adalora.orthRegWeight),
    async afterStep(step) {
      if (!cfg.adalora.allocate) return;
      const need = allocator.needs(step);
      if (need === 'none') return;
      const data = await readTriplets(need === 'all');
      const changed = allocator.update(step, data);
      changed.forEach((c, i) => {
        if (c) be.upload(list[i].E.tensor, data[i].E);
      });
    },
    allocatorState: () => allocator.exportState(),
    loadAllocatorState: (state) => allocator.importState(state, list.map((s) => ({ r, inF: s.site.inF, outF: s.site.outF }))),
    merged: () => rt.readMerged(), // the merge rule itself, checked against HF PEFT's merged weights
    async snapshot() {
      const out = await rt.snapshot();
      for (const name of ranknums) out.set(name, Float32Array.of(ranknum));
      return out;
    },
    load: (tensors) => rt.load(tensors, (name) => (ranknums.has(name) ? { size: 1, set: (d) => (ranknum = d[0]) } : undefined)),
  });
}

/**
 * PEFT's orthogonal regulariser, added to the loss: w · (Σ_A ‖AAᵀ − I‖_F + Σ_B ‖BᵀB − I‖_F) / n, n the
 * number of A and B matrices (2 per adapted layer), with its gradient added to the A and B grads:
 * ∂‖M‖/∂A = 2MA/‖M‖ (M = AAᵀ − I), ∂‖M‖/∂B = 2BM/‖M‖ (M = BᵀB − I).
 * The r×r Gram matrices are formed on the backend and read back in one packed transfer (r² floats
 * per matrix, not the r·(in+out) of the factors); the norms and the r×r coefficient matrices are
 * computed here in float64 and go back in one upload; the gradient products run on the backend.
 */
async function orthRegularize(rt: AdapterRuntime, list: AdaSite[], weight: number): Promise<number> {
  if (list.length === 0 || weight === 0) return 0;
  const be = rt.be, r = list[0].A.shape[0], rr = r * r;
  const gram = rt.scratch('gram', rr), packed = rt.scratch('grams', 2 * list.length * rr);
  list.forEach((s, i) => {
    be.matmulForward(gram, s.A.tensor, s.A.tensor, null, r, s.site.inF, r); // A·Aᵀ
    be.copy(packed, gram, rr, 2 * i * rr);
    be.zero(gram);
    be.matmulBackwardWeight(gram, s.B.tensor, s.B.tensor, s.site.outF, r, r); // Bᵀ·B
    be.copy(packed, gram, rr, (2 * i + 1) * rr);
  });
  const g = await be.read(packed);
  const n = 2 * list.length;
  const coef = new Float32Array(g.length);
  let total = 0;
  for (let m = 0; m < n; m++) {
    let ss = 0;
    const d = new Float64Array(rr);
    for (let i = 0; i < r; i++) {
      for (let j = 0; j < r; j++) {
        d[i * r + j] = g[m * rr + i * r + j] - (i === j ? 1 : 0);
        ss += d[i * r + j] ** 2;
      }
    }
    const norm = Math.sqrt(ss);
    total += norm;
    // Symmetrise: the Gram matrices are symmetric up to float32 rounding of the backend matmul.
    if (norm > 0) for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) coef[m * rr + i * r + j] = (weight / n) * (d[i * r + j] + d[j * r + i]) / norm;
  }
  be.upload(packed, coef);
  list.forEach((s, i) => {
    be.copy(gram, packed, rr, 0, 2 * i * rr);
    be.matmulBackwardWeight(s.A.grad, gram, s.A.tensor, r, s.site.inF, r); // += C·A (C symmetric)
    be.copy(gram, packed, rr, 0, (2 * i + 1) * rr);
    be.matmulForward(s.B.grad, s.B.tensor, gram, null, s.site.outF, r, r, true); // += B·C
  });
  return (weight * total) / n;
}

// PEFT's AdaLoraConfig: a LoRA config with peft_type ADALORA, init_r the initial rank and the
// allocator's schedule; `r` is unused by PEFT (8, its default, is written).
const HF: HfMapping = {
  write: (cfg) => {
    const a = cfg.adalora;
    return { ...loraFields(cfg), peft_type: 'ADALORA', r: 8, rank_pattern: null, target_r: a.targetR, init_r: cfg.r, tinit: a.tInit,
      tfinal: a.tFinal, deltaT: a.deltaT, beta1: a.beta1, beta2: a.beta2, orth_reg_weight: a.orthRegWeight, total_step: a.totalStep };
  },
  read: {
    types: ['ADALORA'],
    settings(json) {
      unsupported(json, LORA_UNSUPPORTED.filter((k) => k !== 'rank_pattern'));
      if (json.use_dora === true) fail('use_dora', 'AdaLoRA does not support DoRA');
      const a = ADALORA_DEFAULTS;
      return { method: 'adalora', r: num(json, 'init_r', 12, posInt, 'a positive integer'), alpha: num(json, 'lora_alpha', 8),
        dropout: num(json, 'lora_dropout', 0, nonNeg, 'a non-negative number'), targets: targets(json, ['q_proj', 'v_proj']),
        adalora: { ...a, targetR: num(json, 'target_r', 8, posInt, 'a positive integer'), tInit: num(json, 'tinit', 0, nonNeg),
          tFinal: num(json, 'tfinal', 0, nonNeg), deltaT: num(json, 'deltaT', 1, posInt, 'a positive integer'),
          beta1: num(json, 'beta1', 0.85), beta2: num(json, 'beta2', 0.85), orthRegWeight: num(json, 'orth_reg_weight', 0.5, nonNeg),
          totalStep: num(json, 'total_step', a.totalStep, posInt, 'a positive integer') } };
    },
  },
  // lora_A (r, in), lora_E (r, 1), lora_B (out, r); ranknum is not saved.
  shapes(cfg, model) {
    const out = new Map<string, number[]>(), r = cfg.r;
    for (const { base, inF, outF } of sites(model, cfg.targets)) {
      const n = (t: string) => savedName(peftName(base, `${t}.default`))!;
      out.set(n('lora_A'), [r, inF]).set(n('lora_E'), [r, 1]).set(n('lora_B'), [outF, r]);
    }
    return out;
  },
};

// TRL: PEFT's AdaLoRA as the lab trains it: the orthogonal regulariser added to the loss (PEFT adds it
// only when the forward gets labels, which GRPOTrainer never passes), and the rank allocator after
// every optimizer step when the lab ran it. verl builds plain LoRA only.
const TRL_VERL: TrlVerl = {
  trl: ({ adalora: a }) => ({
    model: { comment: `total_step ${a.totalStep} (the lab's)`, setup: '' },
    code: `
# AdaLoRA as the lab trains it. PEFT adds the orthogonal regulariser only when the forward gets labels,
# which GRPOTrainer never passes: add it to the loss here (AdaLoraModel.forward's formula).
ORTH_REG_WEIGHT = ${a.orthRegWeight}

def adalora_orth_reg(model):
    total, n = 0.0, 0
    for name, p in model.named_parameters():
        if ("lora_A" in name or "lora_B" in name) and p.requires_grad:
            cov = p @ p.T if "lora_A" in name else p.T @ p
            total = total + torch.norm(cov - torch.eye(*cov.size(), device=cov.device, dtype=cov.dtype), p="fro")
            n += 1
    return total / n if n else 0.0

class AdaLoraGRPOTrainer(GRPOTrainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss = super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        return loss + ORTH_REG_WEIGHT * adalora_orth_reg(model)
${a.allocate ? `
class AdaLoraAllocate(TrainerCallback):
    """update_and_allocate after every optimizer step, before the gradients are zeroed (PEFT's AdaLoRA
    loop); the lab counts steps from 1, Trainer's global_step is the count before this step."""
    def __init__(self, model):
        self.model = model

    def on_optimizer_step(self, args, state, control, **kwargs):
        self.model.base_model.update_and_allocate(state.global_step + 1)
` : `# The lab ran this AdaLoRA without its rank allocator (adalora.allocate off): update_and_allocate is not called.
`}`,
    transformers: a.allocate ? ['TrainerCallback'] : [],
    trainer: 'AdaLoraGRPOTrainer',
    trainerArgs: a.allocate ? ['callbacks=[AdaLoraAllocate(model)]'] : [],
  }),
  verl: verlNotLora,
};

export const adalora: MethodSpec = {
  id: 'adalora',
  name: 'AdaLoRA',
  description: 'SVD-form low-rank update P·diag(E)·Q with an orthogonality regulariser and importance-based rank allocation',
  paper: 'https://arxiv.org/abs/2303.10512',
  settings: SETTINGS,
  defaults: DEFAULTS,
  validate,
  trainableCount,
  hf: HF,
  trlVerl: TRL_VERL,
  attach: (model, cfg) => attachAdapters(adalora, model, cfg, build),
};
