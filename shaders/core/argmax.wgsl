// Greedy argmax: out (N) i32 = argmax_v logits (N,V)[n, v]; ties go to the lowest index.
// reads: logits (N,V); writes: out (N) i32 and tokens at [n·colStride + colOffset] (=).
// One workgroup per row: each thread scans columns t, t+256, … with a strict >, then a fixed-order
// tree keeps (larger value, or equal value with smaller index). Folded 1-D dispatch over N.
@group(0) @binding(0) var<storage, read_write> out: array<i32>;
@group(0) @binding(1) var<storage, read_write> tokens: array<i32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
struct Params { N: u32, V: u32, colOffset: u32, colStride: u32 }
@group(0) @binding(3) var<uniform> P: Params;

const NEG = -3.402823e38;
const NONE = 0xffffffffu;

var<workgroup> bval: array<f32, 256>;
var<workgroup> bidx: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.N) { return; }
  let V = P.V;
  let o = row * V;
  var bv = NEG;
  var bi = NONE;
  for (var i = t; i < V; i += 256u) {
    let x = logits[o + i];
    if (bi == NONE || x > bv) {
      bv = x;
      bi = i;
    }
  }
  bval[t] = bv;
  bidx[t] = bi;
  workgroupBarrier();
  for (var k = 128u; k > 0u; k >>= 1u) {
    if (t < k) {
      let v2 = bval[t + k];
      let i2 = bidx[t + k];
      let v1 = bval[t];
      let i1 = bidx[t];
      if (i2 != NONE && (i1 == NONE || v2 > v1 || (v2 == v1 && i2 < i1))) {
        bval[t] = v2;
        bidx[t] = i2;
      }
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    let id = i32(select(bidx[0], 0u, bidx[0] == NONE));
    out[row] = id;
    tokens[row * P.colStride + P.colOffset] = id;
  }
}
