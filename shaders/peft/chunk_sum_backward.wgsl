// Gradient of chunk_sum.wgsl: dx (N,C)[n,c] (= or +=) dxbar (N,R)[n, c mod R].
// Reads dxbar; writes dx: = unless ACCUMULATE (then +=; dx is the residual-stream gradient the
// base layer's backward also writes).
// One invocation per element of dx; folded 1-D dispatch of ceil(N·C / WG) workgroups.
// #include core/common
override ACCUMULATE: bool = false;

struct Params { N: u32, C: u32, R: u32 }

@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dxbar: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = folded(gid, nwg);
  let C = P.C;
  if (i >= P.N * C) { return; }
  let v = dxbar[(i / C) * P.R + i % C % P.R];
  if (ACCUMULATE) { dx[i] = dx[i] + v; } else { dx[i] = v; }
}
