// RMSNorm: forward, the residual add fused into it (addRmsnormForward), and the backward for the
// input and for the weight. Shaders: shaders/core/rmsnorm_forward.wgsl (entry points `main` and
// `main_add`), rmsnorm_backward_input.wgsl, rmsnorm_backward_weight_partial.wgsl and the split
// reduction the weight gradients share, matmul_reduce_splits.wgsl; CPU reference:
// src/engine/ref/rmsnorm.ref.ts. One workgroup
// per row, each reduction a fixed-order tree in workgroup memory (no float atomics), so a seed
// reproduces a run bit for bit.
import type { Tensor } from '../../backend.ts';
import { checkSizes, F, type GpuContext, groups, U } from '../context.ts';

/** Rows per partial sum in rmsnormBackwardWeight (fixed: it defines the summation order). */
const RMS_DW_ROWS = 256;
/** Columns per workgroup in rmsnorm_backward_weight_partial. */
const RMS_DW_COLS = 32;

export function rmsnormForward(g: GpuContext, out: Tensor, rstd: Tensor, inp: Tensor, w: Tensor, N: number, C: number, eps: number): void {
  checkSizes('rmsnormForward', [[out, N * C], [rstd, N], [inp, N * C], [w, C]]);
  g.dispatch('core/rmsnorm_forward', [out, rstd, inp, w], [U(N), U(C), F(eps)], N);
}

/** sum = x + d, out = rmsnorm(sum) (rmsnorm_forward.wgsl `main_add`). */
export function addRmsnormForward(g: GpuContext, sum: Tensor, out: Tensor, rstd: Tensor, x: Tensor, d: Tensor, w: Tensor,
  N: number, C: number, eps: number): void {
  checkSizes('addRmsnormForward', [[sum, N * C], [out, N * C], [rstd, N], [x, N * C], [d, N * C], [w, C]]);
  if (sum === x || sum === d) throw new Error('addRmsnormForward: sum may not alias x or d');
  g.dispatch('core/rmsnorm_forward', [out, rstd, x, w, d, sum], [U(N), U(C), F(eps)], N, { entry: 'main_add' });
}

export function rmsnormBackwardInput(g: GpuContext, dinp: Tensor, dout: Tensor, inp: Tensor, w: Tensor, rstd: Tensor, N: number, C: number): void {
  checkSizes('rmsnormBackwardInput', [[dinp, N * C], [dout, N * C], [inp, N * C], [w, C], [rstd, N]]);
  g.dispatch('core/rmsnorm_backward_input', [dinp, dout, inp, w, rstd], [U(N), U(C)], N);
}

/** Two phases: partial sums over fixed 256-row chunks (parallel over column blocks × chunks) into
 * a scratch (K,C), then one invocation per column adds the K partials in order into dw (the split
 * reduction of matmul's and scale_cols' weight gradients). */
export function rmsnormBackwardWeight(g: GpuContext, dw: Tensor, dout: Tensor, inp: Tensor, rstd: Tensor, N: number, C: number): void {
  checkSizes('rmsnormBackwardWeight', [[dw, C], [dout, N * C], [inp, N * C], [rstd, N]]);
  if (N === 0 || C === 0) return;
  const K = groups(N, RMS_DW_ROWS);
  const maxDim = g.device.limits.maxComputeWorkgroupsPerDimension;
  if (K > maxDim) throw new Error(`rmsnormBackwardWeight: N = ${N} needs ${K} row chunks, more than ${maxDim}`);
  const partial = g.scratch('rmsnorm-scratch', K * C);
  g.dispatch('core/rmsnorm_backward_weight_partial', [partial, dout, inp, rstd], [U(N), U(C)], [groups(C, RMS_DW_COLS), K, 1]);
  g.dispatch('core/matmul_reduce_splits', [dw, partial], [U(C), U(K)], groups(C));
}
