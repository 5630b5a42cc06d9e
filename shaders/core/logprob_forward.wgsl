// Target log-probability of the scaled logits z = scale · logits (scale = 1/temperature for a tempered
// policy; z is one f32 multiply, so scale = 1 gives z = logits exactly and the bits of the unscaled op):
// lse (N) = logsumexp(z[n]) (every row), logp (N) = z[n, t] − lse[n] for t = targets[n] in [0, V);
// logp = 0 on a masked row (t < 0; also t >= V).
// reads: logits (N,V), targets (N) i32; writes: logp (N) (=), lse (N) (=).
// One workgroup per row: each thread keeps an online (max, Σexp(x − max)) over columns t, t+256, …;
// the 256 pairs merge in a fixed-order tree (bit-reproducible). Folded 1-D dispatch over N.
@group(0) @binding(0) var<storage, read_write> logp: array<f32>;
@group(0) @binding(1) var<storage, read_write> lse: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> targets: array<i32>;
struct Params { N: u32, V: u32, scale: f32 }
@group(0) @binding(4) var<uniform> P: Params;

const NEG = -3.402823e38; // finite "−∞": exp(NEG − x) is 0 and NEG − NEG is 0, no inf arithmetic

var<workgroup> rmax: array<f32, 256>;
var<workgroup> rsum: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.N) { return; }
  let V = P.V;
  let o = row * V;
  let sc = P.scale;
  var m = NEG;
  var s = 0.0;
  for (var i = t; i < V; i += 256u) {
    let x = logits[o + i] * sc;
    if (x > m) {
      s = s * exp(m - x) + 1.0;
      m = x;
    } else {
      s += exp(x - m);
    }
  }
  rmax[t] = m;
  rsum[t] = s;
  workgroupBarrier();
  for (var k = 128u; k > 0u; k >>= 1u) {
    if (t < k) {
      let m1 = rmax[t];
      let m2 = rmax[t + k];
      let mm = max(m1, m2);
      rsum[t] = rsum[t] * exp(m1 - mm) + rsum[t + k] * exp(m2 - mm);
      rmax[t] = mm;
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    let l = rmax[0] + log(rsum[0]);
    lse[row] = l;
    let tg = targets[row];
    var lp = 0.0;
    if (tg >= 0 && u32(tg) < V) { lp = logits[o + u32(tg)] * sc - l; }
    logp[row] = lp;
  }
}
