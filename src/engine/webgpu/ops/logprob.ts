// Per-row target log-probabilities (the policy-gradient building block) and their backward.
// Shaders: shaders/core/logprob_forward.wgsl (one workgroup per row, a fixed-order tree reduction)
// and logprob_backward.wgsl; CPU reference: src/engine/ref/logprob.ref.ts.
import type { Tensor } from '../../backend.ts';
import { checkSizes, F, type GpuContext, groups, U } from '../context.ts';

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
