// Append to a KV cache: cache (B,Tmax,W)[b, pos0+t, :] = x (B,Tq,W)[b, t, :] (=), W = NKV·HS.
// reads: x (B,Tq,W); writes: cache rows pos0 .. pos0+Tq−1 of each batch entry (=), others untouched.
// One invocation per element of x.
// #include core/common
@group(0) @binding(0) var<storage, read_write> cache: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
struct Params { n: u32, per: u32, Tmax: u32, pos0: u32, W: u32 }   // n = B·Tq·W, per = Tq·W
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = folded(gid, nwg);
  if (i >= P.n) { return; }
  let b = i / P.per;
  let r = i - b * P.per;
  cache[(b * P.Tmax + P.pos0) * P.W + r] = x[i];
}
