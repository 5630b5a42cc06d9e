// DoRA, weight-decomposed low-rank adaptation, as HF PEFT's DoraLinearLayer (tuners/lora/dora.py):
//   W′ = m ⊙ V / ‖V‖_row,  V = W₀ + s·B·A,  m (out) trainable, initialised to ‖W₀‖_row,
//   and the norm n = ‖V‖_row is detached (a constant for the gradient; DoRA paper §4.3).
// Forward, as PEFT computes it (result = base_layer(x) + dora output):
//   no dropout (or eval):  y = b + (m/n) ⊙ (W₀x + s·B·A·x)
//   dropout, x̃ = drop(x):  y = W₀x + b + (m/n − 1) ⊙ W₀x̃ + (m/n) ⊙ s·B·A·x̃
// Backward, with h = W₀x̃ + s·BAx̃ and dh = dout ⊙ (m/n):
//   dm += Σₙ dout ⊙ h / n;  dB += s·dhᵀ·xa;  dxa = s·dh·B;  dA += dxaᵀ·x̃;
//   dinp = dh·W₀ + dxa·A  (no dropout), or dout·W₀ + drop((dh − dout)·W₀ + dxa·A).
import type { Tensor } from '../engine/backend.ts';
import type { LinearAdapter } from '../model/model.ts';
import { peftName, validateCommon } from './common.ts';
import { denseUpdate, loraFields, lowRankCount, lowRankSettings, lowRankShapes, LowRankInstance, type LowRankSite } from './lora.ts';
import { attachAdapters, type ActCache, type AdapterRuntime, type MergeRule } from './runtime.ts';
import { trlAsPeftConfig, VERL_PLAIN_LORA, verlNoDropout } from './trl_verl.ts';
import type { HfMapping, MethodDefaults, MethodSpec, TrainableParam } from './types.ts';

/** ‖row‖₂ (float64) of each row of a row-major rows × cols matrix. */
function rowNorms(W: Float32Array, rows: number, cols: number): Float64Array {
  const norm = new Float64Array(rows);
  for (let o = 0; o < rows; o++) {
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += W[o * cols + c] * W[o * cols + c];
    norm[o] = Math.sqrt(ss);
  }
  return norm;
}

class DoraAdapter implements LinearAdapter {
  // xa (N·r), h (N·out); n, m/n (out each)
  private readonly acts: ActCache;

  constructor(private readonly rt: AdapterRuntime, private readonly s: LowRankSite, private readonly m: TrainableParam) {
    this.acts = rt.acts(s.site.base, [s.r, s.site.outF], [s.site.outF, s.site.outF]);
  }

  /** n = ‖W₀ + s·B·A‖_row and mn = m / n. */
  private norms(n: Tensor, mn: Tensor): void {
    const { be } = this.rt, { inF, outF } = this.s.site;
    be.rowNorm(n, denseUpdate(this.rt, this.s), outF, inF);
    be.div(mn, this.m.tensor, n, outF, false);
  }

  /** h = W₀x + s·B·(x·Aᵀ), keeping xa. */
  private combined(h: Tensor, xa: Tensor, x: Tensor, N: number): void {
    const { be } = this.rt, { inF, outF } = this.s.site, { r, A, B, W, scale } = this.s;
    be.matmulForward(h, x, W, null, N, inF, outF);
    be.matmulForward(xa, x, A.tensor, null, N, inF, r);
    be.matmulForward(h, xa, B.tensor, null, N, r, outF, true, scale);
  }

  forward(out: Tensor, inp: Tensor, N: number): void {
    const { be } = this.rt, { inF, outF } = this.s.site, { W, bias } = this.s;
    const slot = this.acts.take(inp, N, this.rt.forwardSeed(this.s.index));
    const [xa, h, n, mn] = slot.bufs;
    this.norms(n, mn);
    const x = this.rt.drop(inp, N * inF, slot.seed);
    this.combined(h, xa, x, N);
    if (slot.seed < 0) be.scaleCols(out, h, mn, bias, N, outF, false);
    else {
      be.matmulForward(out, inp, W, bias, N, inF, outF);
      be.matmulForward(out, x, W, null, N, inF, outF, true, -1);
      be.scaleCols(out, h, mn, null, N, outF, true);
    }
  }

  backward(dinp: Tensor, dout: Tensor, inp: Tensor, N: number, accumulate: boolean): void {
    const rt = this.rt, { be } = rt, { inF, outF } = this.s.site, { r, A, B, W, scale } = this.s;
    const slot = this.acts.find(inp, N), seed = slot?.seed ?? -1;
    const x = rt.drop(inp, N * inF, seed);
    let [xa, h, n, mn] = slot?.bufs ?? [];
    if (!slot) {
      // The slot was reused by other forwards: recompute (no dropout here, checked by find).
      [xa, h, n, mn] = [rt.scratch('xa', N * r), rt.scratch('h', N * outF), rt.scratch('n', outF), rt.scratch('mn', outF)];
      this.norms(n, mn);
      this.combined(h, xa, x, N);
    }
    const t = rt.scratch('dm', outF);
    be.zero(t);
    be.scaleColsBackward(t, dout, h, N, outF);
    be.div(this.m.grad, t, n, outF, true);
    const dh = rt.scratch('dh', N * outF);
    be.scaleCols(dh, dout, mn, null, N, outF, false);
    be.matmulBackwardWeight(B.grad, dh, xa, N, r, outF, scale);
    const dxa = rt.scratch('dxa', N * r);
    be.matmulBackwardInput(dxa, dh, B.tensor, N, r, outF, false, scale);
    be.matmulBackwardWeight(A.grad, dxa, x, N, inF, r);
    if (seed < 0) {
      be.matmulBackwardInput(dinp, dh, W, N, inF, outF, accumulate);
      be.matmulBackwardInput(dinp, dxa, A.tensor, N, inF, r, true);
    } else {
      be.matmulBackwardInput(dinp, dout, W, N, inF, outF, accumulate);
      rt.addInputGrad(dinp, N * inF, seed, (g) => {
        be.matmulBackwardInput(g, dh, W, N, inF, outF, false);
        be.matmulBackwardInput(g, dout, W, N, inF, outF, true, -1);
        be.matmulBackwardInput(g, dxa, A.tensor, N, inF, r, true);
      });
    }
  }
}

class DoraInstance extends LowRankInstance {
  private readonly magnitudes = new Map<number, TrainableParam>();

  protected override needsBaseWeight(): boolean {
    return true;
  }

  protected override layerFor(ls: LowRankSite, w0: Float32Array | null): { adapter: LinearAdapter; merge: MergeRule } {
    if (!w0) throw new Error('DoRA: base weight not read');
    const rt = this.rt, { inF, outF, base } = ls.site;
    const m = rt.param(peftName(base, 'lora_magnitude_vector.default.weight'), [outF], Float32Array.from(rowNorms(w0, outF, inF)));
    this.params.push(m);
    this.magnitudes.set(ls.index, m);
    // W′ = V ⊙ (m / ‖V‖_row) per row, V = W₀ + s·B·A: the forward's own m/n, applied to the weight.
    const weight = (dst: Tensor) => {
      const V = denseUpdate(rt, ls), n = rt.scratch('mergeNorm', outF), mn = rt.scratch('mergeMn', outF);
      rt.be.rowNorm(n, V, outF, inF);
      rt.be.div(mn, m.tensor, n, outF, false);
      rt.scaleRows(dst, V, mn, outF, inF);
    };
    return { adapter: new DoraAdapter(rt, ls, m), merge: { weight } };
  }

  /** PEFT's merge: (m / ‖W₀ + s·BA‖_row) ⊙ (W₀ + s·BA), the row scaling on the host (in float64):
   * the reference the merge rule is tested against. */
  override async merged(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>(), be = this.rt.be;
    for (const ls of this.sites) {
      const { inF, outF, base } = ls.site;
      const V = (await be.read(denseUpdate(this.rt, ls))).slice(0, outF * inF);
      const m = await be.read(this.magnitudes.get(ls.index)!.tensor), norm = rowNorms(V, outF, inF);
      for (let o = 0; o < outF; o++) for (let c = 0; c < inF; c++) V[o * inF + c] *= m[o] / norm[o];
      out.set(`${base}.weight`, V);
    }
    return out;
  }
}

const SETTINGS = lowRankSettings();

const DEFAULTS: MethodDefaults = { study: { lr: 1e-3 }, page: { lr: 1e-2 } };

// PEFT saves DoRA as LoRA with use_dora (LoRA's mapping reads it back).
const HF: HfMapping = {
  write: (cfg) => ({ ...loraFields(cfg), use_dora: true }),
  shapes: (cfg, model, rank) => lowRankShapes(cfg, model, rank, true),
};

export const dora: MethodSpec = {
  id: 'dora',
  name: 'DoRA',
  description: 'Weight-decomposed LoRA: W′ = m ⊙ (W₀ + s·BA) / ‖W₀ + s·BA‖_row with a trainable magnitude m (init ‖W₀‖_row); the norm is detached.',
  paper: 'https://arxiv.org/abs/2402.09353',
  settings: SETTINGS,
  defaults: DEFAULTS,
  validate: (cfg, model) => validateCommon(cfg, model, { rank: true }),
  trainableCount: (cfg, model) => lowRankCount(cfg, model, true, 1),
  hf: HF,
  trlVerl: { trl: trlAsPeftConfig, verl: verlNoDropout(() => `DoRA needs use_dora=True; ${VERL_PLAIN_LORA}`) },
  attach: (model, cfg) => attachAdapters(dora, model, cfg,
    (rt) => new DoraInstance(rt, { init: 'kaiming', rsScale: false, trainA: true, loraPlus: false }).build()),
};
