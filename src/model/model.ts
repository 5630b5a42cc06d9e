// A Qwen2 / Llama-family decoder written as flat call lists against the Backend op set.
// forward() and backward() read top to bottom as the whole model: no hidden autograd. A layer's forward
// is written once (block()), for training and for the decoder's unfused step.
//
// Shapes: N = B*T rows; C hidden; QD = NH*HS; KD = NKV*HS; I intermediate; V vocab.
import type { Backend, Tensor } from '../engine/backend.ts';
import { paramShapes, type ModelConfig } from './config.ts';

export type Proj = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj';
export const PROJS: readonly Proj[] = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

export function projName(layer: number, p: Proj): string {
  const block = p === 'gate_proj' || p === 'up_proj' || p === 'down_proj' ? 'mlp' : 'self_attn';
  return `model.layers.${layer}.${block}.${p}`;
}

/** The tensors one transformer layer reads and writes (Model.block): the residual stream resIn → resMid, and
 * between them each norm's output and rstd, q/k/v before and after RoPE, attention's output and the MLP's. */
interface BlockBufs {
  resIn: Tensor; ln1: Tensor; rstd1: Tensor;
  q: Tensor; k: Tensor; v: Tensor; qr: Tensor; kr: Tensor; atty: Tensor;
  resMid: Tensor; ln2: Tensor; rstd2: Tensor; gate: Tensor; up: Tensor; h: Tensor;
}

/** Activations kept from forward for backward, per layer, for one (B, T): the block's, and attention's probabilities. */
interface LayerActs extends BlockBufs {
  att: Tensor;
}

interface Acts {
  B: number; T: number;
  /** 1 / the temperature of the last forward, for backward. */
  invTemp: number;
  ids: Tensor; targets: Tensor;
  layers: LayerActs[];
  resOut: Tensor; lnf: Tensor; rstdf: Tensor; logits: Tensor; logp: Tensor; lse: Tensor;
  /** The o_proj / down_proj output before its residual add (forward scratch). */
  proj: Tensor;
  // backward scratch
  dres: Tensor; dln: Tensor; dlogits: Tensor; dlogp: Tensor; dh: Tensor; dgate: Tensor; dup: Tensor;
  datty: Tensor; dqr: Tensor; dq: Tensor; dkr: Tensor; dk: Tensor; dv: Tensor; dscores: Tensor;
}

/** One adapted linear layer (a PEFT method's per-layer module). It replaces the base matmul. */
export interface LinearAdapter {
  /** out (N, outF) = the adapted layer applied to inp (N, inF), bias included. */
  forward(out: Tensor, inp: Tensor, N: number): void;
  /** Adapter parameter gradients (+=) and dinp (N, inF) (= or += when accumulate). Frozen base weights get no gradient. */
  backward(dinp: Tensor, dout: Tensor, inp: Tensor, N: number, accumulate: boolean): void;
}

export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}

export class Model {
  readonly params = new Map<string, Tensor>();
  /** Gradients of the trainable base parameters (see setTrainable). */
  readonly grads = new Map<string, Tensor>();
  /** PEFT adapters by projection name (`model.layers.0.self_attn.q_proj`). */
  readonly adapters = new Map<string, LinearAdapter>();
  /** Off: every projection runs its base weights (the KL reference policy of a PEFT run). */
  adaptersEnabled = true;
  private trainable: Set<string>;
  private acts: Acts | null = null;
  private readonly shapes: Map<string, number[]>;

  constructor(readonly backend: Backend, readonly cfg: ModelConfig, weights: Map<string, Float32Array>) {
    this.shapes = paramShapes(cfg);
    for (const [name, shape] of this.shapes) {
      const data = weights.get(name);
      if (!data) throw new ModelError(`weights are missing tensor "${name}" (shape [${shape}])`);
      const size = shape.reduce((a, b) => a * b, 1);
      if (data.length !== size) throw new ModelError(`tensor "${name}" has ${data.length} values, expected shape [${shape}] = ${size}`);
      const t = backend.alloc(name, size);
      backend.upload(t, data);
      this.params.set(name, t);
    }
    this.trainable = new Set(this.params.keys());
  }

  /** Which base parameters get gradients (all by default: full fine-tuning). */
  setTrainable(names: Iterable<string>): void {
    const set = new Set(names);
    for (const n of set) if (!this.params.has(n)) throw new ModelError(`setTrainable: no parameter "${n}"`);
    for (const [n, g] of this.grads) {
      if (!set.has(n)) {
        this.backend.free(g);
        this.grads.delete(n);
      }
    }
    this.trainable = set;
  }

  p(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) throw new ModelError(`no parameter "${name}"`);
    return t;
  }

  private get head(): string {
    return this.cfg.tieEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  }

  /** Allocate (once) a gradient tensor for every trainable base parameter and zero them all. */
  zeroGrads(): void {
    const gs: Tensor[] = [];
    for (const [name, t] of this.params) {
      if (!this.trainable.has(name)) continue;
      let g = this.grads.get(name);
      if (!g) {
        g = this.backend.alloc(`grad:${name}`, t.size);
        this.grads.set(name, g);
      }
      gs.push(g);
    }
    this.backend.zeroAll(gs);
  }

  /** The gradient of a trainable parameter, or null when it is frozen. */
  private g(name: string): Tensor | null {
    if (!this.trainable.has(name)) return null;
    const t = this.grads.get(name);
    if (!t) throw new ModelError('gradients are not allocated: call zeroGrads() before backward()');
    return t;
  }

  private ensureActs(B: number, T: number): Acts {
    if (this.acts && this.acts.B === B && this.acts.T === T) return this.acts;
    if (this.acts) this.freeActs(this.acts);
    const { hidden: C, heads: NH, kvHeads: NKV, headDim: HS, intermediate: I, vocabSize: V } = this.cfg;
    const N = B * T, QD = NH * HS, KD = NKV * HS;
    const a = (label: string, n: number) => this.backend.alloc(label, n);
    const layers: LayerActs[] = [];
    for (let l = 0; l < this.cfg.layers; l++) {
      const x = (s: string, n: number) => a(`L${l}.${s}`, n);
      layers.push({
        resIn: x('resIn', N * C), ln1: x('ln1', N * C), rstd1: x('rstd1', N),
        q: x('q', N * QD), k: x('k', N * KD), v: x('v', N * KD), qr: x('qr', N * QD), kr: x('kr', N * KD),
        att: x('att', B * NH * T * T), atty: x('atty', N * QD),
        resMid: x('resMid', N * C), ln2: x('ln2', N * C), rstd2: x('rstd2', N),
        gate: x('gate', N * I), up: x('up', N * I), h: x('h', N * I),
      });
    }
    this.acts = {
      B, T, layers, invTemp: 1,
      ids: this.backend.alloc('ids', N, 'i32'), targets: this.backend.alloc('targets', N, 'i32'),
      resOut: a('resOut', N * C), proj: a('proj', N * C), lnf: a('lnf', N * C), rstdf: a('rstdf', N), logits: a('logits', N * V),
      logp: a('logp', N), lse: a('lse', N),
      dres: a('dres', N * C), dln: a('dln', N * C), dlogits: a('dlogits', N * V), dlogp: a('dlogp', N),
      dh: a('dh', N * I), dgate: a('dgate', N * I), dup: a('dup', N * I),
      datty: a('datty', N * QD), dqr: a('dqr', N * QD), dq: a('dq', N * QD), dkr: a('dkr', N * KD), dk: a('dk', N * KD),
      dv: a('dv', N * KD), dscores: a('dscores', B * NH * T * T),
    };
    return this.acts;
  }

  /** Free every backend tensor the model owns: weights, gradients and activations (detach adapters first). */
  free(): void {
    if (this.acts) this.freeActs(this.acts);
    this.acts = null;
    for (const t of [...this.params.values(), ...this.grads.values()]) this.backend.free(t);
    this.params.clear();
    this.grads.clear();
  }

  private freeActs(acts: Acts): void {
    for (const [key, v] of Object.entries(acts)) {
      if (key === 'layers') for (const l of acts.layers) for (const t of Object.values(l)) this.backend.free(t);
      else if (typeof v === 'object' && v !== null) this.backend.free(v as Tensor);
    }
  }

  /** out (N, out) = inp (N, in) · Wᵀ + b for one projection of one layer, through its adapter if any. */
  linear(l: number, p: Proj, out: Tensor, inp: Tensor, N: number, C: number, OC: number): void {
    const name = projName(l, p);
    const adapter = this.adaptersEnabled ? this.adapters.get(name) : undefined;
    if (adapter) return adapter.forward(out, inp, N);
    this.backend.matmulForward(out, inp, this.p(`${name}.weight`), this.params.get(`${name}.bias`) ?? null, N, C, OC);
  }

  /** The weight and bias a projection runs with when no adapter stands in (none, disabled, or merged
   * into the weight); null while an adapter runs its own matmuls. */
  plainLinear(l: number, p: Proj): { w: Tensor; b: Tensor | null } | null {
    const name = projName(l, p);
    if (this.adaptersEnabled && this.adapters.has(name)) return null;
    return { w: this.p(`${name}.weight`), b: this.params.get(`${name}.bias`) ?? null };
  }

  /** Backward of linear: W and b gradients (+=), input gradient (= or += when accumulate). */
  private linearBackward(l: number, p: Proj, dinp: Tensor, dout: Tensor, inp: Tensor, N: number, C: number, OC: number, accumulate: boolean): void {
    const name = projName(l, p);
    const adapter = this.adaptersEnabled ? this.adapters.get(name) : undefined;
    if (adapter) return adapter.backward(dinp, dout, inp, N, accumulate);
    const dw = this.g(`${name}.weight`), db = this.g(`${name}.bias`);
    if (dw) this.backend.matmulBackwardWeight(dw, dout, inp, N, C, OC);
    if (db) this.backend.biasBackward(db, dout, N, OC);
    this.backend.matmulBackwardInput(dinp, dout, this.p(`${name}.weight`), N, C, OC, accumulate);
  }

  private checkBatch(ids: Int32Array, B: number, T: number): void {
    if (!Number.isInteger(B) || !Number.isInteger(T) || B < 1 || T < 1) throw new ModelError(`invalid batch shape B=${B}, T=${T}`);
    if (ids.length !== B * T) throw new ModelError(`expected ${B * T} token ids for B=${B}, T=${T}, got ${ids.length}`);
    if (T > this.cfg.maxPositions) throw new ModelError(`sequence length ${T} exceeds the model's maximum of ${this.cfg.maxPositions} positions`);
    for (const id of ids) {
      if (!(id >= 0 && id < this.cfg.vocabSize)) throw new ModelError(`token id ${id} is outside the vocabulary (size ${this.cfg.vocabSize})`);
    }
  }

  /**
   * Forward pass over ids (B,T). targets (B*T) are the token each row should predict (already
   * shifted; negative = masked). Leaves logits (N,V) and per-row log-probs logp (N) on the backend;
   * logp is of softmax(logits / temperature), the distribution a tempered sampler drew from.
   */
  forward(ids: Int32Array, targets: Int32Array, B: number, T: number, temperature = 1): { logits: Tensor; logp: Tensor } {
    this.checkBatch(ids, B, T);
    if (targets.length !== B * T) throw new ModelError(`expected ${B * T} targets, got ${targets.length}`);
    const be = this.backend, cfg = this.cfg, A = this.ensureActs(B, T);
    const { hidden: C, heads: NH, kvHeads: NKV, headDim: HS, vocabSize: V, rmsEps: eps } = cfg;
    const N = B * T;
    be.upload(A.ids, ids);
    be.upload(A.targets, targets);

    be.embeddingForward(A.layers[0].resIn, A.ids, this.p('model.embed_tokens.weight'), N, C);
    for (let l = 0; l < cfg.layers; l++) {
      const L = A.layers[l];
      this.block(l, L, l > 0 ? A.layers[l - 1].resMid : null, A.proj, B, T, 0,
        () => be.attentionForward(L.atty, L.att, L.qr, L.kr, L.v, B, T, NH, NKV, HS));
    }
    be.addRmsnormForward(A.resOut, A.lnf, A.rstdf, A.layers[cfg.layers - 1].resMid, A.proj, this.p('model.norm.weight'), N, C, eps);
    be.matmulForward(A.logits, A.lnf, this.p(this.head), null, N, C, V);
    A.invTemp = 1 / temperature;
    be.logprobForward(A.logp, A.lse, A.logits, A.targets, N, V, A.invTemp);
    return { logits: A.logits, logp: A.logp };
  }

  /**
   * One transformer layer over N = B·T rows at positions pos0 + t, written once for training's forward and
   * decoding's step; `attend` fills L.atty from L.qr, L.kr, L.v (causal attention, or a KV cache's).
   * The residual adds run in the next norm's kernel: with `prevMid` (the layer before's resMid) the stream
   * enters as prevMid + proj (that layer's MLP output), formed with ln1; resMid = resIn + o_proj(attention)
   * with ln2; and the MLP's output is left in proj for the next layer (or the final norm) to add.
   * Public for the Decoder below, not for callers.
   */
  block(l: number, L: BlockBufs, prevMid: Tensor | null, proj: Tensor, B: number, T: number, pos0: number, attend: () => void): void {
    const be = this.backend;
    const { hidden: C, heads: NH, kvHeads: NKV, headDim: HS, intermediate: I, rmsEps: eps, ropeTheta: base } = this.cfg;
    const N = B * T, QD = NH * HS, KD = NKV * HS;
    const pre = `model.layers.${l}`;
    const ln1w = this.p(`${pre}.input_layernorm.weight`);
    if (prevMid) be.addRmsnormForward(L.resIn, L.ln1, L.rstd1, prevMid, proj, ln1w, N, C, eps);
    else be.rmsnormForward(L.ln1, L.rstd1, L.resIn, ln1w, N, C, eps);
    this.linear(l, 'q_proj', L.q, L.ln1, N, C, QD);
    this.linear(l, 'k_proj', L.k, L.ln1, N, C, KD);
    this.linear(l, 'v_proj', L.v, L.ln1, N, C, KD);
    be.rope(L.qr, L.q, L.kr, L.k, B, T, NH, NKV, HS, base, pos0, false);
    attend();
    this.linear(l, 'o_proj', proj, L.atty, N, QD, C);
    be.addRmsnormForward(L.resMid, L.ln2, L.rstd2, L.resIn, proj, this.p(`${pre}.post_attention_layernorm.weight`), N, C, eps);
    this.linear(l, 'gate_proj', L.gate, L.ln2, N, C, I);
    this.linear(l, 'up_proj', L.up, L.ln2, N, C, I);
    be.swigluForward(L.h, L.gate, L.up, N * I);
    this.linear(l, 'down_proj', proj, L.h, N, I, C);
  }

  /** Backward from d(objective)/d(logp) (N); accumulates into every parameter gradient. */
  backward(dlogp: Float32Array): void {
    const A = this.acts;
    if (!A) throw new ModelError('backward() called before forward()');
    const be = this.backend, cfg = this.cfg;
    const { B, T } = A;
    const { hidden: C, heads: NH, kvHeads: NKV, headDim: HS, intermediate: I, vocabSize: V, ropeTheta: base } = cfg;
    const N = B * T, QD = NH * HS, KD = NKV * HS;
    if (dlogp.length !== N) throw new ModelError(`backward: expected ${N} log-prob gradients, got ${dlogp.length}`);
    be.upload(A.dlogp, dlogp);

    be.logprobBackward(A.dlogits, A.dlogp, A.logits, A.lse, A.targets, N, V, A.invTemp);
    const dhead = this.g(this.head);
    if (dhead) be.matmulBackwardWeight(dhead, A.dlogits, A.lnf, N, C, V);
    be.matmulBackwardInput(A.dln, A.dlogits, this.p(this.head), N, C, V, false);
    be.zero(A.dres);
    this.normWeightBackward('model.norm.weight', A.dln, A.resOut, A.rstdf, N, C);
    be.rmsnormBackwardInput(A.dres, A.dln, A.resOut, this.p('model.norm.weight'), A.rstdf, N, C);
    for (let l = cfg.layers - 1; l >= 0; l--) {
      const L = A.layers[l];
      const pre = `model.layers.${l}`;
      // MLP: dres is d(resOut) = d(down output) and flows on to resMid unchanged.
      this.linearBackward(l, 'down_proj', A.dh, A.dres, L.h, N, I, C, false);
      be.swigluBackward(A.dgate, A.dup, A.dh, L.gate, L.up, N * I);
      this.linearBackward(l, 'gate_proj', A.dln, A.dgate, L.ln2, N, C, I, false);
      this.linearBackward(l, 'up_proj', A.dln, A.dup, L.ln2, N, C, I, true);
      this.normWeightBackward(`${pre}.post_attention_layernorm.weight`, A.dln, L.resMid, L.rstd2, N, C);
      be.rmsnormBackwardInput(A.dres, A.dln, L.resMid, this.p(`${pre}.post_attention_layernorm.weight`), L.rstd2, N, C);
      // Attention: dres is now d(resMid) = d(o_proj output).
      this.linearBackward(l, 'o_proj', A.datty, A.dres, L.atty, N, QD, C, false);
      be.attentionBackward(A.dqr, A.dkr, A.dv, A.dscores, A.datty, L.qr, L.kr, L.v, L.att, B, T, NH, NKV, HS);
      be.rope(A.dq, A.dqr, A.dk, A.dkr, B, T, NH, NKV, HS, base, 0, true);
      this.linearBackward(l, 'q_proj', A.dln, A.dq, L.ln1, N, C, QD, false);
      this.linearBackward(l, 'k_proj', A.dln, A.dk, L.ln1, N, C, KD, true);
      this.linearBackward(l, 'v_proj', A.dln, A.dv, L.ln1, N, C, KD, true);
      this.normWeightBackward(`${pre}.input_layernorm.weight`, A.dln, L.resIn, L.rstd1, N, C);
      be.rmsnormBackwardInput(A.dres, A.dln, L.resIn, this.p(`${pre}.input_layernorm.weight`), L.rstd1, N, C);
    }
    const dwte = this.g('model.embed_tokens.weight');
    if (dwte) be.embeddingBackward(dwte, A.dres, A.ids, N, C, V);
  }

  private normWeightBackward(name: string, dout: Tensor, inp: Tensor, rstd: Tensor, N: number, C: number): void {
    const dw = this.g(name);
    if (dw) this.backend.rmsnormBackwardWeight(dw, dout, inp, rstd, N, C);
  }

  /** Greedy decoding with a KV cache: prompt (B,P) → (B, P+steps) token ids. */
  async generateGreedy(prompt: Int32Array, B: number, steps: number): Promise<Int32Array> {
    return (await this.generate(prompt, B, steps, { temperature: 0, topP: 1, seed: 0 })).tokens;
  }

  /**
   * KV-cached generation of up to `steps` tokens after each prompt row (B,P): greedy at
   * temperature 0, else sampled (temperature, top-p) with a counter-based RNG keyed by `seed`,
   * so the same seed gives the same samples. Stops early once every row has produced `eosId`.
   */
  async generate(prompt: Int32Array, B: number, steps: number, opts: GenerateOptions): Promise<Generation> {
    const P = prompt.length / B;
    if (!Number.isInteger(P) || P < 1) throw new ModelError(`prompt of ${prompt.length} ids does not split into ${B} rows`);
    if (!Number.isInteger(steps) || steps < 1) throw new ModelError(`number of new tokens must be a positive integer, got ${steps}`);
    const Tmax = P + steps;
    this.checkBatch(prompt, B, P);
    if (Tmax > this.cfg.maxPositions) throw new ModelError(`prompt (${P}) + new tokens (${steps}) exceed the model's ${this.cfg.maxPositions} positions`);
    if (!(opts.temperature >= 0) || !(opts.topP > 0 && opts.topP <= 1)) {
      throw new ModelError(`invalid sampling settings: temperature ${opts.temperature} (must be ≥ 0), top-p ${opts.topP} (must be in (0, 1])`);
    }
    const dec = new Decoder(this, B, P, Tmax);
    try {
      return await dec.run(prompt, steps, opts);
    } finally {
      dec.free();
    }
  }
}

export interface GenerateOptions {
  /** 0 = greedy (argmax). */
  temperature: number;
  topP: number;
  seed: number;
  /** Stop once every row has produced this token (checked every `checkEvery` steps). */
  eosId?: number;
  checkEvery?: number;
  /** Called after every `checkEvery` steps with the steps done so far (progress, and a point where a
   * caller may yield to its event loop or abort by throwing: the decoder frees its buffers). */
  onChunk?: (done: number, steps: number) => void | Promise<void>;
}

export interface Generation {
  /** (B, P + steps) prompt and generated ids; positions past the stop hold 0. */
  tokens: Int32Array;
  /** (B, steps) log-prob of each generated token under the temperature-scaled distribution. */
  logp: Float32Array;
  /** (B, steps) entropy of each step's sampling distribution. */
  entropy: Float32Array;
  /** Steps actually run (≤ the requested steps when every row stopped early). */
  steps: number;
}

/** Per-step seed for the sampler, from the run seed and the decode position. */
export function stepSeed(seed: number, step: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (step + 0x7f4a7c15), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** The distinct rows of a (B,P) prompt in order of first appearance, and of[b]: the index of row b among
 * them; null when every row is distinct. */
function distinctRows(prompt: Int32Array, B: number, P: number): { prompts: Int32Array; of: Int32Array; count: number } | null {
  const seen = new Map<string, number>(), of = new Int32Array(B), first: number[] = [];
  for (let b = 0; b < B; b++) {
    const key = prompt.subarray(b * P, (b + 1) * P).join(',');
    let u = seen.get(key);
    if (u === undefined) {
      u = first.length;
      seen.set(key, u);
      first.push(b);
    }
    of[b] = u;
  }
  if (first.length === B) return null;
  const prompts = new Int32Array(first.length * P);
  first.forEach((b, u) => prompts.set(prompt.subarray(b * P, (b + 1) * P), u * P));
  return { prompts, of, count: first.length };
}

/** Whether row b has produced <eos> in its first `done` generated tokens. */
function rowStopped(out: Int32Array, b: number, P: number, Tmax: number, done: number, eos: number): boolean {
  for (let s = 0; s < done; s++) if (out[b * Tmax + P + s] === eos) return true;
  return false;
}

function allStopped(out: Int32Array, B: number, P: number, Tmax: number, done: number, eos: number): boolean {
  for (let b = 0; b < B; b++) if (!rowStopped(out, b, P, Tmax, done, eos)) return false;
  return true;
}

/** Weights of one layer for the fused decode step: q/k/v stacked into one matrix (and bias). */
interface FusedLayer {
  wqkv: Tensor;
  bqkv: Tensor | null;
  o: { w: Tensor; b: Tensor | null };
  gate: Tensor;
  up: Tensor;
  down: { w: Tensor; b: Tensor | null };
}

/** KV-cached incremental forward. Each step's chosen token feeds the next step on the backend: no
 * readback until the end, and no copies per token (the sampler writes the token into the next step's
 * input and into the output matrix; a one-token step's hidden rows are already the last positions).
 * On a backend with the decode fusions (normMatmul, qkvRope) and plain weights (no adapter running its
 * own matmuls: none, or merged), a layer is 5 dispatches: norm+q/k/v+rope+cache write, attention,
 * o_proj + residual, norm+gate/up+SwiGLU, down_proj + residual. */
class Decoder {
  private readonly be: Backend;
  private readonly kc: Tensor[] = [];
  private readonly vc: Tensor[] = [];
  private readonly t: Record<string, Tensor> = {};
  private readonly fused: FusedLayer[] | null;
  /** Rows step() computes: B, or fewer for a prompt step that runs each distinct prompt once, or once
   * finished rows have left the batch (run()). */
  private active: number;

  constructor(private readonly m: Model, private readonly B: number, private readonly P: number, private readonly Tmax: number) {
    this.be = m.backend;
    this.active = B;
    const { hidden: C, heads: NH, kvHeads: NKV, headDim: HS, intermediate: I, vocabSize: V, layers } = m.cfg;
    const KD = NKV * HS, QD = NH * HS, N = B * P;
    for (let l = 0; l < layers; l++) {
      this.kc.push(this.be.alloc(`kcache${l}`, B * Tmax * KD));
      this.vc.push(this.be.alloc(`vcache${l}`, B * Tmax * KD));
    }
    this.fused = this.fusedLayers();
    // The fused path keeps only the residual stream, attention's input and output, the MLP hidden and the logits.
    const sizes: Record<string, number> = { x: N * C, qr: N * QD, y: N * QD, h: N * I, last: B * C, logits: B * V };
    if (!this.fused) Object.assign(sizes, { mid: N * C, proj: N * C, ln: N * C, rstd: N, q: N * QD, k: N * KD, v: N * KD, kr: N * KD, gate: N * I, up: N * I, lastln: B * C, lastrstd: B });
    for (const [k, n] of Object.entries(sizes)) this.t[k] = this.be.alloc(`dec.${k}`, n);
    this.t.ids = this.be.alloc('dec.ids', N, 'i32');
    this.t.out = this.be.alloc('dec.out', B * Tmax, 'i32');
  }

  /** Each row's last position of a Tq-position step: t.x itself for one position, else gathered into t.last. */
  private lastRows(Tq: number): Tensor {
    const { be, t } = this, B = this.active, C = this.m.cfg.hidden;
    if (Tq === 1) return t.x;
    for (let b = 0; b < B; b++) be.copy(t.last, t.x, C, b * C, (b * Tq + Tq - 1) * C);
    return t.last;
  }

  /** The fused path's weights, or null where it does not apply (see the class comment). */
  private fusedLayers(): FusedLayer[] | null {
    const { be, m } = this;
    const { hidden: C, layers } = m.cfg;
    if (!be.normMatmul || !be.qkvRope || C > 2048) return null;
    const plain = Array.from({ length: layers }, (_, l) => PROJS.map((p) => m.plainLinear(l, p)));
    if (plain.some((ps) => ps.some((x) => x === null))) return null;
    if (plain.some((ps) => ps[4]!.b || ps[5]!.b)) return null; // normMatmul has no bias (gate/up never have one in Qwen2 / Llama)
    return plain.map((ps) => {
      const [q, k, v, o, gate, up, down] = ps as { w: Tensor; b: Tensor | null }[];
      const parts = [q, k, v];
      const rows = parts.map((x) => x.w.size);
      const wqkv = be.alloc('dec.wqkv', rows[0] + rows[1] + rows[2]);
      let off = 0;
      for (const x of parts) (be.copy(wqkv, x.w, x.w.size, off), (off += x.w.size));
      let bqkv: Tensor | null = null;
      if (parts.some((x) => x.b)) {
        const sizes = rows.map((r) => r / C);
        bqkv = be.alloc('dec.bqkv', sizes[0] + sizes[1] + sizes[2]);
        be.zero(bqkv);
        off = 0;
        parts.forEach((x, i) => (x.b && be.copy(bqkv!, x.b, sizes[i], off), (off += sizes[i])));
      }
      return { wqkv, bqkv, o, gate: gate.w, up: up.w, down };
    });
  }

  free(): void {
    const own = (this.fused ?? []).flatMap((f) => (f.bqkv ? [f.wqkv, f.bqkv] : [f.wqkv]));
    for (const x of [...this.kc, ...this.vc, ...Object.values(this.t), ...own]) this.be.free(x);
  }

  /** Run Tq new positions from pos0 for the ids in `ids` (B*Tq), leaving each row's last-position logits in t.logits. */
  private step(ids: Tensor, Tq: number, pos0: number): void {
    const { be, m, Tmax, t } = this, B = this.active;
    const { hidden: C, heads: NH, kvHeads: NKV, headDim: HS, vocabSize: V, rmsEps: eps, layers } = m.cfg;
    const N = B * Tq, KD = NKV * HS;
    const w = (n: string) => m.p(n);
    be.embeddingForward(t.x, ids, w('model.embed_tokens.weight'), N, C);
    const head = w(m.cfg.tieEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');
    if (this.fused) return this.fusedStep(Tq, pos0, head);
    // The model's own layer (Model.block); the stream alternates between t.x (resIn) and t.mid (resMid).
    const L: BlockBufs = {
      resIn: t.x, ln1: t.ln, rstd1: t.rstd, q: t.q, k: t.k, v: t.v, qr: t.qr, kr: t.kr, atty: t.y,
      resMid: t.mid, ln2: t.ln, rstd2: t.rstd, gate: t.gate, up: t.up, h: t.h,
    };
    for (let l = 0; l < layers; l++) {
      m.block(l, L, l > 0 ? t.mid : null, t.proj, B, Tq, pos0, () => {
        be.kvWrite(this.kc[l], t.kr, B, Tq, pos0, Tmax, KD);
        be.kvWrite(this.vc[l], t.v, B, Tq, pos0, Tmax, KD);
        be.attentionDecode(t.y, t.qr, this.kc[l], this.vc[l], B, Tq, pos0, Tmax, NH, NKV, HS);
      });
    }
    be.add(t.x, t.mid, t.proj, N * C);
    // Only each row's last position needs logits: with one position per row, t.x holds exactly those.
    be.rmsnormForward(t.lastln, t.lastrstd, this.lastRows(Tq), w('model.norm.weight'), B, C, eps);
    be.matmulForward(t.logits, t.lastln, head, null, B, C, V);
  }

  /** step() on the fused path: t.x already holds the embeddings. */
  private fusedStep(Tq: number, pos0: number, head: Tensor): void {
    const { be, m, Tmax, t } = this, B = this.active;
    const { hidden: C, heads: NH, kvHeads: NKV, headDim: HS, intermediate: I, vocabSize: V, rmsEps: eps, ropeTheta: base } = m.cfg;
    const N = B * Tq, QD = NH * HS;
    const w = (n: string) => m.p(n);
    this.fused!.forEach((f, l) => {
      const pre = `model.layers.${l}`;
      be.qkvRope!(t.qr, this.kc[l], this.vc[l], t.x, w(`${pre}.input_layernorm.weight`), f.wqkv, f.bqkv, B, Tq, pos0, Tmax, C, NH, NKV, HS, eps, base);
      be.attentionDecode(t.y, t.qr, this.kc[l], this.vc[l], B, Tq, pos0, Tmax, NH, NKV, HS);
      be.matmulForward(t.x, t.y, f.o.w, f.o.b, N, QD, C, true);
      be.normMatmul!(t.h, t.x, w(`${pre}.post_attention_layernorm.weight`), f.gate, f.up, N, C, I, eps);
      be.matmulForward(t.x, t.h, f.down.w, f.down.b, N, I, C, true);
    });
    be.normMatmul!(t.logits, this.lastRows(Tq), w('model.norm.weight'), head, null, B, C, V, eps);
  }

  /** After a prompt step over distinct prompts: row b's KV-cache rows and logits from distinct row of[b] ≤ b
   * (b descending, so no source is overwritten before it is read). */
  private repeatRows(of: Int32Array): void {
    const { be, B, P, Tmax, t } = this;
    const { vocabSize: V, kvHeads: NKV, headDim: HS } = this.m.cfg, KD = NKV * HS;
    for (let b = B - 1; b >= 0; b--) {
      const u = of[b];
      if (u === b) continue;
      for (const c of [...this.kc, ...this.vc]) be.copy(c, c, P * KD, b * Tmax * KD, u * Tmax * KD);
      be.copy(t.logits, t.logits, V, b * V, u * V);
    }
  }

  /** After a check at `done` generated tokens: the rows that have produced <eos> leave the batch. The
   * others move down (their KV-cache rows so far and their next input token; ascending, so no row is
   * overwritten before it is read) and `rows` maps each active row to its batch row, which the sampler
   * writes and draws by (TokenColumn.rows). Returns the new map, or the old one when no row left. */
  private dropFinished(out: Int32Array, rows: Int32Array | null, done: number, eos: number): Int32Array | null {
    const { be, P, Tmax, t } = this;
    const KD = this.m.cfg.kvHeads * this.m.cfg.headDim;
    const batchRow = (i: number) => (rows ? rows[i] : i);
    const keep: number[] = [];
    for (let i = 0; i < this.active; i++) if (!rowStopped(out, batchRow(i), P, Tmax, done, eos)) keep.push(i);
    if (keep.length === this.active) return rows;
    const n = Math.min(Tmax, P + done) * KD;
    keep.forEach((i, p) => {
      if (i === p) return;
      for (const c of [...this.kc, ...this.vc]) be.copy(c, c, n, p * Tmax * KD, i * Tmax * KD);
      be.copy(t.ids, t.ids, 1, p, i);
    });
    this.active = keep.length;
    return Int32Array.from(keep, batchRow);
  }

  async run(prompt: Int32Array, steps: number, opts: GenerateOptions): Promise<Generation> {
    const { be, B, P, Tmax, t } = this;
    const V = this.m.cfg.vocabSize;
    const logp = be.alloc('dec.logp', B * steps), ent = be.alloc('dec.entropy', B * steps);
    this.active = B;
    try {
      // On a CPU backend no row's arithmetic depends on another's or on the row count (a GPU's kernels
      // may), so the decode runs fewer rows with the same bits, twice over below.
      const rowsIndependent = be.name === 'cpu';
      // A group repeats its prompt (a problem's samples): the prompt step runs each distinct prompt once
      // and copies its KV-cache rows and logits to the repeats.
      const distinct = rowsIndependent ? distinctRows(prompt, B, P) : null;
      be.upload(t.ids, distinct ? distinct.prompts : prompt);
      const out = new Int32Array(B * Tmax); // the prompts, then zeros for the tokens to come
      for (let b = 0; b < B; b++) out.set(prompt.subarray(b * P, (b + 1) * P), b * Tmax);
      be.upload(t.out, out);
      be.zero(logp);
      be.zero(ent);
      // The rows that have finished leave the batch at each <eos> check; the sampler draws by batch row,
      // so each row's tokens, log-probs and entropies up to its <eos> are the same bits; after the check
      // that finds it finished, its tokens, log-probs and entropies stay 0.
      const dropRows = rowsIndependent && opts.eosId !== undefined;
      let rows: Int32Array | null = null;
      let done = 0;
      for (let s = 0; s < steps; s++) {
        if (s === 0 && distinct) {
          this.active = distinct.count;
          this.step(t.ids, P, 0);
          this.active = B;
          this.repeatRows(distinct.of);
        } else this.step(t.ids, s === 0 ? P : 1, s === 0 ? 0 : P + s - 1);
        // The token goes to t.ids (the next step's input: the embedding above has read it) and to column P + s of t.out.
        const column = { tokens: t.out, offset: P + s, stride: Tmax, ...(rows ? { rows } : {}) };
        const A = this.active;
        if (opts.temperature === 0) be.argmax(t.ids, t.logits, A, V, column);
        else be.sample(t.ids, logp, ent, t.logits, A, V, opts.temperature, opts.topP, stepSeed(opts.seed, s), s, steps, column);
        done = s + 1;
        const every = opts.checkEvery ?? 16;
        if (opts.eosId !== undefined && done < steps && done % every === 0) {
          const out = await be.readInt(t.out);
          if (allStopped(out, B, P, Tmax, done, opts.eosId)) break;
          if (dropRows) rows = this.dropFinished(out, rows, done, opts.eosId);
        }
        if (opts.onChunk && done < steps && done % every === 0) await opts.onChunk(done, steps);
      }
      return { tokens: await be.readInt(t.out), logp: await be.read(logp), entropy: await be.read(ent), steps: done };
    } finally {
      this.active = B;
      for (const x of [logp, ent]) be.free(x);
    }
  }

}
