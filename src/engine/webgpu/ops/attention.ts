// Causal GQA attention: forward, backward and the KV-cache decode. Shaders:
// shaders/core/attention_forward.wgsl (forward and decode), attention_backward_query.wgsl
// (scratch = d(scores), dq) and attention_backward_kv.wgsl (dk, dv). Semantics: src/engine/backend.ts;
// CPU reference: src/engine/ref/attention.ref.ts. RoPE is rope.ts, the cache append kv_write.ts.
import type { Tensor } from '../../backend.ts';
import { checkDims, checkSizes, F, type GpuContext, type GpuTensor, U } from '../context.ts';

/** The attention kernels keep a query/dout row in workgroup memory and four accumulators per lane. */
const MAX_HS = 256;

function heads(op: string, NH: number, NKV: number, HS: number): void {
  if (NKV <= 0 || NH % NKV !== 0) throw new RangeError(`${op}: NH=${NH} is not a multiple of NKV=${NKV}`);
  if (HS < 1 || HS > MAX_HS) throw new RangeError(`${op}: head size ${HS} outside 1..${MAX_HS}`);
}

/** 1/sqrt(HS) as HF's `head_dim ** -0.5`, rounded once to f32. */
const scaleOf = (HS: number) => Math.fround(1 / Math.sqrt(HS));

/** Decode writes no probabilities but the shared kernel binds `att`: a 4-value stand-in per context. */
const dummyAtt = new WeakMap<GpuContext, GpuTensor>();

function noAtt(g: GpuContext): GpuTensor {
  let t = dummyAtt.get(g);
  if (!t) dummyAtt.set(g, (t = g.createTensor('attention-decode-no-att', 4, 'f32')));
  return t;
}

export function attentionForward(g: GpuContext, out: Tensor, att: Tensor, q: Tensor, k: Tensor, v: Tensor, B: number, T: number,
  NH: number, NKV: number, HS: number): void {
  checkDims('attentionForward', { B, T, NH, NKV, HS });
  heads('attentionForward', NH, NKV, HS);
  const nq = B * T * NH * HS, nk = B * T * NKV * HS;
  checkSizes('attentionForward', [[out, nq], [att, B * NH * T * T], [q, nq], [k, nk], [v, nk]]);
  const rows = B * T * NH;
  g.dispatch('core/attention_forward', [out, att, q, k, v],
    [U(rows), U(T), U(0), U(T), U(NH), U(NKV), U(HS), F(scaleOf(HS)), U(1)], rows);
}

export function attentionBackward(g: GpuContext, dq: Tensor, dk: Tensor, dv: Tensor, scratch: Tensor, dout: Tensor, q: Tensor,
  k: Tensor, v: Tensor, att: Tensor, B: number, T: number, NH: number, NKV: number, HS: number): void {
  checkDims('attentionBackward', { B, T, NH, NKV, HS });
  heads('attentionBackward', NH, NKV, HS);
  const nq = B * T * NH * HS, nk = B * T * NKV * HS, na = B * NH * T * T;
  checkSizes('attentionBackward', [[dq, nq], [dout, nq], [q, nq], [dk, nk], [dv, nk], [k, nk], [v, nk], [scratch, na], [att, na]]);
  const shape = [U(T), U(NH), U(NKV), U(HS), F(scaleOf(HS))];
  // 1: per query row, scratch = d(scores) and dq; 2: per key row, dk and dv (reads scratch).
  const qrows = B * T * NH;
  g.dispatch('core/attention_backward_query', [dq, scratch, dout, k, v, att], [U(qrows), ...shape], qrows);
  const krows = B * T * NKV;
  g.dispatch('core/attention_backward_kv', [dk, dv, scratch, att, q, dout], [U(krows), ...shape], krows);
}

export function attentionDecode(g: GpuContext, out: Tensor, q: Tensor, kcache: Tensor, vcache: Tensor, B: number, Tq: number,
  pos0: number, Tmax: number, NH: number, NKV: number, HS: number): void {
  checkDims('attentionDecode', { B, Tq, pos0, Tmax, NH, NKV, HS });
  heads('attentionDecode', NH, NKV, HS);
  if (pos0 + Tq > Tmax) throw new RangeError(`attentionDecode: pos0+Tq=${pos0 + Tq} exceeds Tmax=${Tmax}`);
  const nq = B * Tq * NH * HS, nc = B * Tmax * NKV * HS;
  checkSizes('attentionDecode', [[out, nq], [q, nq], [kcache, nc], [vcache, nc]]);
  const rows = B * Tq * NH;
  g.dispatch('core/attention_forward', [out, noAtt(g), q, kcache, vcache],
    [U(rows), U(Tq), U(pos0), U(Tmax), U(NH), U(NKV), U(HS), F(scaleOf(HS)), U(0)], rows);
}
