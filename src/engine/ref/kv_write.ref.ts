// CPU reference: the KV-cache append that attentionDecode (attention.ref.ts) reads.
type F = Float32Array | Float64Array;

/** cache (B,Tmax,W)[b, pos0+t, :] = x (B,Tq,W)[b, t, :]. W = NKV·HS. */
export function kvWrite(cache: F, x: F, B: number, Tq: number, pos0: number, Tmax: number, W: number): void {
  if (pos0 < 0 || pos0 + Tq > Tmax) throw new RangeError(`kvWrite: positions ${pos0}..${pos0 + Tq - 1} outside [0, ${Tmax})`);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < Tq; t++) {
      const src = (b * Tq + t) * W;
      const dst = (b * Tmax + pos0 + t) * W;
      for (let i = 0; i < W; i++) cache[dst + i] = x[src + i];
    }
  }
}
