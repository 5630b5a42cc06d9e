// Rotary position embedding, HF rotate_half convention, on a query and a key tensor at once:
// q (B,T,NH,HS) and k (B,T,NKV,HS) at positions pos0 + t (one dispatch for both).
// For i < HS/2, θ = pos · inv_freq[i]:
//   out[i]        = x[i]·cosθ − x[i+HS/2]·sinθ
//   out[i+HS/2]   = x[i+HS/2]·cosθ + x[i]·sinθ
// `inverse` rotates by −θ (the backward pass: the rotation is orthogonal).
// reads: q, k, inv_freq (HS/2); writes: qo, ko (=). Outputs may not alias inputs.
// One invocation per (b, t, h, i) pair, i < HS/2, of q (the first nq pairs) then of k: it owns
// out[i] and out[i+HS/2].
//
// Parity with HF: inv_freq comes from the host already rounded as HF rounds it in float32
// (1 / float32(base ** float32(2i/HS))); θ = f32(pos) · inv_freq is one f32 multiply, as HF's
// float32 `inv_freq @ position_ids`. cos/sin are computed here (see sincos) to about 1 ulp for
// |θ| up to ~5e4 instead of trusting the driver's sin/cos, whose accuracy WGSL leaves loose
// (2^-11 absolute) and which degrades with |θ| on some hardware.
// #include core/common
@group(0) @binding(0) var<storage, read_write> qo: array<f32>;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> ko: array<f32>;
@group(0) @binding(3) var<storage, read> k: array<f32>;
@group(0) @binding(4) var<storage, read> inv_freq: array<f32>;
struct Params { n: u32, nq: u32, T: u32, NH: u32, NKV: u32, half: u32, pos0: u32, inverse: u32 }
@group(0) @binding(5) var<uniform> P: Params;

// #include core/sincos

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = folded(gid, nwg);
  if (idx >= P.n) { return; }
  let isq = idx < P.nq;
  var j = idx;
  var H = P.NH;
  if (!isq) {
    j = idx - P.nq;
    H = P.NKV;
  }
  let i = j % P.half;
  let row = j / P.half;                 // (b*T + t)*H + h
  let t = (row / H) % P.T;
  let theta = f32(P.pos0 + t) * inv_freq[i];
  var sc = sincos(theta);
  if (P.inverse != 0u) { sc.x = -sc.x; }
  let o = row * 2u * P.half + i;
  if (isq) {
    let x1 = q[o];
    let x2 = q[o + P.half];
    qo[o] = x1 * sc.y - x2 * sc.x;
    qo[o + P.half] = x2 * sc.y + x1 * sc.x;
  } else {
    let x1 = k[o];
    let x2 = k[o + P.half];
    ko[o] = x1 * sc.y - x2 * sc.x;
    ko[o + P.half] = x2 * sc.y + x1 * sc.x;
  }
}
