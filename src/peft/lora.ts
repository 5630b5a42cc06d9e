// The LoRA family: LoRA, rank-1 LoRA, rsLoRA, LoRA+, LoRA-FA, PiSSA, MiLoRA and OLoRA share one
// adapter, y = W x + b + s·B(A·dropout(x)), and differ only in scale, init and optimizer groups.
// DoRA (dora.ts) builds on the same instance; the plumbing (dropout, scratch, caches) is runtime.ts.
//
// Per adapted layer (N rows, in → out, rank r):
//   forward   out = x·Wᵀ + b;  xa = x̃·Aᵀ (kept for backward);  out += s·xa·Bᵀ
//   backward  dB += s·doutᵀ·xa;  dxa = s·dout·B;  dA += dxaᵀ·x̃ (not for LoRA-FA);
//             dinp = dout·W (= or += per accumulate);  dinp += dropout(dxa·A)
//             (a backend with the low-rank fusion runs W and B·A as one pass forward, and dxa with dinp
//             as one pass when there is no dropout)
// x̃ = dropout(x) with a fresh seed per forward call while training (inverted dropout, the same
// mask recomputed in backward from the seed); x̃ = x when dropout is 0 or in eval mode.
import type { Tensor } from '../engine/backend.ts';
import type { ModelConfig } from '../model/config.ts';
import type { LinearAdapter } from '../model/model.ts';
import { kaimingUniform, peftName, savedName, siteRng, sites, validateCommon, type Site } from './common.ts';
import { fail, nonNeg, num, posInt, targets, unsupported, type Json } from './hf_config.ts';
import { attachAdapters, baseOf, type ActCache, type AdapterRuntime, type MergeRule } from './runtime.ts';
import { householderQr, svd } from './svd.ts';
import { adamArgs, trlAsPeftConfig, VERL_PLAIN_LORA, verlNoDropout } from './trl_verl.ts';
import type { HfMapping, MethodId, MethodSpec, PeftConfig, PeftInstance, SettingSpec, TrainableParam, TrlVerl, VerlLora } from './types.ts';

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

/** V = W + s·B·A of one site (W the current, possibly residual, base weight), in `V` (a scratch
 * tensor by default). This is LoRA's merged weight. */
export function denseUpdate(rt: AdapterRuntime, ls: LowRankSite, V = rt.scratch('dense', ls.site.outF * ls.site.inF)): Tensor {
  const { inF, outF } = ls.site;
  rt.be.matmulBackwardInput(V, ls.B.tensor, ls.A.tensor, outF, inF, ls.r, false, ls.scale);
  rt.be.add(V, V, ls.W, outF * inF);
  return V;
}

class LoraAdapter implements LinearAdapter {
  private readonly acts: ActCache;

  constructor(private readonly rt: AdapterRuntime, private readonly s: LowRankSite) {
    this.acts = rt.acts(s.site.base, [s.r]);
  }

  forward(out: Tensor, inp: Tensor, N: number): void {
    const { be } = this.rt, { inF, outF } = this.s.site, { r, scale, A, B, W, bias } = this.s;
    const slot = this.acts.take(inp, N, this.rt.forwardSeed(this.s.index)), xa = slot.bufs[0];
    be.matmulForward(xa, this.rt.drop(inp, N * inF, slot.seed), A.tensor, null, N, inF, r);
    if (be.linearLowRank) return be.linearLowRank(out, inp, W, bias, xa, B.tensor, N, inF, outF, r, scale, false);
    be.matmulForward(out, inp, W, bias, N, inF, outF);
    be.matmulForward(out, xa, B.tensor, null, N, r, outF, true, scale);
  }

  backward(dinp: Tensor, dout: Tensor, inp: Tensor, N: number, accumulate: boolean): void {
    const rt = this.rt, { be } = rt, { inF, outF } = this.s.site, { r, scale, A, B, W } = this.s;
    const slot = this.acts.find(inp, N), seed = slot?.seed ?? -1;
    const x = rt.drop(inp, N * inF, seed);
    let xa = slot?.bufs[0];
    if (!xa) be.matmulForward((xa = rt.scratch('xa', N * r)), x, A.tensor, null, N, inF, r);
    be.matmulBackwardWeight(B.grad, dout, xa, N, r, outF, scale);
    const dxa = rt.scratch('dxa', N * r);
    // Without dropout dxa and the base and adapter input gradients are one pass; with it the adapter's goes through the mask.
    const fused = seed < 0 && be.linearLowRankBackwardInput;
    if (fused) be.linearLowRankBackwardInput!(dinp, dxa, dout, W, B.tensor, A.tensor, N, inF, outF, r, scale, accumulate);
    else be.matmulBackwardInput(dxa, dout, B.tensor, N, r, outF, false, scale);
    if (this.s.trainA) be.matmulBackwardWeight(A.grad, dxa, x, N, inF, r);
    if (fused) return;
    be.matmulBackwardInput(dinp, dout, W, N, inF, outF, accumulate);
    rt.addInputGrad(dinp, N * inF, seed, (g, acc) => be.matmulBackwardInput(g, dxa, A.tensor, N, inF, r, acc));
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

function loraScale(cfg: PeftConfig, rs: boolean): number {
  return rs ? cfg.alpha / Math.sqrt(cfg.r) : cfg.alpha / cfg.r;
}

/** A low-rank adapter set attached to a model. DoRA subclasses it with its own layer. */
export class LowRankInstance implements PeftInstance {
  readonly config: PeftConfig;
  readonly params: TrainableParam[] = [];
  readonly sites: LowRankSite[] = [];
  /** Initial factors of SVD/QR inits, by module (PEFT's "mutated init", for export as plain LoRA). */
  readonly initFactors = new Map<string, { A: Float32Array; B: Float32Array }>();
  /** Base weights an SVD/QR init replaced by its residual, by HF name; detach puts them back. */
  private readonly originals = new Map<string, Float32Array>();

  constructor(readonly rt: AdapterRuntime, readonly variant: LowRankVariant) {
    this.config = rt.cfg;
    rt.onDetach(() => {
      for (const [name, w] of this.originals) rt.be.upload(rt.model.p(name), w);
    });
  }

  /** Build every site and install its layer. */
  async build(): Promise<this> {
    const { rt, variant } = this, { be, model, cfg } = rt, r = cfg.r, scale = loraScale(cfg, variant.rsScale);
    for (const [index, site] of sites(model.cfg, cfg.targets).entries()) {
      const { w: W, bias } = baseOf(model, site);
      const w0 = variant.init !== 'kaiming' || this.needsBaseWeight() ? await be.read(W) : null;
      const init = variant.init === 'kaiming' || !w0 ? null : structuredInit(variant.init, w0, site.outF, site.inF, r, scale);
      const a = init?.A ?? kaimingUniform(siteRng(cfg, site, 'lora_A'), r, site.inF), b = init?.B ?? new Float32Array(site.outF * r);
      if (init && w0) {
        this.originals.set(`${site.base}.weight`, w0);
        this.initFactors.set(site.base, { A: a, B: b });
        be.upload(W, init.residual);
      }
      const A = rt.param(peftName(site.base, 'lora_A.default.weight'), [r, site.inF], a);
      const B = rt.param(peftName(site.base, 'lora_B.default.weight'), [site.outF, r], b, variant.loraPlus ? cfg.loraPlusRatio : 1);
      const ls: LowRankSite = { site, index, r, scale, A, B, trainA: variant.trainA, W, bias };
      if (ls.trainA) this.params.push(A);
      this.params.push(B);
      this.sites.push(ls);
      const { adapter, merge } = this.layerFor(ls, w0);
      rt.install(site.base, adapter, merge);
    }
    return this;
  }

  /** Whether layerFor needs the base weight on the host (DoRA's magnitude). */
  protected needsBaseWeight(): boolean {
    return false;
  }

  /** The layer of a site and its merge rule (DoRA: its magnitude, pushed to params, and its own layer). */
  protected layerFor(ls: LowRankSite, _w0: Float32Array | null): { adapter: LinearAdapter; merge: MergeRule } {
    return { adapter: new LoraAdapter(this.rt, ls), merge: { weight: (dst) => denseUpdate(this.rt, ls, dst) } };
  }

  /** Dropout on (training) or off (evaluation, generation). */
  setTraining(on: boolean): void {
    this.rt.training = on;
  }

  zeroGrads(): void {
    this.rt.zeroGrads(this.params);
  }

  /** W + s·B·A read back: the merge rule itself (checked against HF PEFT's merged weights). */
  merged(): Promise<Map<string, Float32Array>> {
    return this.rt.readMerged();
  }

  withMerged<T>(fn: () => Promise<T>): Promise<T> {
    return this.rt.withMerged(fn);
  }

  async snapshot(): Promise<Map<string, Float32Array>> {
    const out = await this.rt.snapshot();
    for (const ls of this.sites) {
      if (this.originals.has(`${ls.site.base}.weight`)) out.set(peftName(ls.site.base, 'base_layer.weight'), await this.rt.be.read(ls.W));
    }
    return out;
  }

  /** Adapter tensors by name, and `…base_layer.weight` of an adapted layer: a frozen base weight
   * (PiSSA/OLoRA residual from another SVD, e.g. PEFT's float32 one); detach restores the original. */
  load(tensors: Map<string, Float32Array>): void {
    const bases = new Map(this.sites.map((ls) => [peftName(ls.site.base, 'base_layer.weight'), ls]));
    this.rt.load(tensors, (name) => {
      const ls = bases.get(name);
      if (!ls) return undefined;
      const key = `${ls.site.base}.weight`;
      if (!this.originals.has(key)) throw new Error(`${this.rt.name}: ${name}: the original of ${key} is not kept; load base weights only into SVD/QR-initialised adapters`);
      return { size: ls.site.outF * ls.site.inF, set: (d) => this.rt.be.upload(ls.W, d) };
    });
  }

  detach(): void {
    this.rt.detach();
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

/** LoRA+'s default ratio λ (the study's; the paper suggests ~16), in every config. */
export const LORA_PLUS_RATIO = 2;

/** r·(in + out) per adapted layer (minus A for LoRA-FA), plus `perOut`·out (DoRA's magnitude). */
export function lowRankCount(cfg: PeftConfig, model: ModelConfig, trainA: boolean, perOut = 0): number {
  let n = 0;
  for (const s of sites(model, cfg.targets)) n += cfg.r * (s.outF + (trainA ? s.inF : 0)) + perOut * s.outF;
  return n;
}

// --- HF PEFT's LoRA config (peft_type LORA) ------------------------------------------------------

/** LoRA config fields PEFT has and the lab does not honour (AdaLoRA's too, but for rank_pattern). */
export const LORA_UNSUPPORTED = ['fan_in_fan_out', 'modules_to_save', 'layers_to_transform', 'exclude_modules', 'rank_pattern',
  'alpha_pattern', 'lora_bias', 'use_qalora', 'layer_replication', 'trainable_token_indices', 'alora_invocation_tokens',
  'target_parameters', 'megatron_config', 'use_bdlora', 'arrow_config', 'kasa_config'];

/** The LoRA-config method a peft_type LORA file describes, by init_lora_weights, use_dora and use_rslora. */
function loraMethod(j: Json): MethodId {
  const init = j.init_lora_weights ?? true;
  const dora = j.use_dora === true, rs = j.use_rslora === true;
  let method: MethodId;
  if (init === true || init === false || init === 'gaussian') method = dora ? 'dora' : rs ? 'rslora' : 'lora';
  else if (init === 'pissa' || (typeof init === 'string' && /^pissa_niter_\d+$/.test(init))) method = 'pissa';
  else if (init === 'olora') method = 'olora';
  else if (init === 'milora') method = 'milora';
  else fail('init_lora_weights', `${JSON.stringify(init)} is not supported (true, "gaussian", "pissa", "olora", "milora")`);
  if (dora && method !== 'dora') fail('use_dora', `DoRA with init_lora_weights=${JSON.stringify(init)} is not supported`);
  if (rs && method !== 'rslora') fail('use_rslora', `rsLoRA scaling combined with ${method} is not supported`);
  return method;
}

/** Every method PEFT saves as peft_type LORA (DoRA too) is read by LoRA's mapping. */
const LORA_READ: NonNullable<HfMapping['read']> = {
  types: ['LORA'],
  settings(json) {
    unsupported(json, LORA_UNSUPPORTED);
    return { method: loraMethod(json), r: num(json, 'r', 8, posInt, 'a positive integer'), alpha: num(json, 'lora_alpha', 8),
      dropout: num(json, 'lora_dropout', 0, nonNeg, 'a non-negative number'), targets: targets(json, ['q_proj', 'v_proj']) };
  },
};

/** PEFT's LoRA config of a lab config; `k` = 2 for the equivalent plain LoRA of rank 2r, α' = 2α
 * (MiLoRA, and PiSSA/OLoRA with asLora: see exportAdapter). */
export function loraFields(cfg: PeftConfig, k = 1): Record<string, unknown> {
  return { peft_type: 'LORA', r: k * cfg.r, lora_alpha: k * cfg.alpha, lora_dropout: cfg.dropout, target_modules: [...cfg.targets],
    exclude_modules: null, fan_in_fan_out: false, bias: 'none', use_rslora: false, modules_to_save: null, init_lora_weights: true as boolean | string,
    layers_to_transform: null, layers_pattern: null, rank_pattern: {}, alpha_pattern: {}, use_dora: false, lora_bias: false };
}

/** LoRA's saved tensors: lora_A (rank, in), lora_B (out, rank), and DoRA's lora_magnitude_vector (out). */
export function lowRankShapes(cfg: PeftConfig, model: ModelConfig, rank: number, magnitude = false): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const { base, inF, outF } of sites(model, cfg.targets)) {
    const n = (t: string) => savedName(peftName(base, t))!;
    out.set(n('lora_A.default.weight'), [rank, inF]).set(n('lora_B.default.weight'), [outF, rank]);
    if (magnitude) out.set(n('lora_magnitude_vector.default.weight'), [outF]);
  }
  return out;
}

// --- the LoRA family -----------------------------------------------------------------------------

interface LoraDef {
  id: MethodId;
  name: string;
  description: string;
  paper: string;
  variant: LowRankVariant;
  extraSettings?: SettingSpec[];
  alphaHelp?: string;
  /** Its own defaults, over LoRA's (rank 32 / 16, α 64 / 32 / 64, learning rates 1e-3 and 1e-2). */
  peft?: Partial<PeftConfig>;
  /** Its adapter_config.json fields (LoRA's by default: LoRA+ and LoRA-FA are optimizer choices). */
  write?: HfMapping['write'];
  /** LoRA reads every peft_type LORA file. */
  read?: HfMapping['read'];
  /** Saved only as the equivalent plain LoRA (MiLoRA). */
  onlyAsLora?: boolean;
  /** Its TRL script's additions (none by default: PEFT's config as peft_config). */
  trl?: TrlVerl['trl'];
  /** Its verl LoRA (plain LoRA one to one by default), or why verl cannot train it; any dropout is
   * refused first. */
  verl?: (cfg: PeftConfig) => VerlLora | string;
}

function lowRankSpec(d: LoraDef): MethodSpec {
  const spec: MethodSpec = {
    id: d.id,
    name: d.name,
    description: d.description,
    paper: d.paper,
    settings: lowRankSettings(d.extraSettings, d.alphaHelp),
    // A method's own rank and α (rank-1 LoRA's) hold in every experiment.
    defaults: { peft: d.peft, study: { lr: 1e-3, peft: d.peft }, page: { lr: 1e-2, peft: d.peft } },
    validate(cfg, model) {
      const errors = validateCommon(cfg, model, { rank: true });
      if (d.variant.loraPlus && !(Number.isFinite(cfg.loraPlusRatio) && cfg.loraPlusRatio > 0)) {
        errors.push(`loraPlusRatio: must be a positive number, got ${cfg.loraPlusRatio}`);
      }
      return errors;
    },
    trainableCount: (cfg, model) => lowRankCount(cfg, model, d.variant.trainA),
    hf: { write: d.write ?? ((cfg) => loraFields(cfg)), read: d.read, shapes: (cfg, model, rank) => lowRankShapes(cfg, model, rank), onlyAsLora: d.onlyAsLora },
    trlVerl: { trl: d.trl ?? trlAsPeftConfig, verl: verlNoDropout(d.verl ?? verlPlain) },
    attach: (model, cfg) => attachAdapters(spec, model, cfg, (rt) => new LowRankInstance(rt, d.variant).build()),
  };
  return spec;
}

const LORA_PAPER = 'https://arxiv.org/abs/2106.09685';
const plain: LowRankVariant = { init: 'kaiming', rsScale: false, trainA: true, loraPlus: false };

// --- the LoRA family in TRL and verl --------------------------------------------------------------

const verlPlain = (p: PeftConfig): VerlLora => ({ rank: p.r, alpha: p.alpha, note: 'plain LoRA, one to one' });

/** verl: a method whose A, B come from the base weight (PiSSA, OLoRA, MiLoRA). */
const verlInit = (p: PeftConfig): string => `${p.method} needs its own initialisation (init_lora_weights); ${VERL_PLAIN_LORA}, default init`;

/** PiSSA / OLoRA: PEFT's init_lora_weights, or with asLora the equivalent plain LoRA of rank 2r. */
const svdInit = (init: string): HfMapping['write'] => (cfg, opts) => (opts.asLora ? loraFields(cfg, 2) : { ...loraFields(cfg), init_lora_weights: init });

export const lora = lowRankSpec({
  id: 'lora', name: 'LoRA', paper: LORA_PAPER, variant: plain, read: LORA_READ,
  description: 'Frozen weights plus a trainable low-rank update s·B·A (s = α/r); A Kaiming-uniform, B zero.',
});

export const loraR1 = lowRankSpec({
  id: 'lora_r1', name: 'Rank-1 LoRA', paper: LORA_PAPER, variant: plain, peft: { r: 1, alpha: 2 },
  description: 'LoRA at rank 1 (α = 2): the study\'s extreme parameter-reduction baseline.',
});

export const rslora = lowRankSpec({
  id: 'rslora', name: 'rsLoRA', paper: 'https://arxiv.org/abs/2312.03732',
  variant: { ...plain, rsScale: true }, alphaHelp: 'Scale numerator: s = α/√r (rank-stabilised).',
  write: (cfg) => ({ ...loraFields(cfg), use_rslora: true }),
  verl(p) {
    // rsLoRA scales by α/√r; plain LoRA by α'/r, so α' = α·√r gives the same scale.
    const a = p.alpha * Math.sqrt(p.r);
    if (Math.abs(a - Math.round(a)) > 1e-9) return `rsLoRA (scale α/√r) converts exactly to plain LoRA with α' = α·√r = ${a.toPrecision(8)}, but verl's model.lora_alpha is an int (verl/workers/config/model.py); choose r a perfect square or α with α·√r whole`;
    return { rank: p.r, alpha: Math.round(a), note: `rsLoRA converted exactly: α' = α·√r = ${p.alpha}·√${p.r} = ${Math.round(a)} (scale α'/r = α/√r)` };
  },
  description: 'LoRA with the rank-stabilised scale s = α/√r, so higher ranks keep learning.',
});

export const loraPlus = lowRankSpec({
  id: 'lora_plus', name: 'LoRA+', paper: 'https://arxiv.org/abs/2402.12354',
  variant: { ...plain, loraPlus: true },
  extraSettings: [{ key: 'loraPlusRatio', label: 'LoRA+ ratio λ', kind: 'float', min: 1, max: 64, help: 'B trains at λ × the learning rate (paper: ~16; the study: 2).' }],
  trl: (p, o) => ({
    imports: ['from peft.optimizers import create_loraplus_optimizer'],
    model: { setup: `# LoRA+ (PEFT's optimizer): lora_B and 1-D adapter tensors at lr × ${p.loraPlusRatio}, lora_A at lr, as the lab trains it.
optimizer = create_loraplus_optimizer(model, torch.optim.AdamW, lr=${o.lr}, loraplus_lr_ratio=${p.loraPlusRatio},
                                      weight_decay=${o.weightDecay}, ${adamArgs(o)})
` },
    trainerArgs: ['optimizers=(optimizer, None)'],
  }),
  verl: (p) => (p.loraPlusRatio === 1 ? { rank: p.r, alpha: p.alpha, note: 'LoRA+ with ratio 1 is plain LoRA' }
    : `LoRA+ trains lora_B at ${p.loraPlusRatio}× the learning rate; verl's actor optimizer has one parameter group (verl/workers/config/optimizer.py), so it cannot`),
  description: 'LoRA whose B matrix trains at λ times the learning rate of A (λ a setting; the study used 2).',
});

export const loraFa = lowRankSpec({
  id: 'lora_fa', name: 'LoRA-FA', paper: 'https://arxiv.org/abs/2308.03303',
  variant: { ...plain, trainA: false },
  trl: (p, o) => ({
    imports: ['from peft.optimizers import create_lorafa_optimizer'],
    model: { setup: `# LoRA-FA. The lab freezes lora_A and trains lora_B with plain AdamW (no gradient preconditioning): that is
# the default below. PEFT's own optimizer (USE_PEFT_LORAFA = True) also freezes lora_A and preconditions
# lora_B's gradient by (A Aᵀ)⁻¹ / s² (peft/optimizers/lorafa.py), the LoRA-FA paper's variant.
USE_PEFT_LORAFA = False
if USE_PEFT_LORAFA:
    optimizer = create_lorafa_optimizer(model, r=${p.r}, lora_alpha=${p.alpha}, lr=${o.lr}, weight_decay=${o.weightDecay})
else:
    for name, p in model.named_parameters():
        if "lora_A" in name:
            p.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=${o.lr},
                                  ${adamArgs(o)}, weight_decay=${o.weightDecay})
` },
    trainerArgs: ['optimizers=(optimizer, None)'],
  }),
  verl: () => 'LoRA-FA freezes lora_A; verl trains every LoRA tensor and has no way to freeze one',
  description: 'LoRA with A frozen at its random init; only B trains. Plain frozen A: no (AAᵀ)⁻¹ gradient preconditioning.',
});

export const pissa = lowRankSpec({
  id: 'pissa', name: 'PiSSA', paper: 'https://arxiv.org/abs/2404.02948',
  variant: { ...plain, init: 'pissa' }, write: svdInit('pissa'), verl: verlInit,
  description: 'A, B from the top-r singular triplets of each weight; the frozen base becomes the residual W − s·B·A.',
});

export const milora = lowRankSpec({
  id: 'milora', name: 'MiLoRA', paper: 'https://arxiv.org/abs/2406.09044',
  variant: { ...plain, init: 'milora' }, write: (cfg) => loraFields(cfg, 2), onlyAsLora: true, alphaHelp: 'Scale numerator: s = α/r (the study used α = r, s = 1).',
  trl: (p) => ({ notes: ['# MiLoRA is not in PEFT. The lab\'s MiLoRA adapter exports as an equivalent plain LoRA of rank 2r, but training',
    '# needs A, B initialised from the r smallest singular triplets of each weight (W - s·B·A stays frozen); this config',
    `# is plain LoRA (rank ${p.r}, default init): initialise lora_A / lora_B and the base weights yourself to train MiLoRA.`] }),
  verl: verlInit,
  description: 'As PiSSA with the r smallest singular triplets (minor components); base becomes the residual. The study used α = r.',
});

export const olora = lowRankSpec({
  id: 'olora', name: 'OLoRA', paper: 'https://arxiv.org/abs/2406.01775',
  variant: { ...plain, init: 'olora' }, write: svdInit('olora'), verl: verlInit,
  description: 'A, B from the QR decomposition of each weight (first r rows of R, columns of Q); base becomes W − s·B·A.',
});
