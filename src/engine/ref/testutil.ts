// Shared helpers for kernel tests: seeded random data, error norms, finite differences (relErr is
// also the parity reports' measure).
// Used by the CPU reference tests here and by GPU-vs-CPU kernel tests elsewhere.

/** mulberry32: a small seeded PRNG; returns uniform numbers in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal sample (Box–Muller) drawn from `r`. */
export function randn(r: () => number): number {
  const u = 1 - r(); // (0, 1]: log stays finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** n normal(0, scale²) values, rounded to float32 so the same data can go to a GPU or, widened with
 * Float64Array.from, to a float64 reference without changing a value. */
export function randArray(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = randn(r) * scale;
  return out;
}

/** randArray widened to float64 (for finite-difference checks). */
export function randArray64(n: number, seed: number, scale = 1): Float64Array {
  return Float64Array.from(randArray(n, seed, scale));
}

/** n integers uniform in [lo, hi). */
export function randInts(n: number, seed: number, lo: number, hi: number): Int32Array {
  const r = rng(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + Math.floor(r() * (hi - lo));
  return out;
}

/** ‖got − want‖₂ / ‖want‖₂ (the absolute norm when want is all zeros); Infinity when the lengths
 * differ or anything is not finite, so a comparison against a tolerance fails. */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  if (!Number.isFinite(num)) return Infinity;
  return den > 0 ? Math.sqrt(num / den) : Math.sqrt(num);
}

/** max_i |got[i] − want[i]|. */
export function maxAbsDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`maxAbsDiff: length ${got.length} vs ${want.length}`);
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
  return Number.isNaN(m) ? NaN : m;
}

/** Σ a·b (the fake loss L = Σ out·dout). */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Central finite-difference gradient of `loss` with respect to every entry of x (perturbed in
 * place and restored). Use float64 data: the truncation error is O(h²), the rounding O(1e-16/h). */
export function fdGrad(x: Float64Array, loss: () => number, h = 1e-5): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i];
    x[i] = x0 + h;
    const lp = loss();
    x[i] = x0 - h;
    const lm = loss();
    x[i] = x0;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

/** a − b elementwise (to isolate what an accumulating (+=) op added). */
export function sub(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] - b[i];
  return out;
}
