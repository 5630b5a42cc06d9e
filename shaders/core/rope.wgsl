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
// #include core/common
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> inp: array<f32>;
@group(0) @binding(2) var<storage, read> inv_freq: array<f32>;
struct Params { n: u32, T: u32, H: u32, half: u32, pos0: u32, inverse: u32 }
@group(0) @binding(3) var<uniform> P: Params;

// #include core/sincos

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = folded(gid, nwg);
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
