// RMSNorm backward to the weight, phase 1 of 2 (phase 2 folds the K partials into dw in order:
// matmul_reduce_splits.wgsl): partial (K,C)[k, c] = Σ_{n in chunk k} dout·inp·rstd,
// chunk k = rows [256k, 256k + 256), K = ceil(N/256).
// reads: dout (N,C), inp (N,C), rstd (N); writes: partial (K,C) (=, scratch).
// Workgroup (32 columns × 8 row lanes) per (column block, row chunk), dispatched as
// (ceil(C/32), K). Lane y sums rows y, y+8, ... of the chunk in order; the 8 lanes meet in a
// fixed-order tree. The chunking is a constant, so the result is the same on every device.
@group(0) @binding(0) var<storage, read_write> partial: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> rstd: array<f32>;
struct Params { N: u32, C: u32 }
@group(0) @binding(4) var<uniform> P: Params;

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(32, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let C = P.C;
  let c = wid.x * 32u + lid.x;
  let n0 = wid.y * 256u;
  let n1 = min(n0 + 256u, P.N);
  var s = 0.0;
  if (c < C) {
    for (var n = n0 + lid.y; n < n1; n += 8u) {
      let i = n * C + c;
      s += dout[i] * inp[i] * rstd[n];
    }
  }
  let t = lid.y * 32u + lid.x;
  red[t] = s;
  workgroupBarrier();
  for (var k = 4u; k > 0u; k >>= 1u) {
    if (lid.y < k) { red[t] += red[t + k * 32u]; }
    workgroupBarrier();
  }
  if (lid.y == 0u && c < C) { partial[wid.y * C + c] = red[lid.x]; }
}
