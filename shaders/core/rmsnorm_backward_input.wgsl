// RMSNorm backward to the input: dinp (N,C) += dout·w·r − inp · r³/C · Σ_c(dout·w·inp), r = rstd[n].
// reads: dout (N,C), inp (N,C), w (C), rstd (N); writes: dinp (N,C) (+=: it is the residual-stream
// gradient and already holds the skip path).
// One workgroup per row; the row dot product is a fixed-order tree in workgroup memory.
// #include core/common
// #include core/tree_sum
@group(0) @binding(0) var<storage, read_write> dinp: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> rstd: array<f32>;
struct Params { N: u32, C: u32 }
@group(0) @binding(5) var<uniform> P: Params;

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.N) { return; }
  let C = P.C;
  let o = row * C;
  var s = 0.0;
  for (var c = t; c < C; c += WG) {
    s += dout[o + c] * w[c] * inp[o + c];
  }
  red[t] = s;
  tree_sum(t);
  let r = rstd[row];
  let kk = red[0] * r * r * r / f32(C);
  for (var c = t; c < C; c += WG) {
    dinp[o + c] += dout[o + c] * w[c] * r - inp[o + c] * kk;
  }
}
