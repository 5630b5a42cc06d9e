// Gradient of scaleCols to the scales, phase 1 of 2 (phase 2: core/matmul_reduce_splits.wgsl):
//   part (K,OC)[k, o] = Σ_{n in chunk k} dout (N,OC)[n,o] · inp (N,OC)[n,o],
//   chunk k = rows [256k, min(256k + 256, N)), K = ceil(N / 256).
// Reads dout, inp; writes part: = (a scratch), or, when DIRECT (K = 1, the whole reduction in one
// chunk), ds (OC) += the sum itself and phase 2 is skipped. ds is a parameter gradient: +=.
// Workgroup of 32 columns × 8 row lanes per (column block, row chunk), dispatched as
// (ceil(OC/32), K, 1). Lane y sums rows y, y+8, … of the chunk in order; the 8 lanes meet in a
// fixed-order tree; phase 2 adds the K partials in ascending k. The chunk size is a constant, so
// the result is the same bits on every device and every run.
override DIRECT: bool = false;

struct Params { N: u32, OC: u32 }

@group(0) @binding(0) var<storage, read_write> part: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(32, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let OC = P.OC;
  let o = wid.x * 32u + lid.x;
  let n0 = wid.y * 256u;
  let n1 = min(n0 + 256u, P.N);
  var acc = 0.0;
  if (o < OC) {
    for (var n = n0 + lid.y; n < n1; n += 8u) {
      let i = n * OC + o;
      acc += dout[i] * inp[i];
    }
  }
  let t = lid.y * 32u + lid.x;
  red[t] = acc;
  workgroupBarrier();
  for (var k = 4u; k > 0u; k >>= 1u) {
    if (lid.y < k) { red[t] += red[t + k * 32u]; }
    workgroupBarrier();
  }
  if (lid.y == 0u && o < OC) {
    if (DIRECT) {
      part[o] = part[o] + red[lid.x];
    } else {
      part[wid.y * OC + o] = red[lid.x];
    }
  }
}
