// Squared norm for gradient clipping: sqnorm[slot] = Σ x² over n entries.
// reads: x (n); writes: sqnorm[slot] (=; other slots untouched).
// One workgroup: thread t sums x[t], x[t+256], … in order, then a fixed-order tree (bit-reproducible).
@group(0) @binding(0) var<storage, read_write> sqnorm: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
struct Params { slot: u32, n: u32 }
@group(0) @binding(2) var<uniform> P: Params;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) t: u32) {
  var s = 0.0;
  for (var i = t; i < P.n; i += 256u) {
    let a = x[i];
    s += a * a;
  }
  red[t] = s;
  workgroupBarrier();
  for (var k = 128u; k > 0u; k >>= 1u) {
    if (t < k) { red[t] += red[t + k]; }
    workgroupBarrier();
  }
  if (t == 0u) { sqnorm[P.slot] = red[0]; }
}
