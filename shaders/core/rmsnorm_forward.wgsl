// RMSNorm forward (HF Qwen2RMSNorm): rstd (N) = 1/sqrt(mean(inp²) + eps), out (N,C) = inp · rstd · w.
// reads: inp (N,C), w (C); writes: out (N,C) (=), rstd (N) (=).
// Entry `main_add` first adds a block's output to the residual stream and normalises the sum:
// sum = inp + d (written, the stream's next value), then out and rstd of sum as above.
// One workgroup per row: strided partial sums of squares, then a fixed-order tree in workgroup
// memory (bit-reproducible). Folded 1-D dispatch over N workgroups.
// Bindings: `main` Params at 4; `main_add` d at 4, sum at 5, Params at 6 (binding 4 is declared twice,
// no entry point uses both).
// #include core/common
// #include core/tree_sum
// #include core/rmsnorm_rstd
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(2) var<storage, read> inp: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
struct Params { N: u32, C: u32, eps: f32 }
@group(0) @binding(4) var<uniform> P: Params;
@group(0) @binding(4) var<storage, read> d: array<f32>;
@group(0) @binding(5) var<storage, read_write> sum: array<f32>;
@group(0) @binding(6) var<uniform> PA: Params;

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
    let x = inp[o + c];
    s += x * x;
  }
  let r = rmsnorm_rstd(s, C, P.eps, t);
  if (t == 0u) { rstd[row] = r; }
  for (var c = t; c < C; c += WG) {
    out[o + c] = inp[o + c] * r * w[c];
  }
}

// As main, on sum = inp + d (written first: the residual stream's next value).
@compute @workgroup_size(WG)
fn main_add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= PA.N) { return; }
  let C = PA.C;
  let o = row * C;
  var s = 0.0;
  for (var c = t; c < C; c += WG) {
    let x = inp[o + c] + d[o + c];
    sum[o + c] = x;
    s += x * x;
  }
  let r = rmsnorm_rstd(s, C, PA.eps, t);
  if (t == 0u) { rstd[row] = r; }
  for (var c = t; c < C; c += WG) {
    out[o + c] = sum[o + c] * r * w[c];
  }
}
