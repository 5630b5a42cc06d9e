// Token embedding lookup and its backward. Shaders: shaders/core/embedding_forward.wgsl and
// embedding_backward.wgsl; CPU reference: src/engine/ref/embedding.ref.ts.
import type { Tensor } from '../../backend.ts';
import { checkSizes, type GpuContext, groups, U } from '../context.ts';

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
