// Row norms (DoRA's ‖W[o,:]‖₂): out (N)[n] = sqrt(Σ_c x (N,C)[n,c]²).
// Reads x; writes out (=).
// One 64-invocation workgroup per row: invocation t sums x², for c = t, t+64, … in order, then a
// fixed-order tree in workgroup memory (bit-reproducible). Folded 1-D dispatch over N workgroups.
struct Params { N: u32, C: u32 }

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;

var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.N) { return; } // uniform per workgroup: the barriers below stay in uniform control flow
  let C = P.C;
  let base = row * C;
  var s = 0.0;
  for (var c = t; c < C; c += 64u) {
    let v = x[base + c];
    s += v * v;
  }
  red[t] = s;
  workgroupBarrier();
  for (var k = 32u; k > 0u; k >>= 1u) {
    if (t < k) { red[t] += red[t + k]; }
    workgroupBarrier();
  }
  if (t == 0u) { out[row] = sqrt(red[0]); }
}
