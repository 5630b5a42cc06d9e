// Token embedding lookup: out (N,C) = wte (V,C)[ids[n]].
// reads: ids (N) i32, wte (V,C); writes: out (N,C) (=). An id outside [0, V) gives a zero row.
// One invocation per output element (n, c); folded 1-D dispatch over N*C.
// #include core/common
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read> wte: array<f32>;
struct Params { N: u32, C: u32, V: u32 }
@group(0) @binding(3) var<uniform> P: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = folded(gid, nwg);
  if (i >= P.N * P.C) { return; }
  let n = i / P.C;
  let c = i - n * P.C;
  let id = ids[n];
  var x = 0.0;
  if (id >= 0 && u32(id) < P.V) { x = wte[u32(id) * P.C + c]; }
  out[i] = x;
}
