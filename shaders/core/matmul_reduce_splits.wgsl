// Folds split-K (or split-N) partial sums into a parameter gradient:
//   out (n) += Σ_{s < S} part (S, n)[s, i], summed in ascending s (deterministic).
// Used by matmulBackwardWeight (out = dw (OC·C)), biasBackward (out = dbias (OC)),
// rmsnormBackwardWeight (out = dw (C), part from rmsnorm_backward_weight_partial.wgsl) and, from
// ops/peft.ts, scaleColsBackward (out = ds (OC), part from peft/scale_cols_backward.wgsl).
// Reads part; writes out (+=). 1-D dispatch, folded into (x, y) when large.
// #include core/common
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> part: array<f32>;
struct Params { n: u32, S: u32 }
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = folded(gid, nwg);
  if (i >= P.n) { return; }
  var s = 0.0;
  for (var j = 0u; j < P.S; j++) {
    s += part[j * P.n + i];
  }
  out[i] = out[i] + s;
}
