// RMSNorm backward to the weight, phase 2 of 2: dw (C) += Σ_k partial (K,C)[k, c], k in order.
// reads: partial (K,C); writes: dw (C) (+=, parameter gradient). One invocation per column.
// #include core/common
@group(0) @binding(0) var<storage, read_write> dw: array<f32>;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
struct Params { K: u32, C: u32 }
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = folded(gid, nwg);
  if (c >= P.C) { return; }
  var s = 0.0;
  for (var k = 0u; k < P.K; k++) { s += partial[k * P.C + c]; }
  dw[c] += s;
}
