// CPU reference: rotary position embedding, HF rotate_half convention.
type F = Float32Array | Float64Array;

/** out (B,T,H,HS) = rotate(inp) at positions pos0 + t. For i < HS/2, θ = pos · base^(−2i/HS):
 * out[i] = x[i]cosθ − x[i+HS/2]sinθ, out[i+HS/2] = x[i+HS/2]cosθ + x[i]sinθ.
 * `inverse` rotates by −θ; since the rotation is orthogonal that is also the backward pass.
 * Angles are computed in float64 (HF computes them in float32; the difference is ~1e-7·pos). */
export function rope(out: F, inp: F, B: number, T: number, H: number, HS: number, base: number, pos0: number,
  inverse: boolean): void {
  if (HS % 2 !== 0) throw new RangeError(`rope: head size ${HS} must be even`);
  if (out === inp) throw new Error('rope: out may not alias inp');
  const half = HS / 2;
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const pos = pos0 + t;
      for (let i = 0; i < half; i++) {
        const theta = pos * Math.pow(base, (-2 * i) / HS);
        cos[i] = Math.cos(theta);
        sin[i] = inverse ? -Math.sin(theta) : Math.sin(theta);
      }
      for (let h = 0; h < H; h++) {
        const o = ((b * T + t) * H + h) * HS;
        for (let i = 0; i < half; i++) {
          const x1 = inp[o + i];
          const x2 = inp[o + i + half];
          out[o + i] = x1 * cos[i] - x2 * sin[i];
          out[o + i + half] = x2 * cos[i] + x1 * sin[i];
        }
      }
    }
  }
}
