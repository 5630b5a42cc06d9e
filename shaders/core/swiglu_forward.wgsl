// SwiGLU: out (n) = silu(gate) · up, silu(g) = g · σ(g).
// reads: gate (n), up (n); writes: out (n) (=). One invocation per entry, folded 1-D dispatch.
// #include core/common
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
struct Params { n: u32 }
@group(0) @binding(3) var<uniform> P: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = folded(gid, nwg);
  if (i >= P.n) { return; }
  let g = gate[i];
  let s = 1.0 / (1.0 + exp(-g)); // exp overflow → s = 0, the right limit
  out[i] = g * s * up[i];
}
