// AdamW (torch.optim.AdamW order) with global-norm clipping computed in-kernel, several tensors in
// one dispatch:
//   scale = min(1, maxNorm / (sqrt(Σ_{k<normSlots} sqnorm[k]) + 1e-6)), 1 when maxNorm <= 0;
//   g = grad · scale;  p −= lr·wd·p;  m = β1 m + (1−β1) g;  v = β2 v + (1−β2) g²;
//   p −= lr · (m / bc1) / (sqrt(v / bc2) + eps),  bc1 = 1 − β1^step, bc2 = 1 − β2^step.
// Segment s (a tensor) is n_s entries of each of param, grad, m and v (one buffer per role, the
// tensors packed in it, Backend.pack; each at its own offset), with its own lr and lr·wd, updated by workgroups
// [wg0_s, wg0_s + ⌈n_s/WG⌉) of the folded 1-D dispatch (wg0 ascending; each workgroup finds its
// segment by bisection over the uniform table).
// reads: grad, sqnorm (normSlots); writes: param, m, v (all updated in place).
// One invocation per entry. Each workgroup first sums the sqnorm slots with the same fixed-order
// tree, so every workgroup sees the same bit-identical scale, no readback. Per entry the arithmetic
// is the same whatever shares the dispatch. 1−β1, 1−β2, lr·wd, bc1, bc2 come precomputed in float64
// on the host.
// #include core/common
// #include core/tree_sum
@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read> sqnorm: array<f32>;
const MAX_SEGS = 128u; // ops/adamw.ts splits longer lists
struct Seg { wg0: u32, n: u32, lr: f32, lrwd: f32, offP: u32, offG: u32, offM: u32, offV: u32 }
struct Params {
  nsegs: u32, normSlots: u32, beta1: f32, omb1: f32,
  beta2: f32, omb2: f32, eps: f32, bc1: f32,
  bc2: f32, maxNorm: f32, _p0: u32, _p1: u32,
  segs: array<Seg, MAX_SEGS>,
}
@group(0) @binding(5) var<uniform> P: Params;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) t: u32) {
  var scale = 1.0;
  if (P.maxNorm > 0.0) {
    var s = 0.0;
    for (var k = t; k < P.normSlots; k += WG) { s += sqnorm[k]; }
    red[t] = s;
    tree_sum(t);
    scale = min(1.0, P.maxNorm / (sqrt(red[0]) + 1e-6));
  }
  // The last segment whose first workgroup is ≤ this one (lo ≤ s < hi).
  let wg = wid.x + wid.y * nwg.x;
  var lo = 0u;
  var hi = P.nsegs;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (P.segs[mid].wg0 <= wg) { lo = mid; } else { hi = mid; }
  }
  let seg = P.segs[lo];
  let j = (wg - seg.wg0) * WG + t;
  if (j >= seg.n) { return; }
  let g = grad[seg.offG + j] * scale;
  let mi = P.beta1 * m[seg.offM + j] + P.omb1 * g;
  let vi = P.beta2 * v[seg.offV + j] + P.omb2 * g * g;
  m[seg.offM + j] = mi;
  v[seg.offV + j] = vi;
  var w = param[seg.offP + j];
  w -= seg.lrwd * w;
  w -= seg.lr * (mi / P.bc1) / (sqrt(vi / P.bc2) + P.eps);
  param[seg.offP + j] = w;
}
