// AdaLoRA (Zhang et al., ICLR 2023) as HF PEFT's SVDLinear: y = W₀x + b + s · B((A ⊙ E) x) with
// A (r×in), E (r×1) the "singular values", B (out×r) and s = lora_alpha / (ranknum + 1e-5), ranknum
// the initial rank r. Init A, B ~ N(0, 0.02²), E = 0. PEFT's training loss adds orth_reg_weight ×
// the mean over every adapted A and B (each counted once) of ‖AAᵀ − I‖_F / ‖BᵀB − I‖_F
// (`regularize`), and its RankAllocator masks the least important E entries to a budget
// (`afterStep`, adalora_alloc.ts; off by default, as in the study).
//
// Also here: the plumbing shared by the lab's other adapters of this family (VeRA, MiSS):
// growable scratch tensors and input dropout whose mask the backward pass replays.
import type { Backend, Tensor } from '../engine/backend.ts';
import type { ModelConfig } from '../model/config.ts';
import type { LinearAdapter, Model } from '../model/model.ts';
import { RankAllocator, type TripletState } from './adalora_alloc.ts';
import { peftName, siteRng, sites, trainable, validateCommon, type Site } from './common.ts';
import type { MethodSpec, PeftConfig, PeftInstance, SettingSpec, TrainableParam } from './types.ts';

// --- shared adapter plumbing ---------------------------------------------------------------------

/** Free a tensor that ops still queued on the backend may use. An upload submits the WebGPU
 * backend's open command encoder (an empty one moves no data), and a submitted buffer may be
 * destroyed: WebGPU frees it once that work completes. */
export function safeFree(be: Backend, t: Tensor): void {
  be.upload(t, t.dtype === 'i32' ? new Int32Array(0) : new Float32Array(0));
  be.free(t);
}

/**
 * Per-instance runtime of an adapter method: shared scratch tensors (grown to the largest N = B·T
 * asked for) and inverted dropout on the adapter input only (PEFT's lora_dropout / vera_dropout /
 * miss_dropout; the base path sees the undropped input), active while `training` (PEFT's
 * module.train()/eval()). Each forward draws a fresh seed; its backward replays the same mask (the
 * backend's dropout is a pure function of seed and index). Seed −1 means no dropout.
 */
export class AdapterKit {
  training = true;
  private calls = 0;
  private readonly scratchMap = new Map<string, Tensor>();

  constructor(readonly be: Backend, readonly p: number, private readonly seed: number, private readonly label: string) {}

  /** A seed for one forward call of one layer, or −1 when dropout is off. */
  forwardSeed(site: number): number {
    if (!this.training || this.p <= 0) return -1;
    let h = Math.imul(this.seed | 0, 0x9e3779b1) ^ Math.imul(++this.calls, 0x85ebca77) ^ Math.imul(site + 1, 0xc2b2ae3d);
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
    return (h ^ (h >>> 15)) >>> 1;
  }

  /** A shared scratch tensor of at least n elements. */
  scratch(key: string, n: number): Tensor {
    const t = this.scratchMap.get(key);
    if (t && t.size >= n) return t;
    if (t) safeFree(this.be, t);
    const fresh = this.be.alloc(`${this.label}.${key}`, Math.max(1, n));
    this.scratchMap.set(key, fresh);
    return fresh;
  }

  /** The adapter's view of `inp` (n entries) under `seed`: inp itself for seed −1. */
  apply(inp: Tensor, n: number, seed: number): Tensor {
    if (seed < 0) return inp;
    const x = this.scratch('dropx', n);
    this.be.dropout(x, inp, n, this.p, seed);
    return x;
  }

  /** dinp += dropout(g) where `write(g, accumulate)` produces the adapter's input gradient g. */
  addInputGrad(dinp: Tensor, n: number, seed: number, write: (g: Tensor, accumulate: boolean) => void): void {
    if (seed < 0) return write(dinp, true);
    const g = this.scratch('dropg', n), x = this.scratch('dropx', n);
    write(g, false);
    this.be.dropout(x, g, n, this.p, seed);
    this.be.add(dinp, dinp, x, n);
  }

  free(): void {
    for (const t of this.scratchMap.values()) safeFree(this.be, t);
    this.scratchMap.clear();
  }
}

/** What one layer's forward over one input kept for its backward. */
export interface Slot {
  inp: Tensor;
  N: number;
  seed: number;
  bufs: Tensor[];
  rows: number;
  tick: number;
}

/**
 * A layer's forward-to-backward state keyed by the input tensor, in two slots (the least recently
 * used is reused): the model's training activations and the decoder's buffers are different
 * tensors, so generating between a training forward and its backward does not clobber them.
 * Buffer i holds perRow[i]·N values.
 */
export class Slots {
  private readonly slots: Slot[] = [];
  private tick = 0;

  constructor(private readonly be: Backend, private readonly label: string, private readonly perRow: number[]) {}

  take(inp: Tensor, N: number, seed: number): Slot {
    let slot = this.slots.find((s) => s.inp === inp);
    if (!slot && this.slots.length < 2) {
      slot = { inp, N, seed, bufs: [], rows: 0, tick: 0 };
      this.slots.push(slot);
    }
    slot ??= this.slots.reduce((a, b) => (a.tick <= b.tick ? a : b));
    if (slot.rows < N) {
      for (const t of slot.bufs) safeFree(this.be, t);
      slot.bufs = this.perRow.map((w, i) => this.be.alloc(`${this.label}.act${i}`, Math.max(1, w * N)));
      slot.rows = N;
    }
    Object.assign(slot, { inp, N, seed, tick: ++this.tick });
    return slot;
  }

  /** The slot of the last forward over `inp` with N rows; null if it was reused. Losing it only
   * matters under dropout (the mask is gone); otherwise the layer recomputes what it needs. */
  find(inp: Tensor, N: number, base: string, dropping: boolean): Slot | null {
    const slot = this.slots.find((s) => s.inp === inp && s.N === N) ?? null;
    if (!slot && dropping) {
      throw new Error(`${base}: backward without its forward (two other forwards over different inputs came in between) while dropout is on: run the forward again`);
    }
    return slot;
  }

  free(): void {
    for (const s of this.slots) for (const t of s.bufs) safeFree(this.be, t);
    this.slots.length = 0;
  }
}

/** Where a loaded tensor goes: its size and how to set it. */
export interface LoadTarget {
  size: number;
  set(data: Float32Array): void;
}

/** PeftInstance.load: every name resolved and every size checked (errors name the tensor) before
 * anything is set, so a bad checkpoint changes nothing. */
export function loadChecked(tensors: Map<string, Float32Array>, method: string, resolve: (name: string) => LoadTarget | undefined): void {
  const plan: [LoadTarget, Float32Array][] = [];
  for (const [name, data] of tensors) {
    const t = resolve(name);
    if (!t) throw new Error(`${method}: unknown tensor "${name}"`);
    if (data.length !== t.size) throw new Error(`${method}: ${name}: got ${data.length} values, expected ${t.size}`);
    plan.push([t, data]);
  }
  for (const [t, data] of plan) t.set(data);
}

/** The LoadTarget of a backend tensor. */
export function uploadTo(be: Backend, t: Tensor): LoadTarget {
  return { size: t.size, set: (d) => be.upload(t, d) };
}

/** Base weight (and bias) of a site. */
export function baseOf(model: Model, site: Site): { w: Tensor; bias: Tensor | null } {
  return { w: model.p(`${site.base}.weight`), bias: model.params.get(`${site.base}.bias`) ?? null };
}

// --- AdaLoRA --------------------------------------------------------------------------------------

interface AdaSite {
  site: Site;
  A: TrainableParam;
  B: TrainableParam;
  E: TrainableParam;
  /** xa = x̃·Aᵀ and xe = xa ⊙ E (N × r each), per input. */
  acts: Slots;
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

async function attach(model: Model, cfg: PeftConfig): Promise<PeftInstance> {
  const errors = validate(cfg, model.cfg);
  if (errors.length) throw new Error(`AdaLoRA: ${errors.join('; ')}`);
  const be = model.backend, r = cfg.r;
  let ranknum = r;
  const scale = () => cfg.alpha / (ranknum + 1e-5);
  model.setTrainable([]);
  const kit = new AdapterKit(be, cfg.dropout, cfg.seed, 'adalora');
  const list: AdaSite[] = [];
  const byName = new Map<string, TrainableParam>();
  for (const [index, site] of sites(model.cfg, cfg.targets).entries()) {
    const { inF, outF } = site;
    const nm = (t: string) => peftName(site.base, `${t}.default`);
    const A = trainable(be, nm('lora_A'), [r, inF], gaussian(cfg, site, 'A', r * inF));
    const E = trainable(be, nm('lora_E'), [r, 1], new Float32Array(r));
    const B = trainable(be, nm('lora_B'), [outF, r], gaussian(cfg, site, 'B', outF * r));
    const s: AdaSite = { site, A, B, E, acts: new Slots(be, `${site.base}.adalora`, [r, r]) };
    list.push(s);
    for (const p of [A, B, E]) byName.set(p.name, p);
    const { w, bias } = baseOf(model, site);
    const lowRank = (xa: Tensor, xe: Tensor, x: Tensor, N: number) => {
      be.matmulForward(xa, x, A.tensor, null, N, inF, r);
      be.scaleCols(xe, xa, E.tensor, null, N, r, false);
    };
    const adapter: LinearAdapter = {
      forward(out, inp, N) {
        be.matmulForward(out, inp, w, bias, N, inF, outF);
        const slot = s.acts.take(inp, N, kit.forwardSeed(index));
        const [xa, xe] = slot.bufs;
        lowRank(xa, xe, kit.apply(inp, N * inF, slot.seed), N);
        be.matmulForward(out, xe, B.tensor, null, N, r, outF, true, scale());
      },
      backward(dinp, dout, inp, N, accumulate) {
        const slot = s.acts.find(inp, N, site.base, kit.training && kit.p > 0), seed = slot?.seed ?? -1;
        const x = kit.apply(inp, N * inF, seed);
        let [xa, xe] = slot?.bufs ?? [];
        if (!slot) lowRank((xa = kit.scratch('xa', N * r)), (xe = kit.scratch('xe', N * r)), x, N);
        const sc = scale(), ge = kit.scratch('dxe', N * r), ga = kit.scratch('dxa', N * r);
        be.matmulBackwardInput(ge, dout, B.tensor, N, r, outF, false, sc);
        be.matmulBackwardWeight(B.grad, dout, xe, N, r, outF, sc);
        be.scaleColsBackward(E.grad, ge, xa, N, r);
        be.scaleCols(ga, ge, E.tensor, null, N, r, false);
        be.matmulBackwardWeight(A.grad, ga, x, N, inF, r);
        be.matmulBackwardInput(dinp, dout, w, N, inF, outF, accumulate);
        kit.addInputGrad(dinp, N * inF, seed, (g, acc) => be.matmulBackwardInput(g, ga, A.tensor, N, inF, r, acc));
      },
    };
    model.adapters.set(site.base, adapter);
  }
  const params = list.flatMap((s) => [s.A, s.B, s.E]);
  const allocator = new RankAllocator({ ...cfg.adalora, initR: r }, list.map(() => r));

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

  return {
    config: cfg,
    params,
    zeroGrads() {
      for (const p of params) be.zero(p.grad);
    },
    regularize: () => orthRegularize(kit, list, cfg.adalora.orthRegWeight),
    setTraining(on) {
      kit.training = on;
    },
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
    async merged() {
      // W + s·(B ⊙ Eᵀ)·A on the backend: E scales B's columns, then one matmul per layer.
      const out = new Map<string, Float32Array>();
      for (const { site, A, B, E } of list) {
        const { inF, outF, base } = site;
        const bE = kit.scratch('mergeB', outF * r), V = kit.scratch('merged', outF * inF);
        be.scaleCols(bE, B.tensor, E.tensor, null, outF, r, false);
        be.matmulBackwardInput(V, bE, A.tensor, outF, inF, r, false, scale());
        be.add(V, V, model.p(`${base}.weight`), outF * inF);
        out.set(`${base}.weight`, (await be.read(V)).slice(0, outF * inF));
      }
      return out;
    },
    async snapshot() {
      const out = new Map<string, Float32Array>();
      for (const p of params) out.set(p.name, await be.read(p.tensor));
      for (const s of list) out.set(peftName(s.site.base, 'ranknum.default'), Float32Array.of(ranknum));
      return out;
    },
    load(tensors) {
      const ranknums = new Set(list.map((s) => peftName(s.site.base, 'ranknum.default')));
      loadChecked(tensors, 'AdaLoRA', (name) => {
        if (ranknums.has(name)) return { size: 1, set: (d) => (ranknum = d[0]) };
        const p = byName.get(name);
        return p && uploadTo(be, p.tensor);
      });
    },
    detach() {
      for (const s of list) {
        model.adapters.delete(s.site.base);
        for (const p of [s.A, s.B, s.E]) {
          safeFree(be, p.tensor);
          be.free(p.grad);
        }
        s.acts.free();
      }
      kit.free();
      model.setTrainable(model.params.keys());
    },
  };
}

/**
 * PEFT's orthogonal regulariser, added to the loss: w · (Σ_A ‖AAᵀ − I‖_F + Σ_B ‖BᵀB − I‖_F) / n, n the
 * number of A and B matrices (2 per adapted layer), with its gradient added to the A and B grads:
 * ∂‖M‖/∂A = 2MA/‖M‖ (M = AAᵀ − I), ∂‖M‖/∂B = 2BM/‖M‖ (M = BᵀB − I).
 * The r×r Gram matrices are formed on the backend and read back in one packed transfer (r² floats
 * per matrix, not the r·(in+out) of the factors); the norms and the r×r coefficient matrices are
 * computed here in float64 and go back in one upload; the gradient products run on the backend.
 */
async function orthRegularize(kit: AdapterKit, list: AdaSite[], weight: number): Promise<number> {
  if (list.length === 0 || weight === 0) return 0;
  const be = kit.be, r = list[0].A.shape[0], rr = r * r;
  const gram = kit.scratch('gram', rr), packed = kit.scratch('grams', 2 * list.length * rr);
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

export const adalora: MethodSpec = {
  id: 'adalora',
  name: 'AdaLoRA',
  description: 'SVD-form low-rank update P·diag(E)·Q with an orthogonality regulariser and importance-based rank allocation',
  paper: 'https://arxiv.org/abs/2303.10512',
  settings: SETTINGS,
  validate,
  trainableCount,
  deterministicInit: /\.(lora_E|ranknum)\.default$/,
  attach,
};
