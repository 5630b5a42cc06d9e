// Elementwise quotient (DoRA's m / ‖W‖, and its gradient to m): out (n) (= or +=) a (n) / b (n).
// Reads a, b; writes out: = unless ACCUMULATE (then +=). out may not alias a or b.
// One invocation per element; folded 1-D dispatch of ceil(n / WG) workgroups.
// #include core/common
override ACCUMULATE: bool = false;

struct Params { n: u32 }

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = folded(gid, nwg);
  if (i >= P.n) { return; }
  let v = a[i] / b[i];
  if (ACCUMULATE) { out[i] = out[i] + v; } else { out[i] = v; }
}
