// AdamW (torch.optim.AdamW order) with global-norm clipping computed in-kernel:
//   scale = min(1, maxNorm / (sqrt(Σ_{k<normSlots} sqnorm[k]) + 1e-6)), 1 when maxNorm <= 0;
//   g = grad · scale;  p −= lr·wd·p;  m = β1 m + (1−β1) g;  v = β2 v + (1−β2) g²;
//   p −= lr · (m / bc1) / (sqrt(v / bc2) + eps),  bc1 = 1 − β1^step, bc2 = 1 − β2^step.
// reads: grad (n), sqnorm (normSlots); writes: param (n), m (n), v (n) (all updated in place).
// One invocation per entry (folded 1-D dispatch). Each workgroup first sums the sqnorm slots with
// the same fixed-order tree, so every workgroup sees the same bit-identical scale, no readback.
// 1−β1, 1−β2, lr·wd, bc1, bc2 come precomputed in float64 on the host.
@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> sqnorm: array<f32>;
struct Params {
  n: u32, normSlots: u32,
  lr: f32, beta1: f32, omb1: f32, beta2: f32, omb2: f32, eps: f32,
  lrwd: f32, bc1: f32, bc2: f32, maxNorm: f32,
}
@group(0) @binding(5) var<uniform> P: Params;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) t: u32) {
  var scale = 1.0;
  if (P.maxNorm > 0.0) {
    var s = 0.0;
    for (var k = t; k < P.normSlots; k += 256u) { s += sqnorm[k]; }
    red[t] = s;
    workgroupBarrier();
    for (var k = 128u; k > 0u; k >>= 1u) {
      if (t < k) { red[t] += red[t + k]; }
      workgroupBarrier();
    }
    scale = min(1.0, P.maxNorm / (sqrt(red[0]) + 1e-6));
  }
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.n) { return; }
  let g = grad[i] * scale;
  let mi = P.beta1 * m[i] + P.omb1 * g;
  let vi = P.beta2 * v[i] + P.omb2 * g * g;
  m[i] = mi;
  v[i] = vi;
  var w = param[i];
  w -= P.lrwd * w;
  w -= P.lr * (mi / P.bc1) / (sqrt(vi / P.bc2) + P.eps);
  param[i] = w;
}
