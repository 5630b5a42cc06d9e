// Rotary embedding, causal GQA attention (forward, backward, KV-cache decode) and the KV-cache
// append. Shaders: shaders/core/rope.wgsl, attention_forward.wgsl (forward and decode),
// attention_backward_query.wgsl (scratch = d(scores), dq), attention_backward_kv.wgsl (dk, dv),
// kv_write.wgsl. Semantics: src/engine/backend.ts; CPU references: src/engine/ref/{rope,attention}.ref.ts.
import type { Tensor } from '../../backend.ts';
import { F, type GpuContext, type GpuTensor, U, WG } from '../context.ts';

const groups = (n: number, per = WG) => Math.ceil(n / per);

/** The attention kernels keep a query/dout row in workgroup memory and four accumulators per lane. */
const MAX_HS = 256;

function need(t: Tensor, n: number, op: string): void {
  if (t.size < n) throw new RangeError(`${op}: tensor "${t.label}" holds ${t.size} values, needs ${n}`);
}

function dims(op: string, ...xs: number[]): void {
  for (const x of xs) if (!Number.isInteger(x) || x < 0) throw new RangeError(`${op}: invalid size ${x}`);
}

function heads(op: string, NH: number, NKV: number, HS: number): void {
  if (NKV <= 0 || NH % NKV !== 0) throw new RangeError(`${op}: NH=${NH} is not a multiple of NKV=${NKV}`);
  if (HS < 1 || HS > MAX_HS) throw new RangeError(`${op}: head size ${HS} outside 1..${MAX_HS}`);
}

/** 1/sqrt(HS) as HF's `head_dim ** -0.5`, rounded once to f32. */
const scaleOf = (HS: number) => Math.fround(1 / Math.sqrt(HS));

// --- rope ------------------------------------------------------------------------------------

/** inv_freq (HS/2) per context and (base, HS), uploaded once. Rounded as HF computes it in
 * float32: inv_freq[i] = 1 / f32(base ** f32(2i/HS)). */
const invFreqCache = new WeakMap<GpuContext, Map<string, GpuTensor>>();

export function invFreq(g: GpuContext, base: number, HS: number): GpuTensor {
  let byKey = invFreqCache.get(g);
  if (!byKey) invFreqCache.set(g, (byKey = new Map()));
  const key = `${base}:${HS}`;
  let t = byKey.get(key);
  if (!t) {
    const half = HS / 2;
    const data = new Float32Array(half);
    for (let i = 0; i < half; i++) data[i] = Math.fround(1 / Math.fround(Math.pow(base, Math.fround((2 * i) / HS))));
    t = g.createTensor(`rope-inv-freq(base=${base},HS=${HS})`, half, 'f32');
    g.write(t, data, 0);
    byKey.set(key, t);
  }
  return t;
}

/** q (B,T,NH,HS) → qOut and k (B,T,NKV,HS) → kOut, rotated at positions pos0 + t: one dispatch. */
export function rope(g: GpuContext, qOut: Tensor, q: Tensor, kOut: Tensor, k: Tensor, B: number, T: number, NH: number, NKV: number,
  HS: number, base: number, pos0: number, inverse: boolean): void {
  dims('rope', B, T, NH, NKV, HS, pos0);
  if (HS % 2 !== 0) throw new RangeError(`rope: head size ${HS} must be even`);
  if (qOut === q || kOut === k || qOut === k || kOut === q) throw new Error('rope: an output may not alias an input');
  const nq = B * T * NH * HS, nk = B * T * NKV * HS;
  need(qOut, nq, 'rope');
  need(q, nq, 'rope');
  need(kOut, nk, 'rope');
  need(k, nk, 'rope');
  const pairs = (nq + nk) / 2; // one invocation per (x[i], x[i+HS/2]) pair, q's then k's
  if (pairs === 0) return;
  g.dispatch('core/rope', [qOut, q, kOut, k, invFreq(g, base, HS)],
    [U(pairs), U(nq / 2), U(T), U(NH), U(NKV), U(HS / 2), U(pos0), U(inverse ? 1 : 0)], groups(pairs));
}

// --- attention -------------------------------------------------------------------------------

/** Decode writes no probabilities but the shared kernel binds `att`: a 4-value stand-in per context. */
const dummyAtt = new WeakMap<GpuContext, GpuTensor>();

function noAtt(g: GpuContext): GpuTensor {
  let t = dummyAtt.get(g);
  if (!t) dummyAtt.set(g, (t = g.createTensor('attention-decode-no-att', 4, 'f32')));
  return t;
}

export function attentionForward(g: GpuContext, out: Tensor, att: Tensor, q: Tensor, k: Tensor, v: Tensor, B: number, T: number,
  NH: number, NKV: number, HS: number): void {
  dims('attentionForward', B, T, NH, NKV, HS);
  heads('attentionForward', NH, NKV, HS);
  need(out, B * T * NH * HS, 'attentionForward');
  need(att, B * NH * T * T, 'attentionForward');
  need(q, B * T * NH * HS, 'attentionForward');
  need(k, B * T * NKV * HS, 'attentionForward');
  need(v, B * T * NKV * HS, 'attentionForward');
  const rows = B * T * NH;
  g.dispatch('core/attention_forward', [out, att, q, k, v],
    [U(rows), U(T), U(0), U(T), U(NH), U(NKV), U(HS), F(scaleOf(HS)), U(1)], rows);
}

export function attentionBackward(g: GpuContext, dq: Tensor, dk: Tensor, dv: Tensor, scratch: Tensor, dout: Tensor, q: Tensor,
  k: Tensor, v: Tensor, att: Tensor, B: number, T: number, NH: number, NKV: number, HS: number): void {
  dims('attentionBackward', B, T, NH, NKV, HS);
  heads('attentionBackward', NH, NKV, HS);
  const nq = B * T * NH * HS;
  const nk = B * T * NKV * HS;
  for (const t of [dq, dout, q]) need(t, nq, 'attentionBackward');
  for (const t of [dk, dv, k, v]) need(t, nk, 'attentionBackward');
  for (const t of [scratch, att]) need(t, B * NH * T * T, 'attentionBackward');
  const shape = [U(T), U(NH), U(NKV), U(HS), F(scaleOf(HS))];
  // 1: per query row, scratch = d(scores) and dq; 2: per key row, dk and dv (reads scratch).
  const qrows = B * T * NH;
  g.dispatch('core/attention_backward_query', [dq, scratch, dout, k, v, att], [U(qrows), ...shape], qrows);
  const krows = B * T * NKV;
  g.dispatch('core/attention_backward_kv', [dk, dv, scratch, att, q, dout], [U(krows), ...shape], krows);
}

export function attentionDecode(g: GpuContext, out: Tensor, q: Tensor, kcache: Tensor, vcache: Tensor, B: number, Tq: number,
  pos0: number, Tmax: number, NH: number, NKV: number, HS: number): void {
  dims('attentionDecode', B, Tq, pos0, Tmax, NH, NKV, HS);
  heads('attentionDecode', NH, NKV, HS);
  if (pos0 + Tq > Tmax) throw new RangeError(`attentionDecode: pos0+Tq=${pos0 + Tq} exceeds Tmax=${Tmax}`);
  need(out, B * Tq * NH * HS, 'attentionDecode');
  need(q, B * Tq * NH * HS, 'attentionDecode');
  need(kcache, B * Tmax * NKV * HS, 'attentionDecode');
  need(vcache, B * Tmax * NKV * HS, 'attentionDecode');
  const rows = B * Tq * NH;
  g.dispatch('core/attention_forward', [out, noAtt(g), q, kcache, vcache],
    [U(rows), U(Tq), U(pos0), U(Tmax), U(NH), U(NKV), U(HS), F(scaleOf(HS)), U(0)], rows);
}

export function kvWrite(g: GpuContext, cache: Tensor, x: Tensor, B: number, Tq: number, pos0: number, Tmax: number, W: number): void {
  dims('kvWrite', B, Tq, pos0, Tmax, W);
  if (pos0 + Tq > Tmax) throw new RangeError(`kvWrite: positions ${pos0}..${pos0 + Tq - 1} outside [0, ${Tmax})`);
  need(cache, B * Tmax * W, 'kvWrite');
  need(x, B * Tq * W, 'kvWrite');
  const n = B * Tq * W;
  g.dispatch('core/kv_write', [cache, x], [U(n), U(Tq * W), U(Tmax), U(pos0), U(W)], groups(n));
}
