// Library (no entry point): pulled into a shader by a `// #include core/sincos` line (GpuContext.module).
// (sin x, cos x). Cody–Waite reduction x = k·π/2 + r with π/2 split into four parts of at most
// 9 significant bits each (k·part is exact for |k| < 2^15, i.e. |x| < ~5e4), then the Cephes
// sinf/cosf minimax polynomials on |r| ≤ π/4 and the quadrant k mod 4.
fn sincos(x: f32) -> vec2f {
  let k = round(x * 0.636619772367581343);
  var r = x - k * 1.5703125;
  r = r - k * 4.8351287841796875e-4;
  r = r - k * 3.13855707645416259766e-7;
  r = r - k * 6.07709438327219686471e-11;
  let z = r * r;
  let s = r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
  let c = 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3 + z * 2.443315711809948e-5));
  let q = u32(i32(k) & 3);
  var sc = vec2f(s, c);
  if ((q & 1u) == 1u) { sc = vec2f(c, -s); }   // x = r + π/2: sin = cos r, cos = −sin r
  if (q >= 2u) { sc = -sc; }                  // + π: both change sign
  return sc;
}
