// Decode fusion: the few kernels a KV-cached decode step is made of, so a layer is 5 dispatches
// (with attention and the two residual matmuls). Shaders: shaders/core/norm_matmul.wgsl (RMSNorm + matmul,
// optionally + SwiGLU) and qkv_rope.wgsl (RMSNorm + q/k/v + bias + RoPE + KV-cache write).
// Semantics: Backend.normMatmul / qkvRope (src/engine/backend.ts); the CPU reference of each is the
// composition of the references it fuses (ops/decode.test.ts).
import type { Tensor } from '../../backend.ts';
import { checkSizes, F, type GpuContext, gpuTensor, U } from '../context.ts';
import { invFreq } from './attention.ts';

/** The row kept in workgroup memory: array<f32, 2048> in both shaders. */
export const MAX_C = 2048;

function check(op: string, dims: Record<string, number>, sizes: [Tensor, number][], out: Tensor[], inputs: Tensor[]): void {
  for (const [k, v] of Object.entries(dims)) if (!Number.isInteger(v) || v < 0) throw new RangeError(`${op}: invalid ${k}=${v}`);
  if (dims.C > MAX_C) throw new RangeError(`${op}: C=${dims.C} exceeds ${MAX_C}`);
  checkSizes(op, sizes);
  for (const o of out) for (const i of inputs) {
    if (gpuTensor(o).buffer === gpuTensor(i).buffer) throw new Error(`${op}: output "${o.label}" may not alias input "${i.label}"`);
  }
}

/** out (N,OC) = rmsnorm(x)·wᵀ, or silu(rmsnorm(x)·wᵀ) ⊙ (rmsnorm(x)·w2ᵀ) when w2 is given. */
export function normMatmul(g: GpuContext, out: Tensor, x: Tensor, lnw: Tensor, w: Tensor, w2: Tensor | null,
  N: number, C: number, OC: number, eps: number): void {
  const ins = [x, lnw, w, ...(w2 ? [w2] : [])];
  check('normMatmul', { N, C, OC }, [[out, N * OC], [x, N * C], [lnw, C], [w, OC * C], ...(w2 ? [[w2, OC * C] as [Tensor, number]] : [])], [out], ins);
  if (N === 0 || OC === 0) return;
  g.dispatch('core/norm_matmul', [out, x, lnw, w, w2 ?? w], [U(N), U(C), U(OC), F(eps)], N, { constants: { GATED: w2 ? 1 : 0 } });
}

/** q (N, NH·HS) = rope([ln·Wqᵀ + bq]), kcache[b, pos] = rope(ln·Wkᵀ + bk), vcache[b, pos] = ln·Wvᵀ + bv, with
 * ln = rmsnorm(x) and rows n = b·Tq + t at pos = pos0 + t; w = [Wq; Wk; Wv] ((NH + 2·NKV)·HS, C), bias likewise. */
export function qkvRope(g: GpuContext, q: Tensor, kcache: Tensor, vcache: Tensor, x: Tensor, lnw: Tensor, w: Tensor, bias: Tensor | null,
  B: number, Tq: number, pos0: number, Tmax: number, C: number, NH: number, NKV: number, HS: number, eps: number, base: number): void {
  const N = B * Tq, OUT = (NH + 2 * NKV) * HS;
  if (HS % 2 !== 0) throw new RangeError(`qkvRope: head size ${HS} must be even`);
  if (pos0 + Tq > Tmax) throw new RangeError(`qkvRope: positions ${pos0}..${pos0 + Tq - 1} exceed the cache (${Tmax})`);
  const ins = [x, lnw, w, ...(bias ? [bias] : [])];
  check('qkvRope', { B, Tq, pos0, Tmax, C, NH, NKV, HS }, [[q, N * NH * HS], [kcache, B * Tmax * NKV * HS], [vcache, B * Tmax * NKV * HS],
    [x, N * C], [lnw, C], [w, OUT * C], ...(bias ? [[bias, OUT] as [Tensor, number]] : [])], [q, kcache, vcache], ins);
  if (N === 0) return;
  g.dispatch('core/qkv_rope', [q, kcache, vcache, x, lnw, w, bias ?? lnw, invFreq(g, base, HS)],
    [U(N), U(Tq), U(pos0), U(Tmax), U(C), U(NH), U(NKV), U(HS / 2), F(eps)], N, { constants: { HAS_BIAS: bias ? 1 : 0 } });
}
