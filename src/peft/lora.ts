// The LoRA family: LoRA, rank-1 LoRA, rsLoRA, LoRA+, LoRA-FA, PiSSA, MiLoRA and OLoRA share one
// adapter, y = W x + b + s·B(A·dropout(x)), and differ only in scale, init and optimizer groups.
// DoRA (dora.ts) builds on the same instance machinery.
//
// Per adapted layer (N rows, in → out, rank r):
//   forward   out = x·Wᵀ + b;  xa = x̃·Aᵀ (kept for backward);  out += s·xa·Bᵀ
//   backward  dB += s·doutᵀ·xa;  dxa = s·dout·B;  dA += dxaᵀ·x̃ (not for LoRA-FA);
//             dinp = dout·W (= or += per accumulate);  dinp += dropout(dxa·A)
// x̃ = dropout(x) with a fresh seed per forward call while training (inverted dropout, the same
// mask recomputed in backward from the seed); x̃ = x when dropout is 0 or in eval mode.
import type { Backend, Tensor } from '../engine/backend.ts';
import type { ModelConfig } from '../model/config.ts';
import type { LinearAdapter, Model } from '../model/model.ts';
import { kaimingUniform, peftName, siteRng, sites, trainable, validateCommon, type Site } from './common.ts';
import { householderQr, svd } from './svd.ts';
import type { MethodId, MethodSpec, PeftConfig, PeftInstance, SettingSpec, TrainableParam } from './types.ts';

// --- shared runtime: mode, dropout seeds, scratch, per-input activation slots ------------------

/** Per-instance machinery shared by all adapted layers of one model. */
export class AdapterRuntime {
  /** Dropout is active only while training (PEFT's module.training). */
  training = true;
  private calls = 0;
  private readonly scratchMap = new Map<string, Tensor>();
  private readonly fence: Tensor;

  constructor(readonly be: Backend, readonly cfg: PeftConfig) {
    this.fence = be.alloc('peft.fence', 1);
  }

  /** A fresh dropout seed in [0, 2³¹) for one forward call of one site. */
  private nextSeed(site: number): number {
    let h = Math.imul(this.cfg.seed | 0, 0x9e3779b1) ^ Math.imul(++this.calls, 0x85ebca77) ^ Math.imul(site + 1, 0xc2b2ae3d);
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
    h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
    return (h ^ (h >>> 16)) >>> 1;
  }

  /** A shared scratch tensor of at least `size` elements (grown on demand). */
  scratch(key: string, size: number): Tensor {
    const t = this.scratchMap.get(key);
    if (t && t.size >= size) return t;
    if (t) this.release([t]);
    const n = this.be.alloc(`peft.${key}`, Math.max(size, 1));
    this.scratchMap.set(key, n);
    return n;
  }

  /** Free tensors that queued work may still reference: an upload submits the open WebGPU encoder
   * first (buffers may be destroyed once the work using them is submitted). */
  release(ts: Tensor[]): void {
    if (ts.length === 0) return;
    this.be.upload(this.fence, new Float32Array(1));
    for (const t of ts) this.be.free(t);
  }

  /** Forward: x̃ for this call, and the seed used (−1: no dropout). */
  dropForward(inp: Tensor, n: number, site: number): { x: Tensor; seed: number } {
    if (!this.training || this.cfg.dropout <= 0) return { x: inp, seed: -1 };
    const seed = this.nextSeed(site);
    const x = this.scratch('xdrop', n);
    this.be.dropout(x, inp, n, this.cfg.dropout, seed);
    return { x, seed };
  }

  /** Backward: the same x̃ as the forward with this seed. */
  dropAgain(inp: Tensor, n: number, seed: number): Tensor {
    if (seed < 0) return inp;
    const x = this.scratch('xdrop', n);
    this.be.dropout(x, inp, n, this.cfg.dropout, seed);
    return x;
  }

  /** dinp += dropout(g) with the forward's mask (dropout's backward is the same call on the gradient). */
  addDropped(dinp: Tensor, g: Tensor, n: number, seed: number): void {
    const t = this.scratch('gdrop', n);
    this.be.dropout(t, g, n, this.cfg.dropout, seed);
    this.be.add(dinp, dinp, t, n);
  }

  free(): void {
    this.release([...this.scratchMap.values(), this.fence]);
    this.scratchMap.clear();
  }
}

/** What one forward call left for its backward. */
export interface Slot {
  key: Tensor | null;
  N: number;
  seed: number;
  bufs: Tensor[];
  capRows: number;
  tick: number;
}

/** Activations an adapter keeps from forward for backward, keyed by the input tensor: the model's
 * training activations and the decoder's buffers are different tensors, so decoding between a
 * forward and its backward does not clobber them. Two slots, the least recently used is reused;
 * a backward whose slot was reused recomputes (see `find`). Buffer i holds perRow[i]·N values,
 * then the fixed-size buffers follow. */
export class ActCache {
  private readonly slots: Slot[] = [];
  private tick = 0;

  constructor(private readonly rt: AdapterRuntime, private readonly label: string, private readonly perRow: number[],
    private readonly fixed: number[] = [], private readonly capacity = 2) {}

  take(inp: Tensor, N: number): Slot {
    let slot = this.slots.find((s) => s.key === inp);
    if (!slot && this.slots.length < this.capacity) {
      slot = { key: null, N: 0, seed: -1, bufs: [], capRows: 0, tick: 0 };
      this.slots.push(slot);
    }
    slot ??= this.slots.reduce((a, b) => (a.tick <= b.tick ? a : b));
    if (slot.capRows < N) {
      this.rt.release(slot.bufs);
      const be = this.rt.be;
      slot.bufs = [...this.perRow.map((w, i) => be.alloc(`${this.label}.act${i}`, Math.max(1, w * N))),
        ...this.fixed.map((n, i) => be.alloc(`${this.label}.fix${i}`, Math.max(1, n)))];
      slot.capRows = N;
    }
    slot.key = inp;
    slot.N = N;
    slot.seed = -1;
    slot.tick = ++this.tick;
    return slot;
  }

  /** The slot the last forward over `inp` with N rows filled, or null if it has been reused. */
  find(inp: Tensor, N: number): Slot | null {
    return this.slots.find((s) => s.key === inp && s.N === N) ?? null;
  }

  free(): void {
    this.rt.release(this.slots.flatMap((s) => s.bufs));
    this.slots.length = 0;
  }
}

// --- one adapted layer ---------------------------------------------------------------------------

/** One target layer of a low-rank method. A is allocated like a trainable tensor even when frozen
 * (LoRA-FA), so checkpoints and snapshots treat it uniformly. */
export interface LowRankSite {
  site: Site;
  index: number;
  r: number;
  scale: number;
  A: TrainableParam;
  B: TrainableParam;
  trainA: boolean;
  W: Tensor;
  bias: Tensor | null;
}

export interface FreeableAdapter extends LinearAdapter {
  free(): void;
}

/** The missing-dropout-seed error: a backward needs the mask its forward drew. */
export function lostSlot(base: string): Error {
  return new Error(`${base}: backward without its forward's activations (more than one other forward over a different input `
    + 'happened in between) while dropout is active: run forward again before backward');
}

export class LoraAdapter implements FreeableAdapter {
  private readonly cache: ActCache;

  constructor(private readonly rt: AdapterRuntime, private readonly s: LowRankSite) {
    this.cache = new ActCache(rt, `${s.site.base}.lora`, [s.r]);
  }

  forward(out: Tensor, inp: Tensor, N: number): void {
    const be = this.rt.be, { inF, outF } = this.s.site, { r, scale, A, B, W, bias } = this.s;
    be.matmulForward(out, inp, W, bias, N, inF, outF);
    const slot = this.cache.take(inp, N);
    const { x, seed } = this.rt.dropForward(inp, N * inF, this.s.index);
    slot.seed = seed;
    const xa = slot.bufs[0];
    be.matmulForward(xa, x, A.tensor, null, N, inF, r);
    be.matmulForward(out, xa, B.tensor, null, N, r, outF, true, scale);
  }

  backward(dinp: Tensor, dout: Tensor, inp: Tensor, N: number, accumulate: boolean): void {
    const be = this.rt.be, { inF, outF } = this.s.site, { r, scale, A, B, W } = this.s;
    const slot = this.cache.find(inp, N);
    if (!slot && this.rt.training && this.rt.cfg.dropout > 0) throw lostSlot(this.s.site.base);
    const seed = slot?.seed ?? -1;
    const x = this.rt.dropAgain(inp, N * inF, seed);
    let xa: Tensor;
    if (slot) xa = slot.bufs[0];
    else {
      xa = this.rt.scratch('xa', N * r);
      be.matmulForward(xa, x, A.tensor, null, N, inF, r);
    }
    be.matmulBackwardWeight(B.grad, dout, xa, N, r, outF, scale);
    const dxa = this.rt.scratch('dxa', N * r);
    be.matmulBackwardInput(dxa, dout, B.tensor, N, r, outF, false, scale);
    if (this.s.trainA) be.matmulBackwardWeight(A.grad, dxa, x, N, inF, r);
    be.matmulBackwardInput(dinp, dout, W, N, inF, outF, accumulate);
    if (seed < 0) be.matmulBackwardInput(dinp, dxa, A.tensor, N, inF, r, true);
    else {
      const g = this.rt.scratch('gx', N * inF);
      be.matmulBackwardInput(g, dxa, A.tensor, N, inF, r, false);
      this.rt.addDropped(dinp, g, N * inF, seed);
    }
  }

  free(): void {
    this.cache.free();
  }
}

// --- initialisation ------------------------------------------------------------------------------

export type LowRankInit = 'kaiming' | 'pissa' | 'milora' | 'olora';

/** A (r×in), B (out×r) from the base weight W (out×in, float32) by SVD (PiSSA: top r triplets,
 * MiLoRA: bottom r) or QR (OLoRA), as PEFT's pissa_init / olora_init:
 *   SVD  W = U S Vᵀ:  A = diag(√(S_r/s)) V_rᵀ,  B = U_r diag(√(S_r/s))
 *   QR   W = Q R:     A = R[:r, :],  B = Q[:, :r]
 * and the residual base weight W − s·B·A (computed in float64 from the float32 factors). */
export function structuredInit(kind: Exclude<LowRankInit, 'kaiming'>, W: Float32Array, outF: number, inF: number, r: number, s: number):
  { A: Float32Array; B: Float32Array; residual: Float32Array } {
  const A = new Float32Array(r * inF), B = new Float32Array(outF * r);
  if (kind === 'olora') {
    const { Q, R, k } = householderQr(W, outF, inF);
    for (let i = 0; i < r; i++) for (let c = 0; c < inF; c++) A[i * inF + c] = R[i * inF + c];
    for (let o = 0; o < outF; o++) for (let i = 0; i < r; i++) B[o * r + i] = Q[o * k + i];
  } else {
    const d = svd(W, outF, inF);
    const first = kind === 'pissa' ? 0 : d.k - r;
    for (let i = 0; i < r; i++) {
      const t = first + i, g = Math.sqrt(d.S[t] / s);
      for (let c = 0; c < inF; c++) A[i * inF + c] = g * d.V[c * d.k + t];
      for (let o = 0; o < outF; o++) B[o * r + i] = g * d.U[o * d.k + t];
    }
  }
  const residual = new Float32Array(outF * inF);
  for (let o = 0; o < outF; o++) {
    for (let c = 0; c < inF; c++) {
      let acc = 0;
      for (let i = 0; i < r; i++) acc += B[o * r + i] * A[i * inF + c];
      residual[o * inF + c] = W[o * inF + c] - s * acc;
    }
  }
  return { A, B, residual };
}

// --- the instance ----------------------------------------------------------------------------------

export interface LowRankVariant {
  init: LowRankInit;
  rsScale: boolean;
  trainA: boolean;
  /** LoRA+: B's learning-rate multiplier is cfg.loraPlusRatio. */
  loraPlus: boolean;
}

export function loraScale(cfg: PeftConfig, rs: boolean): number {
  return rs ? cfg.alpha / Math.sqrt(cfg.r) : cfg.alpha / cfg.r;
}

/** A low-rank adapter set attached to a model. Subclasses (DoRA) add tensors and a different layer. */
export class LowRankInstance implements PeftInstance {
  readonly params: TrainableParam[] = [];
  readonly sites: LowRankSite[] = [];
  readonly rt: AdapterRuntime;
  /** Initial factors of SVD/QR inits, by module (PEFT's "mutated init", for export as plain LoRA). */
  readonly initFactors = new Map<string, { A: Float32Array; B: Float32Array }>();
  protected readonly be: Backend;
  protected readonly adapters = new Map<string, FreeableAdapter>();
  /** Every loadable tensor (trainable or frozen) by PEFT name. */
  protected readonly byName = new Map<string, TrainableParam>();
  private readonly originals = new Map<string, Float32Array>();
  private froze = false;
  private detached = false;

  constructor(readonly model: Model, readonly config: PeftConfig, readonly variant: LowRankVariant) {
    this.be = model.backend;
    this.rt = new AdapterRuntime(this.be, config);
  }

  /** Validate, build every site, install the adapters, freeze the base model. */
  async init(spec: MethodSpec): Promise<void> {
    const errors = spec.validate(this.config, this.model.cfg);
    if (errors.length) throw new Error(`${spec.name}: invalid settings: ${errors.join('; ')}`);
    const list = sites(this.model.cfg, this.config.targets);
    for (const site of list) {
      if (this.model.adapters.has(site.base)) throw new Error(`${site.base} already has an adapter attached: detach it first`);
    }
    const cfg = this.config, r = cfg.r, scale = loraScale(cfg, this.variant.rsScale);
    for (const [index, site] of list.entries()) {
      const W = this.model.p(`${site.base}.weight`);
      const bias = this.model.params.get(`${site.base}.bias`) ?? null;
      let a: Float32Array, b: Float32Array;
      const needW = this.variant.init !== 'kaiming' || this.needsBaseWeight();
      const w0 = needW ? await this.be.read(W) : null;
      if (this.variant.init === 'kaiming' || !w0) {
        a = kaimingUniform(siteRng(cfg, site, 'lora_A'), r, site.inF);
        b = new Float32Array(site.outF * r);
      } else {
        const init = structuredInit(this.variant.init, w0, site.outF, site.inF, r, scale);
        a = init.A;
        b = init.B;
        this.originals.set(`${site.base}.weight`, w0);
        this.initFactors.set(site.base, { A: a, B: b });
        this.be.upload(W, init.residual);
      }
      const A = trainable(this.be, peftName(site.base, 'lora_A.default.weight'), [r, site.inF], a);
      const B = trainable(this.be, peftName(site.base, 'lora_B.default.weight'), [site.outF, r], b,
        this.variant.loraPlus ? cfg.loraPlusRatio : 1);
      const ls: LowRankSite = { site, index, r, scale, A, B, trainA: this.variant.trainA, W, bias };
      if (ls.trainA) this.params.push(A);
      this.params.push(B);
      this.byName.set(A.name, A);
      this.byName.set(B.name, B);
      this.sites.push(ls);
      this.siteExtras(ls, w0);
      const adapter = this.makeAdapter(ls);
      this.adapters.set(site.base, adapter);
      this.model.adapters.set(site.base, adapter);
    }
    this.model.setTrainable([]);
    this.froze = true;
  }

  /** Whether siteExtras needs the base weight on the host (DoRA's magnitude). */
  protected needsBaseWeight(): boolean {
    return false;
  }

  /** Extra tensors of a site (DoRA's magnitude); push them to params/byName. */
  protected siteExtras(_ls: LowRankSite, _w0: Float32Array | null): void {}

  protected makeAdapter(ls: LowRankSite): FreeableAdapter {
    return new LoraAdapter(this.rt, ls);
  }

  /** Dropout on (training) or off (evaluation, generation). */
  setTraining(on: boolean): void {
    this.rt.training = on;
  }

  zeroGrads(): void {
    for (const p of this.params) this.be.zero(p.grad);
  }

  /** s·B·A + W (the current, possibly residual, base weight) of one site, on the backend. */
  protected denseUpdate(ls: LowRankSite): Tensor {
    const { inF, outF } = ls.site;
    const V = this.rt.scratch('dense', outF * inF);
    this.be.matmulBackwardInput(V, ls.B.tensor, ls.A.tensor, outF, inF, ls.r, false, ls.scale);
    this.be.add(V, V, ls.W, outF * inF);
    return V;
  }

  async merged(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const ls of this.sites) {
      const n = ls.site.outF * ls.site.inF;
      out.set(`${ls.site.base}.weight`, (await this.be.read(this.denseUpdate(ls))).slice(0, n));
    }
    return out;
  }

  async snapshot(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [name, p] of this.byName) out.set(name, await this.be.read(p.tensor));
    for (const ls of this.sites) {
      if (this.originals.has(`${ls.site.base}.weight`)) out.set(peftName(ls.site.base, 'base_layer.weight'), await this.be.read(ls.W));
    }
    return out;
  }

  /** Adapter tensors by name, and `…base_layer.weight` of an adapted layer: a frozen base weight
   * (PiSSA/OLoRA residual from another SVD, e.g. PEFT's float32 one); detach restores the original. */
  load(tensors: Map<string, Float32Array>): void {
    const bases = new Map(this.sites.map((ls) => [peftName(ls.site.base, 'base_layer.weight'), ls]));
    for (const [name, data] of tensors) {
      const p = this.byName.get(name), ls = bases.get(name);
      const size = p ? p.tensor.size : ls ? ls.site.outF * ls.site.inF : -1;
      if (size < 0) throw new Error(`load: "${name}" is not a tensor of this ${this.config.method} adapter (e.g. ${[...this.byName.keys()][0]})`);
      if (data.length !== size) throw new Error(`load: "${name}" has ${data.length} values, expected ${p ? `shape [${p.shape}] = ` : ''}${size}`);
    }
    for (const [name, data] of tensors) {
      const p = this.byName.get(name), ls = bases.get(name);
      if (p) this.be.upload(p.tensor, data);
      else if (ls) {
        const key = `${ls.site.base}.weight`;
        if (!this.originals.has(key)) throw new Error(`load: "${name}": the original of ${key} is not kept; load base weights only into SVD/QR-initialised adapters`);
        this.be.upload(ls.W, data);
      }
    }
  }

  detach(): void {
    if (this.detached) return;
    this.detached = true;
    for (const [base, a] of this.adapters) {
      if (this.model.adapters.get(base) === a) this.model.adapters.delete(base);
      a.free();
    }
    for (const [name, w] of this.originals) this.be.upload(this.model.p(name), w);
    this.rt.release([...this.byName.values()].flatMap((p) => [p.tensor, p.grad]));
    this.rt.free();
    // Back to the model's default (every base parameter trainable), unless attach failed early.
    if (this.froze) this.model.setTrainable(this.model.params.keys());
  }
}

// --- method specs --------------------------------------------------------------------------------

const RANK: SettingSpec = { key: 'r', label: 'Rank r', kind: 'int', min: 1, max: 1024, help: 'Rank of the low-rank update B·A.' };
const ALPHA: SettingSpec = { key: 'alpha', label: 'Alpha α', kind: 'float', min: 1e-3, max: 4096, help: 'Scale numerator: s = α/r.' };
const DROPOUT: SettingSpec = { key: 'dropout', label: 'Dropout', kind: 'float', min: 0, max: 0.9, help: 'Dropout on the adapter input while training (0 allowed).' };
const TARGETS: SettingSpec = { key: 'targets', label: 'Target modules', kind: 'targets', help: 'Linear layers to adapt (default: all seven of each block).' };
const SEED: SettingSpec = { key: 'seed', label: 'Seed', kind: 'int', min: 0, max: 2 ** 31 - 1, help: 'Seed of the random init (A) and of dropout masks.' };

export function lowRankSettings(extra: SettingSpec[] = [], alphaHelp?: string): SettingSpec[] {
  return [RANK, alphaHelp ? { ...ALPHA, help: alphaHelp } : ALPHA, DROPOUT, TARGETS, ...extra, SEED];
}

/** r·(in + out) per adapted layer (minus A for LoRA-FA), plus `perOut`·out (DoRA's magnitude). */
export function lowRankCount(cfg: PeftConfig, model: ModelConfig, trainA: boolean, perOut = 0): number {
  let n = 0;
  for (const s of sites(model, cfg.targets)) n += cfg.r * (s.outF + (trainA ? s.inF : 0)) + perOut * s.outF;
  return n;
}

interface LoraDef {
  id: MethodId;
  name: string;
  description: string;
  paper: string;
  variant: LowRankVariant;
  extraSettings?: SettingSpec[];
  alphaHelp?: string;
}

function makeSpec(d: LoraDef): MethodSpec {
  const spec: MethodSpec = {
    id: d.id,
    name: d.name,
    description: d.description,
    paper: d.paper,
    settings: lowRankSettings(d.extraSettings, d.alphaHelp),
    validate(cfg, model) {
      const errors = validateCommon(cfg, model, { rank: true });
      if (d.variant.loraPlus && !(Number.isFinite(cfg.loraPlusRatio) && cfg.loraPlusRatio > 0)) {
        errors.push(`loraPlusRatio: must be a positive number, got ${cfg.loraPlusRatio}`);
      }
      return errors;
    },
    trainableCount: (cfg, model) => lowRankCount(cfg, model, d.variant.trainA),
    // SVD/QR inits: the golden residual comes from PEFT's float32 SVD/QR, whose top-r subspace is
    // only good to ~ε₃₂·‖W‖/gap (layer-0 v_proj of the Qwen2 fixture: σ₄/σ₅ gap 2e-3, residual off
    // by 3e-5). Our own init is compared (B·A, residual) at TOL.grad; the forward then runs on
    // PEFT's residual, as the state it was computed with.
    ...(d.variant.init === 'kaiming'
      ? { deterministicInit: /\.lora_B\.default\.weight$/ }
      : { initProducts: true, fixtureInit: /\.base_layer\.weight$/ }),
    async attach(model, cfg) {
      const inst = new LowRankInstance(model, cfg, d.variant);
      try {
        await inst.init(spec);
      } catch (e) {
        inst.detach();
        throw e;
      }
      return inst;
    },
  };
  return spec;
}

const LORA_PAPER = 'https://arxiv.org/abs/2106.09685';
const plain: LowRankVariant = { init: 'kaiming', rsScale: false, trainA: true, loraPlus: false };

export const lora = makeSpec({
  id: 'lora', name: 'LoRA', paper: LORA_PAPER, variant: plain,
  description: 'Frozen weights plus a trainable low-rank update s·B·A (s = α/r); A Kaiming-uniform, B zero.',
});

export const loraR1 = makeSpec({
  id: 'lora_r1', name: 'Rank-1 LoRA', paper: LORA_PAPER, variant: plain,
  description: 'LoRA at rank 1 (α = 2): the study\'s extreme parameter-reduction baseline.',
});

export const rslora = makeSpec({
  id: 'rslora', name: 'rsLoRA', paper: 'https://arxiv.org/abs/2312.03732',
  variant: { ...plain, rsScale: true }, alphaHelp: 'Scale numerator: s = α/√r (rank-stabilised).',
  description: 'LoRA with the rank-stabilised scale s = α/√r, so higher ranks keep learning.',
});

export const loraPlus = makeSpec({
  id: 'lora_plus', name: 'LoRA+', paper: 'https://arxiv.org/abs/2402.12354',
  variant: { ...plain, loraPlus: true },
  extraSettings: [{ key: 'loraPlusRatio', label: 'LoRA+ ratio λ', kind: 'float', min: 1, max: 64, help: 'B trains at λ × the learning rate (paper: ~16; the study: 2).' }],
  description: 'LoRA whose B matrix trains at λ times the learning rate of A (λ a setting; the study used 2).',
});

export const loraFa = makeSpec({
  id: 'lora_fa', name: 'LoRA-FA', paper: 'https://arxiv.org/abs/2308.03303',
  variant: { ...plain, trainA: false },
  description: 'LoRA with A frozen at its random init; only B trains. Plain frozen A: no (AAᵀ)⁻¹ gradient preconditioning.',
});

export const pissa = makeSpec({
  id: 'pissa', name: 'PiSSA', paper: 'https://arxiv.org/abs/2404.02948',
  variant: { ...plain, init: 'pissa' },
  description: 'A, B from the top-r singular triplets of each weight; the frozen base becomes the residual W − s·B·A.',
});

export const milora = makeSpec({
  id: 'milora', name: 'MiLoRA', paper: 'https://arxiv.org/abs/2406.09044',
  variant: { ...plain, init: 'milora' }, alphaHelp: 'Scale numerator: s = α/r (the study used α = r, s = 1).',
  description: 'As PiSSA with the r smallest singular triplets (minor components); base becomes the residual. The study used α = r.',
});

export const olora = makeSpec({
  id: 'olora', name: 'OLoRA', paper: 'https://arxiv.org/abs/2406.01775',
  variant: { ...plain, init: 'olora' },
  description: 'A, B from the QR decomposition of each weight (first r rows of R, columns of Q); base becomes W − s·B·A.',
});
