// Rotary position embedding of queries and keys, in one dispatch. Shader: shaders/core/rope.wgsl;
// CPU reference: src/engine/ref/rope.ref.ts. invFreq is shared with the decode fusion that applies
// RoPE itself (qkv_rope.ts).
import type { Tensor } from '../../backend.ts';
import { checkDims, checkSizes, type GpuContext, type GpuTensor, groups, U } from '../context.ts';

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
  checkDims('rope', { B, T, NH, NKV, HS, pos0 });
  if (HS % 2 !== 0) throw new RangeError(`rope: head size ${HS} must be even`);
  if (qOut === q || kOut === k || qOut === k || kOut === q) throw new Error('rope: an output may not alias an input');
  const nq = B * T * NH * HS, nk = B * T * NKV * HS;
  checkSizes('rope', [[qOut, nq], [q, nq], [kOut, nk], [k, nk]]);
  const pairs = (nq + nk) / 2; // one invocation per (x[i], x[i+HS/2]) pair, q's then k's
  if (pairs === 0) return;
  g.dispatch('core/rope', [qOut, q, kOut, k, invFreq(g, base, HS)],
    [U(pairs), U(nq / 2), U(T), U(NH), U(NKV), U(HS / 2), U(pos0), U(inverse ? 1 : 0)], groups(pairs));
}
