// Elementwise, normalisation and loss ops. Shaders: shaders/core/<name>.wgsl.
// Every reduction is a fixed-order tree in workgroup memory (no float atomics), so a seed
// reproduces a run bit for bit. Row reductions (RMSNorm, logprob) use one workgroup per
// row; 1-D dispatches of more than 65535 workgroups are folded by the context.
import type { Tensor } from '../../backend.ts';
import { checkSizes, F, type GpuContext, type GpuTensor, U, WG } from '../context.ts';

const groups = (n: number, per = WG) => Math.ceil(n / per);

/** Rows per partial sum in rmsnormBackwardWeight (fixed: it defines the summation order). */
const RMS_DW_ROWS = 256;
/** Columns per workgroup in rmsnorm_backward_weight_partial. */
const RMS_DW_COLS = 32;

const scratchFor = (g: GpuContext, size: number): GpuTensor => g.scratch('nn-scratch', size);

export function add(g: GpuContext, out: Tensor, a: Tensor, b: Tensor, n: number): void {
  checkSizes('add', [[out, n], [a, n], [b, n]]);
  if (out === a) g.dispatch('core/add_inplace', [out, b], [U(n)], groups(n));
  else g.dispatch('core/add', [out, a, b], [U(n)], groups(n));
}

// --- embedding -------------------------------------------------------------------------------

export function embeddingForward(g: GpuContext, out: Tensor, ids: Tensor, wte: Tensor, N: number, C: number): void {
  checkSizes('embeddingForward', [[out, N * C], [ids, N]]);
  const V = Math.floor(wte.size / Math.max(C, 1));
  g.dispatch('core/embedding_forward', [out, ids, wte], [U(N), U(C), U(V)], groups(N * C));
}

/** One workgroup per vocabulary row (see the shader): deterministic, no atomics on floats. */
export function embeddingBackward(g: GpuContext, dwte: Tensor, dout: Tensor, ids: Tensor, N: number, C: number, V: number): void {
  checkSizes('embeddingBackward', [[dwte, V * C], [dout, N * C], [ids, N]]);
  if (N === 0 || C === 0) return;
  g.dispatch('core/embedding_backward', [dwte, dout, ids], [U(N), U(C), U(V)], V);
}

// --- RMSNorm ---------------------------------------------------------------------------------

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
 * a scratch (K,C), then one invocation per column adds the K partials in order into dw. */
export function rmsnormBackwardWeight(g: GpuContext, dw: Tensor, dout: Tensor, inp: Tensor, rstd: Tensor, N: number, C: number): void {
  checkSizes('rmsnormBackwardWeight', [[dw, C], [dout, N * C], [inp, N * C], [rstd, N]]);
  if (N === 0 || C === 0) return;
  const K = Math.ceil(N / RMS_DW_ROWS);
  const maxDim = g.device.limits.maxComputeWorkgroupsPerDimension;
  if (K > maxDim) throw new Error(`rmsnormBackwardWeight: N = ${N} needs ${K} row chunks, more than ${maxDim}`);
  const partial = scratchFor(g, K * C);
  g.dispatch('core/rmsnorm_backward_weight_partial', [partial, dout, inp, rstd], [U(N), U(C)], [groups(C, RMS_DW_COLS), K, 1]);
  g.dispatch('core/rmsnorm_backward_weight_reduce', [dw, partial], [U(K), U(C)], groups(C));
}

// --- SwiGLU ----------------------------------------------------------------------------------

export function swigluForward(g: GpuContext, out: Tensor, gate: Tensor, up: Tensor, n: number): void {
  checkSizes('swigluForward', [[out, n], [gate, n], [up, n]]);
  g.dispatch('core/swiglu_forward', [out, gate, up], [U(n)], groups(n));
}

export function swigluBackward(g: GpuContext, dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor, n: number): void {
  checkSizes('swigluBackward', [[dgate, n], [dup, n], [dout, n], [gate, n], [up, n]]);
  g.dispatch('core/swiglu_backward', [dgate, dup, dout, gate, up], [U(n)], groups(n));
}

// --- log-probabilities ----------------------------------------------------------------------

/** scale (default 1; 1/temperature for a tempered policy) multiplies the logits before the
 * log-softmax, rounded once to f32 in the shader: scale 1 is bit-identical to no scale. */
function checkScale(op: string, scale: number): number {
  if (!Number.isFinite(scale)) throw new RangeError(`${op}: scale must be finite, got ${scale}`);
  return scale;
}

export function logprobForward(g: GpuContext, logp: Tensor, lse: Tensor, logits: Tensor, targets: Tensor, N: number, V: number, scale = 1): void {
  checkSizes('logprobForward', [[logp, N], [lse, N], [logits, N * V], [targets, N]]);
  g.dispatch('core/logprob_forward', [logp, lse, logits, targets], [U(N), U(V), F(checkScale('logprobForward', scale))], N);
}

export function logprobBackward(g: GpuContext, dlogits: Tensor, dlogp: Tensor, logits: Tensor, lse: Tensor, targets: Tensor, N: number, V: number, scale = 1): void {
  checkSizes('logprobBackward', [[dlogits, N * V], [dlogp, N], [logits, N * V], [lse, N], [targets, N]]);
  g.dispatch('core/logprob_backward', [dlogits, dlogp, logits, lse, targets], [U(N), U(V), F(checkScale('logprobBackward', scale))], groups(N * V));
}
