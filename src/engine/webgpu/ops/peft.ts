// PEFT building blocks that are not matmuls (low-rank adapters use ops/matmul.ts with a scale).
// Shaders: shaders/peft/<name>.wgsl; the semantics are those of ../../backend.ts and the CPU
// references in ../../ref/peft.ref.ts.
//  - elementwise (scaleCols, div, chunkSumBackward, dropout): one invocation per output element;
//  - row reductions (rowNorm: one workgroup per row; chunkSum: one invocation per (row, chunk
//    column), the ⌈C/R⌉ terms in order);
//  - scaleColsBackward, a column reduction over N rows (~100k): fixed 256-row chunks summed by
//    32-column × 8-lane workgroups into a (K, OC) scratch, then folded in chunk order by
//    core/matmul_reduce_splits.wgsl (one chunk: straight into ds). Fixed order everywhere, no
//    atomics: the same bits on every run and every device.
import type { Tensor } from '../../backend.ts';
import { checkNoAlias, checkSizes, F, type GpuContext, gpuTensor, type GpuTensor, groups, U } from '../context.ts';

/** Rows per partial sum in scaleColsBackward. A constant: it fixes the summation order. */
const SCALE_COLS_ROWS = 256;
/** Columns per workgroup in peft/scale_cols_backward. */
const SCALE_COLS_COLS = 32;

const scratch = (g: GpuContext, size: number): GpuTensor => g.scratch('peft-scratch', size, 1 << 12);

function checkDims(op: string, dims: Record<string, number>): void {
  for (const [k, v] of Object.entries(dims)) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${op}: ${k} must be a non-negative integer, got ${v}`);
  }
}

/** WebGPU cannot bind one buffer as writable and read-only storage in one dispatch: that rules out
 * an input that is the output, or that shares a packed buffer with it (Backend.pack). */
function noAlias(op: string, out: Tensor, ...inputs: Tensor[]): void {
  checkNoAlias(op, [out], inputs);
}

/** out (N,OC) = (or += when accumulate) inp (N,OC) ⊙ s (OC) per column + bias (OC) if given. */
export function scaleCols(g: GpuContext, out: Tensor, inp: Tensor, s: Tensor, bias: Tensor | null,
  N: number, OC: number, accumulate: boolean): void {
  checkDims('scaleCols', { N, OC });
  checkSizes('scaleCols', [[out, N * OC], [inp, N * OC], [s, OC], ...(bias ? [[bias, OC] as [Tensor, number]] : [])]);
  noAlias('scaleCols', out, inp, s, ...(bias ? [bias] : []));
  const tensors = bias ? [out, inp, s, bias] : [out, inp, s];
  g.dispatch('peft/scale_cols', tensors, [U(N), U(OC)], groups(N * OC),
    { entry: bias ? 'main_bias' : 'main', constants: { ACCUMULATE: accumulate ? 1 : 0 } });
}

/** ds (OC) += Σ_n dout[n,o] · inp[n,o], in fixed 256-row chunks folded in order. */
export function scaleColsBackward(g: GpuContext, ds: Tensor, dout: Tensor, inp: Tensor, N: number, OC: number): void {
  checkDims('scaleColsBackward', { N, OC });
  checkSizes('scaleColsBackward', [[ds, OC], [dout, N * OC], [inp, N * OC]]);
  noAlias('scaleColsBackward', ds, dout, inp);
  if (N === 0 || OC === 0) return;
  const K = groups(N, SCALE_COLS_ROWS);
  const maxDim = g.device.limits.maxComputeWorkgroupsPerDimension;
  const x = groups(OC, SCALE_COLS_COLS);
  if (K > maxDim || x > maxDim) throw new Error(`scaleColsBackward: N=${N}, OC=${OC} need ${x}×${K} workgroups, more than ${maxDim} along one dimension`);
  if (K === 1) {
    g.dispatch('peft/scale_cols_backward', [ds, dout, inp], [U(N), U(OC)], [x, 1, 1], { constants: { DIRECT: 1 } });
    return;
  }
  const part = scratch(g, K * OC);
  g.dispatch('peft/scale_cols_backward', [part, dout, inp], [U(N), U(OC)], [x, K, 1], { constants: { DIRECT: 0 } });
  g.dispatch('core/matmul_reduce_splits', [ds, part], [U(OC), U(K)], groups(OC));
}

/** out (N) = ‖x[n,:]‖₂ over the C columns of x (N,C). */
export function rowNorm(g: GpuContext, out: Tensor, x: Tensor, N: number, C: number): void {
  checkDims('rowNorm', { N, C });
  checkSizes('rowNorm', [[out, N], [x, N * C]]);
  noAlias('rowNorm', out, x);
  g.dispatch('peft/row_norm', [out, x], [U(N), U(C)], N);
}

/** out = (or += when accumulate) a / b over n entries. */
export function div(g: GpuContext, out: Tensor, a: Tensor, b: Tensor, n: number, accumulate: boolean): void {
  checkDims('div', { n });
  checkSizes('div', [[out, n], [a, n], [b, n]]);
  noAlias('div', out, a, b);
  g.dispatch('peft/div', [out, a, b], [U(n)], groups(n), { constants: { ACCUMULATE: accumulate ? 1 : 0 } });
}

function checkRank(op: string, C: number, R: number): void {
  if (!(R >= 1)) throw new RangeError(`${op}: R must be at least 1, got ${R}`);
  if (C < 0) throw new RangeError(`${op}: C must be non-negative, got ${C}`);
}

/** xbar (N,R)[n,j] = Σ_k x[n, k·R + j] over the ⌈C/R⌉ chunks (the last zero-padded). */
export function chunkSum(g: GpuContext, xbar: Tensor, x: Tensor, N: number, C: number, R: number): void {
  checkDims('chunkSum', { N, C, R });
  checkRank('chunkSum', C, R);
  checkSizes('chunkSum', [[xbar, N * R], [x, N * C]]);
  noAlias('chunkSum', xbar, x);
  g.dispatch('peft/chunk_sum', [xbar, x], [U(N), U(C), U(R)], groups(N * R));
}

/** dx (N,C)[n,c] = (or += when accumulate) dxbar[n, c mod R]. */
export function chunkSumBackward(g: GpuContext, dx: Tensor, dxbar: Tensor, N: number, C: number, R: number, accumulate: boolean): void {
  checkDims('chunkSumBackward', { N, C, R });
  checkRank('chunkSumBackward', C, R);
  checkSizes('chunkSumBackward', [[dx, N * C], [dxbar, N * R]]);
  noAlias('chunkSumBackward', dx, dxbar);
  g.dispatch('peft/chunk_sum_backward', [dx, dxbar], [U(N), U(C), U(R)], groups(N * C), { constants: { ACCUMULATE: accumulate ? 1 : 0 } });
}

/** Inverted dropout, out = keep(seed, i) ? inp · f32(1/(1−p)) : 0 (see shaders/peft/dropout.wgsl).
 * out may alias inp. p = 0 is a plain buffer copy. */
export function dropout(g: GpuContext, out: Tensor, inp: Tensor, n: number, p: number, seed: number): void {
  checkDims('dropout', { n });
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  if (!Number.isInteger(seed)) throw new RangeError(`dropout: seed must be an integer, got ${seed}`);
  checkSizes('dropout', [[out, n], [inp, n]]);
  const inplace = out === inp;
  if (!inplace) noAlias('dropout', out, inp);
  if (p === 0) {
    if (!inplace) g.copy(gpuTensor(out), gpuTensor(inp), n, 0, 0);
    return;
  }
  // keep ⇔ u/2²⁴ ≥ p ⇔ u ≥ ceil(p·2²⁴) for the integer u = hash >> 8 (p·2²⁴ is exact in float64).
  const threshold = Math.ceil(p * 16777216);
  const scale = p >= 1 ? 0 : Math.fround(1 / (1 - p));
  const params = [U(n), U(seed >>> 0), U(threshold), F(scale)];
  if (inplace) g.dispatch('peft/dropout', [out], params, groups(n), { entry: 'main_inplace' });
  else g.dispatch('peft/dropout', [out, inp], params, groups(n));
}
