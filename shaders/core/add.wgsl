// out (n) = a (n) + b (n). out may alias a (bound once as read_write when it does: see ops/add.ts).
// reads: a, b; writes: out (=).
// #include core/common
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
struct Params { n: u32 }
@group(0) @binding(3) var<uniform> P: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = folded(gid, nwg);
  if (i >= P.n) { return; }
  out[i] = a[i] + b[i];
}
