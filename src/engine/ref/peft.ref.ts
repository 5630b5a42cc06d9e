// CPU references: the building blocks of the parameter-efficient fine-tuning methods that are not
// plain matmuls (low-rank adapters are matmulForward/Backward* with a `scale`, see matmul.ref.ts).
// Written from the op definitions in ../backend.ts, independently of the WGSL kernels.
//   scaleCols / scaleColsBackward  per-column scaling: IA³, DoRA's magnitude, VeRA's λ, AdaLoRA's E
//   rowNorm                        ‖W[o,:]‖₂ (DoRA)
//   div                            elementwise a / b (DoRA's m / ‖W‖)
//   chunkSum / chunkSumBackward    MiSS's folding of the C inputs into R chunk sums
//   dropout                        inverted dropout with a counter-based hash (LoRA dropout)
type F = Float32Array | Float64Array;

/** out (N,OC) = inp (N,OC) ⊙ s (OC) per column + bias (OC) if given; += instead when `accumulate`.
 * out may not alias inp. Its gradient to inp is scaleCols(dinp, dout, s, null, ...) itself. */
export function scaleCols(out: F, inp: F, s: F, bias: F | null, N: number, OC: number, accumulate: boolean): void {
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OC; o++) {
      const i = n * OC + o;
      const v = inp[i] * s[o] + (bias ? bias[o] : 0);
      out[i] = accumulate ? out[i] + v : v;
    }
  }
}

/** ds (OC) += Σ_n dout[n,o] · inp[n,o]. Parameter gradient: accumulates. */
export function scaleColsBackward(ds: F, dout: F, inp: F, N: number, OC: number): void {
  for (let o = 0; o < OC; o++) {
    let acc = 0;
    for (let n = 0; n < N; n++) acc += dout[n * OC + o] * inp[n * OC + o];
    ds[o] += acc;
  }
}

/** out (N) = sqrt(Σ_c x[n,c]²) over the C columns of x (N,C). Writes (=). */
export function rowNorm(out: F, x: F, N: number, C: number): void {
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[n * C + c] ** 2;
    out[n] = Math.sqrt(ss);
  }
}

/** out = a / b elementwise over n entries; += instead when `accumulate`. Its gradient to a is
 * div(da, dout, b) itself. */
export function div(out: F, a: F, b: F, n: number, accumulate: boolean): void {
  for (let i = 0; i < n; i++) {
    const v = a[i] / b[i];
    out[i] = accumulate ? out[i] + v : v;
  }
}

/** xbar (N,R)[n,j] = Σ_k x[n, k·R + j] over the ⌈C/R⌉ chunks of x (N,C), the last chunk zero-padded
 * (terms with k·R + j ≥ C are absent). Writes (=). */
export function chunkSum(xbar: F, x: F, N: number, C: number, R: number): void {
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < R; j++) xbar[n * R + j] = 0;
    for (let c = 0; c < C; c++) xbar[n * R + (c % R)] += x[n * C + c];
  }
}

/** dx (N,C)[n,c] = dxbar (N,R)[n, c mod R]; += instead when `accumulate` (dx is the residual-stream
 * gradient that the base layer's backward also writes). */
export function chunkSumBackward(dx: F, dxbar: F, N: number, C: number, R: number, accumulate: boolean): void {
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const v = dxbar[n * R + (c % R)];
      dx[n * C + c] = accumulate ? dx[n * C + c] + v : v;
    }
  }
}

// --- dropout ------------------------------------------------------------------------------------
// The mask is a pure function of (seed, element index), so the backward pass is the same call on the
// gradient and CPU and GPU agree bit for bit. The hash is PCG's RXS-M-XS output permutation of one
// LCG step (as used for GPU hashing by Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020):
//   pcg(v)        = { state = v·747796405 + 2891336453 (mod 2³²);
//                     word  = ((state >> ((state >> 28) + 4)) ^ state) · 277803737 (mod 2³²);
//                     return (word >> 22) ^ word }
//   keep(seed, i) = (pcg(i ^ pcg(seed)) >> 8) / 2²⁴ ≥ p          (a uniform 24-bit draw in [0, 1))
//   out[i]        = keep ? inp[i] · k : 0,   k = 1/(1−p) rounded to float32
// The factor k is rounded to float32 so that a float32 product (GPU) and the rounded double product
// (here, with float32 storage) are the same number. p = 0 keeps everything with k = 1: a copy.
// p = 1 keeps nothing (k is taken as 0). seed is used modulo 2³² (as a u32).

/** One PCG hash step on a u32 (JavaScript numbers, wrapping like u32 arithmetic). */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul((state >>> ((state >>> 28) + 4)) ^ state, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Whether element i survives dropout with probability p under `seed`. */
export function dropoutKeep(seed: number, i: number, p: number): boolean {
  return (pcgHash((i ^ pcgHash(seed >>> 0)) >>> 0) >>> 8) / 16777216 >= p;
}

/** The factor a kept element is multiplied by: 1/(1−p) rounded to float32 (0 when p = 1). */
export function dropoutScale(p: number): number {
  return p >= 1 ? 0 : Math.fround(1 / (1 - p));
}

/** out = keep(seed, i) ? inp · dropoutScale(p) : 0 over n entries, 0 ≤ p ≤ 1. out may alias inp. */
export function dropout(out: F, inp: F, n: number, p: number, seed: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  const k = dropoutScale(p);
  const hs = pcgHash(seed >>> 0);
  for (let i = 0; i < n; i++) {
    const keep = (pcgHash((i ^ hs) >>> 0) >>> 8) / 16777216 >= p;
    out[i] = keep ? inp[i] * k : 0;
  }
}
