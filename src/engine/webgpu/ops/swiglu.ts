// SwiGLU, out = silu(gate) ⊙ up, and its backward. Shaders: shaders/core/swiglu_forward.wgsl and
// swiglu_backward.wgsl; CPU reference: src/engine/ref/swiglu.ref.ts.
import type { Tensor } from '../../backend.ts';
import { checkSizes, type GpuContext, groups, U } from '../context.ts';

export function swigluForward(g: GpuContext, out: Tensor, gate: Tensor, up: Tensor, n: number): void {
  checkSizes('swigluForward', [[out, n], [gate, n], [up, n]]);
  g.dispatch('core/swiglu_forward', [out, gate, up], [U(n)], groups(n));
}

export function swigluBackward(g: GpuContext, dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor, n: number): void {
  checkSizes('swigluBackward', [[dgate, n], [dup, n], [dout, n], [gate, n], [up, n]]);
  g.dispatch('core/swiglu_backward', [dgate, dup, dout, gate, up], [U(n)], groups(n));
}
