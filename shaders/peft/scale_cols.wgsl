// Per-column scaling (IA³, DoRA's magnitude, VeRA's λ vectors, AdaLoRA's E):
//   out (N,OC)[n,o] (= or +=) inp (N,OC)[n,o] · s (OC)[o] + bias (OC)[o] (entry main_bias only).
// Reads inp, s (and bias); writes out: = unless ACCUMULATE (then +=). out may not alias inp.
// Its gradient to inp is this same kernel on dout; to s see scale_cols_backward_partial.wgsl.
// One invocation per output element; folded 1-D dispatch of ceil(N·OC / WG) workgroups.
// Bindings as matmul_tiled.wgsl: entry `main` has Params at 3; `main_bias` binds bias at 3 and
// Params at 4 (binding 3 is declared twice, no entry point uses both declarations).
// #include core/common
override ACCUMULATE: bool = false;

struct Params { N: u32, OC: u32 }

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> inp: array<f32>;
@group(0) @binding(2) var<storage, read> s: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> PB: Params;

fn put(i: u32, v: f32) {
  if (ACCUMULATE) { out[i] = out[i] + v; } else { out[i] = v; }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = folded(gid, nwg);
  if (i >= P.N * P.OC) { return; }
  put(i, inp[i] * s[i % P.OC]);
}

@compute @workgroup_size(WG)
fn main_bias(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = folded(gid, nwg);
  if (i >= PB.N * PB.OC) { return; }
  let o = i % PB.OC;
  put(i, inp[i] * s[o] + bias[o]);
}
