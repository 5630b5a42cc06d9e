// The KV-cache append: rows of new keys (or values) written into the cache at positions pos0 + t,
// which attentionDecode (attention.ts) then reads. Shader: shaders/core/kv_write.wgsl; CPU
// reference: src/engine/ref/kv_write.ref.ts.
import type { Tensor } from '../../backend.ts';
import { checkDims, checkSizes, type GpuContext, groups, U } from '../context.ts';

/** cache (B,Tmax,W)[b, pos0 + t] = x (B,Tq,W)[b, t]. */
export function kvWrite(g: GpuContext, cache: Tensor, x: Tensor, B: number, Tq: number, pos0: number, Tmax: number, W: number): void {
  checkDims('kvWrite', { B, Tq, pos0, Tmax, W });
  if (pos0 + Tq > Tmax) throw new RangeError(`kvWrite: positions ${pos0}..${pos0 + Tq - 1} outside [0, ${Tmax})`);
  checkSizes('kvWrite', [[cache, B * Tmax * W], [x, B * Tq * W]]);
  const n = B * Tq * W;
  g.dispatch('core/kv_write', [cache, x], [U(n), U(Tq * W), U(Tmax), U(pos0), U(W)], groups(n));
}
