// Decode fusion: RMSNorm + matmul, optionally + SwiGLU, one dispatch per row block (a decode layer is
// 5 dispatches: qkv_rope.ts, attention, the two residual matmuls and this). Shader:
// shaders/core/norm_matmul.wgsl. Semantics: Backend.normMatmul (src/engine/backend.ts); its CPU
// reference is the composition of the references it fuses (rmsnorm, matmul, swiglu: norm_matmul.test.ts).
import type { Tensor } from '../../backend.ts';
import { checkDims, checkNoAlias, checkSizes, F, type GpuContext, U } from '../context.ts';

/** The row kept in workgroup memory: array<f32, 2048> in norm_matmul.wgsl and qkv_rope.wgsl. */
export const MAX_C = 2048;

/** Dimensions, the row length, tensor sizes and aliasing: the checks both decode fusions make. */
export function checkFused(op: string, dims: Record<string, number>, sizes: [Tensor, number][], out: Tensor[], inputs: Tensor[]): void {
  checkDims(op, dims);
  if (dims.C > MAX_C) throw new RangeError(`${op}: C=${dims.C} exceeds ${MAX_C}`);
  checkSizes(op, sizes);
  checkNoAlias(op, out, inputs);
}

/** out (N,OC) = rmsnorm(x)·wᵀ, or silu(rmsnorm(x)·wᵀ) ⊙ (rmsnorm(x)·w2ᵀ) when w2 is given. */
export function normMatmul(g: GpuContext, out: Tensor, x: Tensor, lnw: Tensor, w: Tensor, w2: Tensor | null,
  N: number, C: number, OC: number, eps: number): void {
  const ins = [x, lnw, w, ...(w2 ? [w2] : [])];
  checkFused('normMatmul', { N, C, OC }, [[out, N * OC], [x, N * C], [lnw, C], [w, OC * C], ...(w2 ? [[w2, OC * C] as [Tensor, number]] : [])], [out], ins);
  if (N === 0 || OC === 0) return;
  g.dispatch('core/norm_matmul', [out, x, lnw, w, w2 ?? w], [U(N), U(C), U(OC), F(eps)], N, { constants: { GATED: w2 ? 1 : 0 } });
}
