// The plumbing every PEFT method shares. Adapter methods (LoRA family, DoRA, AdaLoRA, MiSS, VeRA,
// IA³) attach through attachAdapters, and one AdapterRuntime per attached instance owns:
//   - the adapter tensors (trainable or frozen) by PEFT name, and frees them on detach;
//   - shared scratch tensors, grown on demand to the largest N = B·T asked for;
//   - per-layer activation caches (ActCache) that a forward fills for its backward, keyed by the
//     input tensor so that decoding between a forward and its backward does not clobber them;
//   - inverted dropout on the adapter input only (PEFT's lora_dropout / vera_dropout /
//     miss_dropout; the base path sees the undropped input), on while `training` (PEFT's
//     module.train()/eval()). Each forward draws a fresh seed and its backward replays the same
//     mask (the backend's dropout is a pure function of seed and index); seed −1 means no dropout;
//   - checked loading by name, snapshots, and detach;
//   - merged weights for inference (withMerged): each layer's MergeRule forms its effective weight
//     W′ on the backend into a fresh tensor, the model reads W′ in place of its base weight with the
//     adapters bypassed, and afterwards the base weights are back and W′ is freed.
// Full fine-tuning and LN tuning train base parameters in place: baseParamsInstance.
// backend.free() is always safe here: the WebGPU backend defers destruction past the open encoder.
import type { Backend, Tensor } from '../engine/backend.ts';
import type { LinearAdapter, Model } from '../model/model.ts';
import { trainable, type Site } from './common.ts';
import type { MethodSpec, PeftConfig, PeftInstance, TrainableParam } from './types.ts';

// --- loading and reading by name -----------------------------------------------------------------

/** Where a loaded tensor goes: its size and how to set it. */
export interface LoadTarget {
  size: number;
  set(data: Float32Array): void;
}

/** PeftInstance.load into the tensors of `params` by name, `extra` resolving any other names the
 * method accepts: every name resolved and every size checked (errors name the tensor; `extra` may
 * also throw) before anything is set, so a bad checkpoint changes nothing. */
export function loadChecked(be: Backend, tensors: Map<string, Float32Array>, method: string, params: Map<string, TrainableParam>,
  extra?: (name: string) => LoadTarget | undefined): void {
  const plan: [LoadTarget, Float32Array][] = [];
  for (const [name, data] of tensors) {
    const p = params.get(name);
    const t = p ? { size: p.tensor.size, set: (d: Float32Array) => be.upload(p.tensor, d) } : extra?.(name);
    if (!t) throw new Error(`${method}: unknown tensor "${name}" (e.g. "${params.keys().next().value}")`);
    if (data.length !== t.size) throw new Error(`${method}: ${name}: got ${data.length} values, expected ${t.size}`);
    plan.push([t, data]);
  }
  for (const [t, data] of plan) t.set(data);
}

/** Read tensors back by name, in order. */
export async function readNamed(be: Backend, named: Iterable<[string, Tensor]>): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of named) out.set(name, await be.read(t));
  return out;
}

/** Base weight (and bias) of a site. */
export function baseOf(model: Model, site: Site): { w: Tensor; bias: Tensor | null } {
  return { w: model.p(`${site.base}.weight`), bias: model.params.get(`${site.base}.bias`) ?? null };
}

// --- activations kept from forward for backward ------------------------------------------------

/** What one forward call over one input kept for its backward. */
interface Slot {
  inp: Tensor | null;
  N: number;
  seed: number;
  bufs: Tensor[];
  rows: number;
  tick: number;
}

/**
 * One layer's forward-to-backward state keyed by the input tensor, in two slots (the least
 * recently used is reused): the model's training activations and the decoder's buffers are
 * different tensors, so generating between a training forward and its backward does not clobber
 * them. Buffer i holds perRow[i]·N values, then the fixed-size buffers follow.
 */
export class ActCache {
  private readonly slots: Slot[] = [];
  private tick = 0;

  constructor(private readonly rt: AdapterRuntime, private readonly base: string, private readonly perRow: number[],
    private readonly fixed: number[]) {}

  take(inp: Tensor, N: number, seed: number): Slot {
    let slot = this.slots.find((s) => s.inp === inp);
    if (!slot && this.slots.length < 2) {
      slot = { inp: null, N: 0, seed: -1, bufs: [], rows: 0, tick: 0 };
      this.slots.push(slot);
    }
    slot ??= this.slots.reduce((a, b) => (a.tick <= b.tick ? a : b));
    if (slot.rows < N) {
      const be = this.rt.be, label = `${this.base}.${this.rt.cfg.method}`;
      for (const t of slot.bufs) be.free(t);
      slot.bufs = [...this.perRow.map((w, i) => be.alloc(`${label}.act${i}`, Math.max(1, w * N))),
        ...this.fixed.map((n, i) => be.alloc(`${label}.fix${i}`, Math.max(1, n)))];
      slot.rows = N;
    }
    Object.assign(slot, { inp, N, seed, tick: ++this.tick });
    return slot;
  }

  /** The slot of the last forward over `inp` with N rows; null if it was reused, in which case the
   * layer recomputes what it needs. Under dropout that is impossible (the mask is gone): throws. */
  find(inp: Tensor, N: number): Slot | null {
    const slot = this.slots.find((s) => s.inp === inp && s.N === N) ?? null;
    if (!slot && this.rt.dropping) {
      throw new Error(`${this.base}: backward without its forward's activations (more than one other forward over a different input `
        + 'happened in between) while dropout is active: run forward again before backward');
    }
    return slot;
  }

  free(): void {
    for (const s of this.slots) for (const t of s.bufs) this.rt.be.free(t);
    this.slots.length = 0;
  }
}

// --- the runtime ---------------------------------------------------------------------------------

// --- merged weights ---------------------------------------------------------------------------------

/** How one adapted layer's effective weight W′ (out × in) is formed on the backend from the current
 * adapter tensors, and its bias where the method changes it (IA³ on an output target): the dense
 * layer that computes what the adapter computes in eval mode (no dropout). */
export interface MergeRule {
  weight(dst: Tensor): void;
  bias?(dst: Tensor): void;
}

/** What a method adds to the default PeftInstance of its runtime (see AdapterRuntime.instance). */
type InstanceParts = Pick<PeftInstance, 'merged'> & Partial<PeftInstance>;

export class AdapterRuntime {
  /** Dropout is active only while training (PEFT's module.training). */
  training = true;
  readonly be: Backend;
  /** Every loadable adapter tensor (trainable or frozen) by PEFT name, in creation order. */
  readonly byName = new Map<string, TrainableParam>();
  private calls = 0;
  private readonly scratchMap = new Map<string, Tensor>();
  private readonly caches: ActCache[] = [];
  private readonly frozen: Tensor[] = [];
  private readonly installed = new Map<string, LinearAdapter>();
  private readonly rules = new Map<string, MergeRule>();
  private merging = false;
  private readonly cleanups: (() => void)[] = [];
  private detached = false;

  /** `name`: the method's display name (errors); `p`: the dropout probability (IA³ has none). */
  constructor(readonly model: Model, readonly cfg: PeftConfig, readonly name: string, readonly p = cfg.dropout) {
    this.be = model.backend;
    model.setTrainable([]);
  }

  /** Whether a forward draws a dropout mask now. */
  get dropping(): boolean {
    return this.training && this.p > 0;
  }

  // --- what the adapters own ---

  /** A trainable tensor (with gradient), registered for load, snapshot and detach. */
  param(name: string, shape: number[], init: Float32Array, lrScale = 1): TrainableParam {
    const p = trainable(this.be, name, shape, init, lrScale);
    this.byName.set(name, p);
    return p;
  }

  /** A frozen tensor freed on detach (VeRA's shared projections). */
  alloc(label: string, size: number): Tensor {
    const t = this.be.alloc(label, size);
    this.frozen.push(t);
    return t;
  }

  /** A layer's activation cache: perRow[i]·N values per buffer, then `fixed` sizes. */
  acts(base: string, perRow: number[], fixed: number[] = []): ActCache {
    const c = new ActCache(this, base, perRow, fixed);
    this.caches.push(c);
    return c;
  }

  /** Put an adapter on a layer of the model, with the rule that merges it into a dense weight. */
  install(base: string, adapter: LinearAdapter, merge: MergeRule): void {
    if (this.model.adapters.has(base)) throw new Error(`${base} already has an adapter attached: detach it first`);
    this.model.adapters.set(base, adapter);
    this.installed.set(base, adapter);
    this.rules.set(base, merge);
  }

  /** Run `fn` on detach, before anything is freed (LoRA's PiSSA/OLoRA put the original weights back). */
  onDetach(fn: () => void): void {
    this.cleanups.push(fn);
  }

  // --- per call ---

  /** A shared scratch tensor of at least n elements (grown on demand). */
  scratch(key: string, n: number): Tensor {
    const t = this.scratchMap.get(key);
    if (t && t.size >= n) return t;
    if (t) this.be.free(t);
    const fresh = this.be.alloc(`peft.${this.cfg.method}.${key}`, Math.max(1, n));
    this.scratchMap.set(key, fresh);
    return fresh;
  }

  /** A fresh dropout seed in [0, 2³¹) for one forward call of one layer, or −1 when not dropping. */
  forwardSeed(site: number): number {
    if (!this.dropping) return -1;
    let h = Math.imul(this.cfg.seed | 0, 0x9e3779b1) ^ Math.imul(++this.calls, 0x85ebca77) ^ Math.imul(site + 1, 0xc2b2ae3d);
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
    h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
    return (h ^ (h >>> 16)) >>> 1;
  }

  /** The adapter's view of `inp` (n entries) under `seed`: inp itself for seed −1. */
  drop(inp: Tensor, n: number, seed: number): Tensor {
    if (seed < 0) return inp;
    const x = this.scratch('dropx', n);
    this.be.dropout(x, inp, n, this.p, seed);
    return x;
  }

  /** dinp += dropout(g) with the forward's mask, where `write(g, accumulate)` produces the
   * adapter's input gradient g (dropout's backward is the same call on the gradient). */
  addInputGrad(dinp: Tensor, n: number, seed: number, write: (g: Tensor, accumulate: boolean) => void): void {
    if (seed < 0) return write(dinp, true);
    const g = this.scratch('dropg', n), x = this.scratch('dropx', n);
    write(g, false);
    this.be.dropout(x, g, n, this.p, seed);
    this.be.add(dinp, dinp, x, n);
  }

  /** dst (rows × cols) = M ⊙ s per row, s (rows): s broadcast along the rows by a K = 1 matmul against
   * ones (exact: one product by 1 per entry), then one elementwise product. dst may not alias M. */
  scaleRows(dst: Tensor, M: Tensor, s: Tensor, rows: number, cols: number): void {
    let ones = this.scratchMap.get('ones');
    if (!ones || ones.size < cols) {
      ones = this.scratch('ones', cols);
      this.be.upload(ones, new Float32Array(ones.size).fill(1));
    }
    const S = this.scratch('rowScale', rows * cols);
    this.be.matmulForward(S, s, ones, null, rows, 1, cols);
    this.be.scaleCols(dst, M, S, null, 1, rows * cols, false);
  }

  // --- merged weights ---

  /**
   * Run `fn` with every adapted layer reading its merged weight W′ (formed here on the backend, no
   * readback) and the adapters bypassed: the eval-mode forward at one matmul per layer, equal to the
   * adapters' forward up to float32 rounding. W′ goes into fresh tensors that stand in the model's
   * parameter table for the base weights, which are never written (rounding cannot accumulate over
   * steps); afterwards, however `fn` ends, the base tensors are back, the adapters on and W′ freed.
   * The adapter tensors must not change inside `fn` (W′ would not follow).
   */
  async withMerged<T>(fn: () => Promise<T>): Promise<T> {
    if (this.detached) throw new Error(`${this.name}: withMerged after detach`);
    if (this.merging) throw new Error(`${this.name}: withMerged is already running`);
    const { model, be } = this, enabled = model.adaptersEnabled;
    const swaps: { name: string; base: Tensor; merged: Tensor }[] = [];
    const form = (name: string, write: (dst: Tensor) => void) => {
      const base = model.p(name), merged = be.alloc(`merged:${name}`, base.size);
      swaps.push({ name, base, merged });
      write(merged);
    };
    this.merging = true;
    try {
      for (const [base, { weight, bias }] of this.rules) {
        form(`${base}.weight`, weight);
        if (bias) form(`${base}.bias`, bias);
      }
      for (const s of swaps) model.params.set(s.name, s.merged);
      model.adaptersEnabled = false;
      return await fn();
    } finally {
      model.adaptersEnabled = enabled;
      for (const s of swaps) {
        model.params.set(s.name, s.base);
        be.free(s.merged);
      }
      this.merging = false;
    }
  }

  /** Every layer's merge rule read back, under HF names (a method's merged() when its rule is the
   * reference itself: the LoRA family and AdaLoRA). */
  async readMerged(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    const read = async (name: string, write: (dst: Tensor) => void) => {
      const n = this.model.p(name).size, t = this.scratch('merged', n);
      write(t);
      out.set(name, (await this.be.read(t)).slice(0, n));
    };
    for (const [base, { weight, bias }] of this.rules) {
      await read(`${base}.weight`, weight);
      if (bias) await read(`${base}.bias`, bias);
    }
    return out;
  }

  // --- the instance ---

  zeroGrads(params: TrainableParam[]): void {
    this.be.zeroAll(params.map((p) => p.grad));
  }

  /** Every registered tensor by name. */
  snapshot(): Promise<Map<string, Float32Array>> {
    return readNamed(this.be, [...this.byName].map(([n, p]) => [n, p.tensor]));
  }

  /** Registered tensors by name; `extra` resolves any other names the method accepts. */
  load(tensors: Map<string, Float32Array>, extra?: (name: string) => LoadTarget | undefined): void {
    loadChecked(this.be, tensors, this.name, this.byName, extra);
  }

  /** Remove the adapters, free every tensor, and make the base model trainable again. Idempotent. */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    for (const [base, a] of this.installed) if (this.model.adapters.get(base) === a) this.model.adapters.delete(base);
    for (const fn of this.cleanups) fn();
    for (const c of this.caches) c.free();
    const params = [...this.byName.values()].flatMap((p) => [p.tensor, p.grad]);
    for (const t of [...params, ...this.frozen, ...this.scratchMap.values()]) this.be.free(t);
    this.scratchMap.clear();
    this.model.setTrainable(this.model.params.keys());
  }

  /** The PeftInstance of a method built on this runtime: defaults for everything but `merged`. */
  instance(params: TrainableParam[], parts: InstanceParts): PeftInstance {
    return {
      config: this.cfg,
      params,
      zeroGrads: () => this.zeroGrads(params),
      setTraining: (on) => void (this.training = on),
      withMerged: (fn) => this.withMerged(fn),
      snapshot: () => this.snapshot(),
      load: (tensors) => this.load(tensors),
      detach: () => this.detach(),
      ...parts,
    };
  }
}

/** Validate (errors name the setting), then build the method's adapters on a fresh runtime (the
 * base model frozen); if building fails, everything built so far is detached. */
export async function attachAdapters<I extends PeftInstance>(spec: MethodSpec, model: Model, cfg: PeftConfig,
  build: (rt: AdapterRuntime) => I | Promise<I>, dropout = cfg.dropout): Promise<I> {
  const errors = spec.validate(cfg, model.cfg);
  if (errors.length) throw new Error(`${spec.name}: invalid settings: ${errors.join('; ')}`);
  const rt = new AdapterRuntime(model, cfg, spec.name, dropout);
  try {
    return await build(rt);
  } catch (e) {
    rt.detach();
    throw e;
  }
}

// --- methods that train base parameters in place (full fine-tuning, LN tuning) -----------------

/** The PeftInstance of a method that trains the model's own parameters `hfNames` in place, each
 * listed as `describe(hf)` says: merged() reads them under their HF names, snapshot() under the
 * listed names, load() takes either; detach() puts `originals` back (if given) and releases the
 * gradients, leaving every base parameter trainable (the model's default). */
export function baseParamsInstance(model: Model, cfg: PeftConfig, method: string, hfNames: string[],
  describe: (hf: string) => Pick<TrainableParam, 'name' | 'shape' | 'weightDecay'>, originals?: Map<string, Float32Array>): PeftInstance {
  const be = model.backend;
  model.setTrainable(hfNames);
  model.zeroGrads();
  const params = hfNames.map((hf): TrainableParam => {
    const grad = model.grads.get(hf);
    if (!grad) throw new Error(`${method}: the model allocated no gradient for "${hf}"`);
    return { ...describe(hf), tensor: model.p(hf), grad, lrScale: 1 };
  });
  const byName = new Map([...params.map((p) => [p.name, p] as const), ...hfNames.map((hf, i) => [hf, params[i]] as const)]);
  return {
    config: cfg,
    params,
    zeroGrads: () => model.zeroGrads(),
    merged: () => readNamed(be, hfNames.map((hf, i) => [hf, params[i].tensor])),
    // The trained parameters are the model's own: there is nothing to merge.
    withMerged: (fn) => fn(),
    snapshot: () => readNamed(be, params.map((p) => [p.name, p.tensor])),
    load: (tensors) => loadChecked(be, tensors, method, byName),
    detach() {
      for (const [hf, data] of originals ?? []) be.upload(model.p(hf), data);
      model.setTrainable([]); // releases the gradients
      model.setTrainable(model.params.keys());
    },
  };
}
