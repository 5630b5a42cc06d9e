// Rotary position embedding, HF rotate_half convention, on x (B,T,H,HS) at positions pos0 + t.
// For i < HS/2, θ = pos · inv_freq[i]:
//   out[i]        = x[i]·cosθ − x[i+HS/2]·sinθ
//   out[i+HS/2]   = x[i+HS/2]·cosθ + x[i]·sinθ
// `inverse` rotates by −θ (the backward pass: the rotation is orthogonal).
// reads: inp (B,T,H,HS), inv_freq (HS/2); writes: out (B,T,H,HS) (=). out may not alias inp.
// One invocation per (b, t, h, i) pair, i < HS/2: it owns out[i] and out[i+HS/2].
//
// Parity with HF: inv_freq comes from the host already rounded as HF rounds it in float32
// (1 / float32(base ** float32(2i/HS))); θ = f32(pos) · inv_freq is one f32 multiply, as HF's
// float32 `inv_freq @ position_ids`. cos/sin are computed here (see sincos) to about 1 ulp for
// |θ| up to ~5e4 instead of trusting the driver's sin/cos, whose accuracy WGSL leaves loose
// (2^-11 absolute) and which degrades with |θ| on some hardware.
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> inp: array<f32>;
@group(0) @binding(2) var<storage, read> inv_freq: array<f32>;
struct Params { n: u32, T: u32, H: u32, half: u32, pos0: u32, inverse: u32 }
@group(0) @binding(3) var<uniform> P: Params;

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

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = gid.x + gid.y * nwg.x * 256u;
  if (idx >= P.n) { return; }
  let i = idx % P.half;
  let row = idx / P.half;               // (b*T + t)*H + h
  let t = (row / P.H) % P.T;
  let theta = f32(P.pos0 + t) * inv_freq[i];
  var sc = sincos(theta);
  if (P.inverse != 0u) { sc.x = -sc.x; }
  let o = row * 2u * P.half + i;
  let x1 = inp[o];
  let x2 = inp[o + P.half];
  out[o] = x1 * sc.y - x2 * sc.x;
  out[o + P.half] = x2 * sc.y + x1 * sc.x;
}
