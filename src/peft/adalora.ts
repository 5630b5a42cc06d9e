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

/** A backend tensor that grows to the largest size asked of it (activations scale with N = B·T,
 * which changes between training, rollout prefill and decode). */
export class Grow {
  private t: Tensor | null = null;
  constructor(private readonly be: Backend, private readonly label: string) {}
  get(n: number): Tensor {
    if (!this.t || this.t.size < n) {
      if (this.t) safeFree(this.be, this.t);
      this.t = this.be.alloc(this.label, Math.max(1, n));
    }
    return this.t;
  }
  free(): void {
    if (this.t) safeFree(this.be, this.t);
    this.t = null;
  }
}

/**
 * Inverted dropout on an adapter's input only (PEFT's lora_dropout / vera_dropout / miss_dropout: the
 * base path sees the undropped input). Every forward draws a fresh seed, which the layer keeps; its
 * backward replays the same mask (the backend's dropout is a pure function of seed and index).
 */
export class InputDropout {
  private calls = 0;
  private readonly x: Grow;
  private readonly g: Grow;
  constructor(private readonly be: Backend, readonly p: number, private readonly seed: number, label: string) {
    this.x = new Grow(be, `${label}.dropx`);
    this.g = new Grow(be, `${label}.dropg`);
  }
  /** A new seed for one forward call. */
  nextSeed(): number {
    this.calls++;
    return (Math.imul(this.seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(this.calls, 0x85ebca6b)) >>> 0;
  }
  /** The adapter's view of `inp` (n entries) under `seed`: inp itself when p = 0. */
  apply(inp: Tensor, n: number, seed: number): Tensor {
    if (this.p === 0) return inp;
    const x = this.x.get(n);
    this.be.dropout(x, inp, n, this.p, seed);
    return x;
  }
  /** dinp += dropout(g) where `write(g, accumulate)` produces the adapter's input gradient g. */
  addInputGrad(dinp: Tensor, n: number, seed: number, write: (g: Tensor, accumulate: boolean) => void): void {
    if (this.p === 0) return write(dinp, true);
    const g = this.g.get(n), x = this.x.get(n);
    write(g, false);
    this.be.dropout(x, g, n, this.p, seed);
    this.be.add(dinp, dinp, x, n);
  }
  free(): void {
    this.x.free();
    this.g.free();
  }
}

/** Check a loaded tensor's size, naming it. */
export function checkSize(name: string, data: Float32Array, size: number): void {
  if (data.length !== size) throw new Error(`${name}: got ${data.length} values, expected ${size}`);
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
  xa: Grow;
  xe: Grow;
  seed: number;
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
  const drop = new InputDropout(be, cfg.dropout, cfg.seed, 'adalora');
  const dxe = new Grow(be, 'adalora.dxe'), dxa = new Grow(be, 'adalora.dxa');
  const regBufs = { gram: new Grow(be, 'adalora.gram'), packed: new Grow(be, 'adalora.grams') };
  const list: AdaSite[] = [];
  const byName = new Map<string, TrainableParam>();
  for (const site of sites(model.cfg, cfg.targets)) {
    const { inF, outF } = site;
    const nm = (t: string) => peftName(site.base, `${t}.default`);
    const A = trainable(be, nm('lora_A'), [r, inF], gaussian(cfg, site, 'A', r * inF));
    const E = trainable(be, nm('lora_E'), [r, 1], new Float32Array(r));
    const B = trainable(be, nm('lora_B'), [outF, r], gaussian(cfg, site, 'B', outF * r));
    const s: AdaSite = { site, A, B, E, xa: new Grow(be, `${site.base}.ada.xa`), xe: new Grow(be, `${site.base}.ada.xe`), seed: 0 };
    list.push(s);
    for (const p of [A, B, E]) byName.set(p.name, p);
    const { w, bias } = baseOf(model, site);
    const adapter: LinearAdapter = {
      forward(out, inp, N) {
        be.matmulForward(out, inp, w, bias, N, inF, outF);
        if (drop.p > 0) s.seed = drop.nextSeed();
        const x = drop.apply(inp, N * inF, s.seed);
        const xa = s.xa.get(N * r), xe = s.xe.get(N * r);
        be.matmulForward(xa, x, A.tensor, null, N, inF, r);
        be.scaleCols(xe, xa, E.tensor, null, N, r, false);
        be.matmulForward(out, xe, B.tensor, null, N, r, outF, true, scale());
      },
      backward(dinp, dout, inp, N, accumulate) {
        const sc = scale(), xa = s.xa.get(N * r), xe = s.xe.get(N * r), ge = dxe.get(N * r), ga = dxa.get(N * r);
        be.matmulBackwardInput(ge, dout, B.tensor, N, r, outF, false, sc);
        be.matmulBackwardWeight(B.grad, dout, xe, N, r, outF, sc);
        be.scaleColsBackward(E.grad, ge, xa, N, r);
        be.scaleCols(ga, ge, E.tensor, null, N, r, false);
        be.matmulBackwardWeight(A.grad, ga, drop.apply(inp, N * inF, s.seed), N, inF, r);
        be.matmulBackwardInput(dinp, dout, w, N, inF, outF, accumulate);
        drop.addInputGrad(dinp, N * inF, s.seed, (g, acc) => be.matmulBackwardInput(g, ga, A.tensor, N, inF, r, acc));
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
    regularize: () => orthRegularize(be, list, cfg.adalora.orthRegWeight, regBufs),
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
      const out = new Map<string, Float32Array>();
      const sc = scale();
      for (const s of list) {
        const { inF, outF } = s.site;
        const [w, a, b, e] = await Promise.all([be.read(model.p(`${s.site.base}.weight`)), be.read(s.A.tensor), be.read(s.B.tensor), be.read(s.E.tensor)]);
        const ae = new Float64Array(r * inF);
        for (let k = 0; k < r; k++) for (let i = 0; i < inF; i++) ae[k * inF + i] = a[k * inF + i] * e[k];
        const m = new Float32Array(outF * inF);
        for (let o = 0; o < outF; o++) {
          for (let i = 0; i < inF; i++) {
            let acc = 0;
            for (let k = 0; k < r; k++) acc += b[o * r + k] * ae[k * inF + i];
            m[o * inF + i] = w[o * inF + i] + sc * acc;
          }
        }
        out.set(`${s.site.base}.weight`, m);
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
      for (const [name, data] of tensors) {
        if (name.endsWith('.ranknum.default') && list.some((s) => peftName(s.site.base, 'ranknum.default') === name)) {
          checkSize(name, data, 1);
          ranknum = data[0];
          continue;
        }
        const p = byName.get(name);
        if (!p) throw new Error(`AdaLoRA: unknown tensor "${name}"`);
        checkSize(name, data, p.tensor.size);
        be.upload(p.tensor, data);
      }
    },
    detach() {
      for (const s of list) {
        model.adapters.delete(s.site.base);
        for (const p of [s.A, s.B, s.E]) {
          safeFree(be, p.tensor);
          be.free(p.grad);
        }
        s.xa.free();
        s.xe.free();
      }
      for (const g of [drop, dxe, dxa, regBufs.gram, regBufs.packed]) g.free();
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
async function orthRegularize(be: Backend, list: AdaSite[], weight: number, bufs: { gram: Grow; packed: Grow }): Promise<number> {
  if (list.length === 0 || weight === 0) return 0;
  const r = list[0].A.shape[0], rr = r * r;
  const gram = bufs.gram.get(rr), packed = bufs.packed.get(2 * list.length * rr);
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
