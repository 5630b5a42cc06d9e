// Squared norms for gradient clipping, several tensors in one dispatch: for each segment s,
// sqnorm[slot_s] = Σ x[off_s + i]² over i < n_s.
// reads: x (one buffer: the tensors packed in it, Backend.pack); writes: sqnorm[slot_s] (=; other
// slots untouched).
// One workgroup per segment (folded 1-D dispatch): thread t sums x[off + t], x[off + t + WG], … in
// order, then a fixed-order tree (bit-reproducible, and the same sum whatever else shares the dispatch).
// #include core/common
// #include core/tree_sum
@group(0) @binding(0) var<storage, read_write> sqnorm: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
const MAX_SEGS = 128u; // ops/adamw.ts splits longer lists
struct Seg { off: u32, n: u32, slot: u32, _pad: u32 }
struct Params { nsegs: u32, _p0: u32, _p1: u32, _p2: u32, segs: array<Seg, MAX_SEGS> }
@group(0) @binding(2) var<uniform> P: Params;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) t: u32) {
  let s = wid.x + wid.y * nwg.x;
  if (s >= P.nsegs) { return; }
  let seg = P.segs[s];
  var acc = 0.0;
  for (var i = t; i < seg.n; i += WG) {
    let a = x[seg.off + i];
    acc += a * a;
  }
  red[t] = acc;
  tree_sum(t);
  if (t == 0u) { sqnorm[seg.slot] = red[0]; }
}
