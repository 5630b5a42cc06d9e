// Decode fusion: RMSNorm + q/k/v projections + bias + RoPE + the KV-cache write, one dispatch per layer.
// Shader: shaders/core/qkv_rope.wgsl. Semantics: Backend.qkvRope (src/engine/backend.ts); its CPU
// reference is the composition of the references it fuses (rmsnorm, matmul, rope, kv_write:
// qkv_rope.test.ts).
import type { Tensor } from '../../backend.ts';
import { F, type GpuContext, U } from '../context.ts';
import { checkFused } from './norm_matmul.ts';
import { invFreq } from './rope.ts';

/** q (N, NH·HS) = rope([ln·Wqᵀ + bq]), kcache[b, pos] = rope(ln·Wkᵀ + bk), vcache[b, pos] = ln·Wvᵀ + bv, with
 * ln = rmsnorm(x) and rows n = b·Tq + t at pos = pos0 + t; w = [Wq; Wk; Wv] ((NH + 2·NKV)·HS, C), bias likewise. */
export function qkvRope(g: GpuContext, q: Tensor, kcache: Tensor, vcache: Tensor, x: Tensor, lnw: Tensor, w: Tensor, bias: Tensor | null,
  B: number, Tq: number, pos0: number, Tmax: number, C: number, NH: number, NKV: number, HS: number, eps: number, base: number): void {
  const N = B * Tq, OUT = (NH + 2 * NKV) * HS;
  if (HS % 2 !== 0) throw new RangeError(`qkvRope: head size ${HS} must be even`);
  if (pos0 + Tq > Tmax) throw new RangeError(`qkvRope: positions ${pos0}..${pos0 + Tq - 1} exceed the cache (${Tmax})`);
  const ins = [x, lnw, w, ...(bias ? [bias] : [])];
  checkFused('qkvRope', { B, Tq, pos0, Tmax, C, NH, NKV, HS }, [[q, N * NH * HS], [kcache, B * Tmax * NKV * HS], [vcache, B * Tmax * NKV * HS],
    [x, N * C], [lnw, C], [w, OUT * C], ...(bias ? [[bias, OUT] as [Tensor, number]] : [])], [q, kcache, vcache], ins);
  if (N === 0) return;
  g.dispatch('core/qkv_rope', [q, kcache, vcache, x, lnw, w, bias ?? lnw, invFreq(g, base, HS)],
    [U(N), U(Tq), U(pos0), U(Tmax), U(C), U(NH), U(NKV), U(HS / 2), F(eps)], N, { constants: { HAS_BIAS: bias ? 1 : 0 } });
}
