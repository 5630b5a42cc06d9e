// Bias gradient, split over rows: out (S, OC)[s, o] (= or +=) Σ_{n in chunk s} dout (N,OC)[n, o],
// chunk s = rows [s·chunk, min((s+1)·chunk, N)), n ascending (deterministic).
// With S = 1 and ACCUMULATE, out is dbias (OC) itself: dbias += Σ_n dout[n]. With S > 1 out is a
// (S, OC) scratch written with =, folded into dbias by matmul_reduce_splits.wgsl.
// Reads dout; writes out. Dispatch (ceil(OC/WG), S, 1): one invocation per (s, o).
// #include core/common
override ACCUMULATE: bool = true;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
struct Params { N: u32, OC: u32, chunk: u32 }
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let o = gid.x;
  let s = gid.y;
  if (o >= P.OC) { return; }
  let nbeg = s * P.chunk;
  let nend = min(nbeg + P.chunk, P.N);
  var acc = 0.0;
  for (var n = nbeg; n < nend; n++) {
    acc += dout[n * P.OC + o];
  }
  let i = s * P.OC + o;
  if (ACCUMULATE) { out[i] = out[i] + acc; } else { out[i] = acc; }
}
