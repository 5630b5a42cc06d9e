// Linear-layer ops (out = inp · wᵀ + bias, w in PyTorch (OC, C) layout) and their backward.
// All three matmuls are one GEMM, out (M,N) (= or +=) scale · A (M,K) · B (K,N), run by one of two
// kernels (scale, a uniform, is 1 for a linear layer and α/r for a low-rank adapter's up-projection):
//  - shaders/core/matmul_tiled.wgsl: 4×4 outputs per invocation, 256 invocations per workgroup in
//    one of five shapes, 64×64 by default and 256×16 / 128×32 / 32×128 / 16×256 when the output is
//    skinny (LoRA's rank-R projections), whichever pads least;
//  - shaders/core/matmul_small.wgsl: one invocation per output, for outputs with a dimension of at
//    most `tuning.smallDim` (rank-1..4 adapters, single-row decode), where any tile is mostly padding.
// The weight gradient reduces over the N rows, which can be ~100k: it is split over K (= rows) into
// slabs of a scratch buffer, each slab written by its own invocations, then folded in split order
// by matmul_reduce_splits.wgsl. One owner per output element everywhere, no atomics, fixed order.
import type { Tensor } from '../../backend.ts';
import { checkSizes, F, type GpuContext, type GpuTensor, groups, U } from '../context.ts';

/** Dispatch heuristics. Exposed so tests can force each path on small shapes; the defaults are
 * what the engine runs with. */
export const tuning = {
  /** Use the one-invocation-per-output kernel when the output has a dimension ≤ this. */
  smallDim: 4,
  /** Force the tiled kernel's shape (TM, invocations along M: 4, 8, 16, 32, 64); 0 picks per shape. */
  forceTM: 0,
  /** Split a reduction over rows (weight / bias gradient) only into chunks of at least this many rows. */
  minSplitRows: 64,
  /** Aim for about this many workgroups when splitting a reduction. */
  targetWorkgroups: 256,
  /** Largest split scratch, in floats (16 MiB). */
  maxScratch: 1 << 22,
};

/** Tiled-kernel shapes by TM (invocations along M); the tile is (4·TM) × (4·256/TM) outputs. */
const SQUARE_TM = 16;
const SKINNY_TM = [32, 8, 64, 4];
/** A skinny tile is used only when it pads to less than this fraction of the square tile's work. */
const SKINNY_GAIN = 0.75;

/** The GEMM out (M,N) (= or +=) scale · A (M,K) · B (K,N) [+ bias (N)] in the kernels' terms. */
interface Gemm {
  M: number;
  N: number;
  K: number;
  /** Multiplies the product (not the bias). */
  scale: number;
  /** A[m,k] = a[m·lda + k] when aK, else a[k·lda + m]. */
  lda: number;
  aK: boolean;
  /** B[k,n] = b[n·ldb + k] when bK, else b[k·ldb + n]. */
  ldb: number;
  bK: boolean;
}

const isSmall = (s: Gemm): boolean => Math.min(s.M, s.N) <= tuning.smallDim;

function maxDim(g: GpuContext): number {
  return g.device.limits.maxComputeWorkgroupsPerDimension;
}

/** The tiled kernel's TM for this output: the square 64×64 tile unless a skinny one pads to much less. */
function pickTM(s: Gemm): number {
  if (tuning.forceTM) return tuning.forceTM;
  const padded = (tm: number): number => {
    const bm = 4 * tm, bn = 1024 / tm;
    return Math.ceil(s.M / bm) * bm * Math.ceil(s.N / bn) * bn;
  };
  let best = SQUARE_TM;
  let bestWork = padded(SQUARE_TM) * SKINNY_GAIN;
  for (const tm of SKINNY_TM) {
    if (padded(tm) < bestWork) {
      best = tm;
      bestWork = padded(tm);
    }
  }
  return best;
}

/** How one split of the GEMM is launched: shader, override constants, workgroups (x, y). */
interface Launch {
  shader: string;
  constants: Record<string, number>;
  x: number;
  y: number;
}

function plan(g: GpuContext, s: Gemm, accumulate: boolean): Launch {
  const constants: Record<string, number> = { A_KCONTIG: s.aK ? 1 : 0, B_KCONTIG: s.bK ? 1 : 0, ACCUMULATE: accumulate ? 1 : 0 };
  if (isSmall(s)) {
    // One invocation per output, the workgroups folded into (x, y) within the per-dimension limit.
    const n = groups(s.M * s.N);
    const y = groups(n, maxDim(g));
    return { shader: 'core/matmul_small', constants, x: groups(n, y), y };
  }
  const tm = pickTM(s);
  constants.TM = tm;
  constants.BK = tm === SQUARE_TM ? 16 : 8;
  const x = groups(s.N, 1024 / tm); // tiles of (4·TM) × (1024/TM) outputs
  const y = groups(s.M, 4 * tm);
  if (x > maxDim(g) || y > maxDim(g)) {
    throw new Error(`matmul ${s.M}×${s.N}: more than ${maxDim(g)} tiles along one dimension`);
  }
  return { shader: 'core/matmul_tiled', constants, x, y };
}

/** Encode out (= or +=) A · B [+ bias]; with `splits` > 1 split z writes out[z·M·N ..] over K rows
 * [z·kchunk, (z+1)·kchunk). */
function gemm(g: GpuContext, out: Tensor, a: Tensor, b: Tensor, bias: Tensor | null, s: Gemm,
  accumulate: boolean, splits = 1, kchunk = s.K): void {
  if (s.M === 0 || s.N === 0) return;
  const { shader, constants, x, y } = plan(g, s, accumulate);
  const params = [U(s.M), U(s.N), U(s.K), U(s.lda), U(s.ldb), U(Math.max(kchunk, 1)), F(s.scale)];
  const tensors = bias ? [out, a, b, bias] : [out, a, b];
  g.dispatch(shader, tensors, params, [x, y, splits], { entry: bias ? 'main_bias' : 'main', constants });
}

/** The GEMM plus a low-rank term in one dispatch (matmul_tiled.wgsl `main_lr`): out (=|+=) scale·A·B + bias
 * + scale2·A2 (M,R)·B2 (R,N). Shapes the tiled kernel does not take (a dimension ≤ smallDim) run as two GEMMs. */
function gemmLowRank(g: GpuContext, out: Tensor, a: Tensor, b: Tensor, bias: Tensor | null, s: Gemm, accumulate: boolean,
  a2: Tensor, b2: Tensor, R: number, b2K: boolean, scale2: number): void {
  if (s.M === 0 || s.N === 0) return;
  if (isSmall(s) || R === 0) {
    gemm(g, out, a, b, bias, s, accumulate);
    gemm(g, out, a2, b2, null, { M: s.M, N: s.N, K: R, scale: scale2, lda: R, aK: true, ldb: b2K ? R : s.N, bK: b2K }, true);
    return;
  }
  const { shader, constants, x, y } = plan(g, s, accumulate);
  constants.B2_KCONTIG = b2K ? 1 : 0;
  constants.HAS_BIAS = bias ? 1 : 0;
  const params = [U(s.M), U(s.N), U(s.K), U(s.lda), U(s.ldb), U(s.K), F(s.scale), U(R), F(scale2)];
  g.dispatch(shader, [out, a, b, bias ?? b, a2, b2], params, [x, y, 1], { entry: 'main_lr', constants });
}

/** How to split a reduction of K rows whose every split costs `perSplit` workgroups and writes
 * `outputs` partial sums: S splits of `chunk` rows (chunk a multiple of 16, the tile's K step). */
function splitPlan(g: GpuContext, K: number, perSplit: number, outputs: number): { S: number; chunk: number } {
  let S = Math.min(
    Math.ceil(tuning.targetWorkgroups / Math.max(perSplit, 1)),
    Math.floor(K / Math.max(tuning.minSplitRows, 1)),
    Math.floor(tuning.maxScratch / Math.max(outputs, 1)),
    maxDim(g),
  );
  if (!(S > 1)) return { S: 1, chunk: K };
  const chunk = Math.ceil(Math.ceil(K / S) / 16) * 16;
  S = Math.ceil(K / chunk);
  return S > 1 ? { S, chunk } : { S: 1, chunk: K };
}

const scratch = (g: GpuContext, size: number): GpuTensor => g.scratch('matmul-split-scratch', size, 1 << 16);

function reduceSplits(g: GpuContext, out: Tensor, part: Tensor, n: number, S: number): void {
  g.dispatch('core/matmul_reduce_splits', [out, part], [U(n), U(S)], groups(n));
}

function checkScale(op: string, scale: number): void {
  if (!Number.isFinite(scale)) throw new RangeError(`${op}: scale must be finite, got ${scale}`);
}

/** out (N,OC) = (or += when accumulate) scale · inp (N,C) · wᵀ (w is (OC,C)) + bias (OC) if given
 * (the bias is not scaled). */
export function matmulForward(g: GpuContext, out: Tensor, inp: Tensor, w: Tensor, bias: Tensor | null,
  N: number, C: number, OC: number, accumulate = false, scale = 1): void {
  checkSizes('matmulForward', [[out, N * OC], [inp, N * C], [w, OC * C], ...(bias ? [[bias, OC] as [Tensor, number]] : [])]);
  checkScale('matmulForward', scale);
  gemm(g, out, inp, w, bias, { M: N, N: OC, K: C, scale, lda: C, aK: true, ldb: C, bK: true }, accumulate);
}

/** out (N,OC) = (or += when accumulate) inp · wᵀ + bias + scale2 · xa (N,R) · bᵀ (b (OC,R)): a linear layer and its
 * low-rank adapter's up-projection in one pass. */
export function linearLowRank(g: GpuContext, out: Tensor, inp: Tensor, w: Tensor, bias: Tensor | null, xa: Tensor, b: Tensor,
  N: number, C: number, OC: number, R: number, scale2: number, accumulate: boolean): void {
  checkSizes('linearLowRank', [[out, N * OC], [inp, N * C], [w, OC * C], [xa, N * R], [b, OC * R], ...(bias ? [[bias, OC] as [Tensor, number]] : [])]);
  checkScale('linearLowRank', scale2);
  gemmLowRank(g, out, inp, w, bias, { M: N, N: OC, K: C, scale: 1, lda: C, aK: true, ldb: C, bK: true }, accumulate, xa, b, R, true, scale2);
}

/** dxa (N,R) = scale2 · dout (N,OC) · b (b (OC,R)), and dinp (N,C) = (or += when accumulate) dout · w + dxa · a (a (R,C)):
 * a low-rank adapter's gradient at its rank and the input gradient of the layer and adapter, in one pass
 * (shaders/core/matmul_lr_backward.wgsl); shapes the tiled kernel does not take run as three GEMMs. */
export function linearLowRankBackwardInput(g: GpuContext, dinp: Tensor, dxa: Tensor, dout: Tensor, w: Tensor, b: Tensor, a: Tensor,
  N: number, C: number, OC: number, R: number, scale2: number, accumulate: boolean): void {
  checkSizes('linearLowRankBackwardInput', [[dinp, N * C], [dxa, N * R], [dout, N * OC], [w, OC * C], [b, OC * R], [a, R * C]]);
  checkScale('linearLowRankBackwardInput', scale2);
  const s: Gemm = { M: N, N: C, K: OC, scale: 1, lda: OC, aK: true, ldb: C, bK: false };
  if (s.M === 0 || s.N === 0 || R === 0 || isSmall(s)) {
    matmulBackwardInput(g, dxa, dout, b, N, R, OC, false, scale2);
    gemmLowRank(g, dinp, dout, w, null, s, accumulate, dxa, a, R, false, 1);
    return;
  }
  const { constants, x, y } = plan(g, s, accumulate);
  const params = [U(s.M), U(s.N), U(s.K), U(s.lda), U(s.ldb), U(s.K), F(s.scale), U(R), F(scale2)];
  g.dispatch('core/matmul_lr_backward', [dinp, dout, w, dxa, a, b], params, [x, y, 1], { constants });
}

/** dinp (N,C) = (or += when accumulate) scale · dout (N,OC) · w (OC,C). */
export function matmulBackwardInput(g: GpuContext, dinp: Tensor, dout: Tensor, w: Tensor,
  N: number, C: number, OC: number, accumulate: boolean, scale = 1): void {
  checkSizes('matmulBackwardInput', [[dinp, N * C], [dout, N * OC], [w, OC * C]]);
  checkScale('matmulBackwardInput', scale);
  gemm(g, dinp, dout, w, null, { M: N, N: C, K: OC, scale, lda: OC, aK: true, ldb: C, bK: false }, accumulate);
}

/** dw (OC,C) += scale · doutᵀ · inp: a reduction over the N rows, split when the output alone is too
 * few workgroups to fill the GPU (each split's partial sum is already scaled). */
export function matmulBackwardWeight(g: GpuContext, dw: Tensor, dout: Tensor, inp: Tensor,
  N: number, C: number, OC: number, scale = 1): void {
  checkSizes('matmulBackwardWeight', [[dw, OC * C], [dout, N * OC], [inp, N * C]]);
  checkScale('matmulBackwardWeight', scale);
  if (N === 0 || OC === 0 || C === 0) return;
  const s: Gemm = { M: OC, N: C, K: N, scale, lda: OC, aK: false, ldb: C, bK: false };
  const { x, y } = plan(g, s, true);
  const { S, chunk } = splitPlan(g, N, x * y, OC * C);
  if (S === 1) {
    gemm(g, dw, dout, inp, null, s, true);
    return;
  }
  const part = scratch(g, S * OC * C);
  gemm(g, part, dout, inp, null, s, false, S, chunk);
  reduceSplits(g, dw, part, OC * C, S);
}

/** dbias (OC) += Σ_n dout[n] (dout (N,OC)), split over rows like the weight gradient. */
export function biasBackward(g: GpuContext, dbias: Tensor, dout: Tensor, N: number, OC: number): void {
  checkSizes('biasBackward', [[dbias, OC], [dout, N * OC]]);
  if (N === 0 || OC === 0) return;
  const x = groups(OC);
  if (x > maxDim(g)) throw new Error(`biasBackward: OC=${OC} is too large for one dispatch`);
  const { S, chunk } = splitPlan(g, N, x, OC);
  if (S === 1) {
    g.dispatch('core/bias_backward', [dbias, dout], [U(N), U(OC), U(N)], [x, 1, 1], { constants: { ACCUMULATE: 1 } });
    return;
  }
  const part = scratch(g, S * OC);
  g.dispatch('core/bias_backward', [part, dout], [U(N), U(OC), U(chunk)], [x, S, 1], { constants: { ACCUMULATE: 0 } });
  reduceSplits(g, dbias, part, OC, S);
}
