// MiSS's input folding: xbar (N,R)[n,j] = Σ_k x (N,C)[n, k·R + j] over the ⌈C/R⌉ chunks of C,
// the last chunk zero-padded (terms with k·R + j ≥ C are absent).
// Reads x; writes xbar (=).
// One invocation per output (n, j), k ascending (deterministic); neighbouring invocations read
// neighbouring columns of x. Folded 1-D dispatch of ceil(N·R / WG) workgroups.
// #include core/common
struct Params { N: u32, C: u32, R: u32 }

@group(0) @binding(0) var<storage, read_write> xbar: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = folded(gid, nwg);
  let R = P.R;
  if (i >= P.N * R) { return; }
  let n = i / R;
  let j = i % R;
  let base = n * P.C;
  var s = 0.0;
  for (var c = j; c < P.C; c += R) {
    s += x[base + c];
  }
  xbar[i] = s;
}
