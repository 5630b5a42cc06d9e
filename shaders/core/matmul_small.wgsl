// Skinny GEMM: the same contract as matmul_tiled.wgsl, for outputs with a tiny dimension (an adapter
// of rank ≤ tuning.smallDim (4), a decode of a few rows), where a 64×64 tile would spend >87% of its work on padding.
//   out (M,N) (= or +=) scale · A (M,K) · B (K,N) [+ bias (N)], A/B layouts as in matmul_tiled.wgsl;
//   scale (a uniform) multiplies the product, not the bias.
// Reads a, b (and bias in entry point main_bias); writes out: = unless ACCUMULATE (then +=).
// One invocation per output element (z, m, n), a plain dot product over its K range with four
// running partial sums (k ≡ 0,1,2,3 mod 4, folded in a fixed order): deterministic, no padding.
// Split-K: z covers K rows [z·kchunk, min((z+1)·kchunk, K)) and writes slab out[z·M·N ..].
// Dispatch: (x, y, z) with x·y folded over ceil(M·N / WG) workgroups; z = split.
// Bindings: entry `main` (Params at 3) or `main_bias` (bias at 3, Params at 4), as the tiled kernel.
// #include core/common
// #include core/gemm_params

override A_KCONTIG: bool = true;
override B_KCONTIG: bool = true;
override ACCUMULATE: bool = false;

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> PB: Params;

fn A(p: Params, m: u32, k: u32) -> f32 {
  if (A_KCONTIG) { return a[m * p.lda + k]; }
  return a[k * p.lda + m];
}

fn B(p: Params, k: u32, n: u32) -> f32 {
  if (B_KCONTIG) { return b[n * p.ldb + k]; }
  return b[k * p.ldb + n];
}

fn dotK(p: Params, m: u32, n: u32, z: u32) -> f32 {
  let kbeg = z * p.kchunk;
  let kend = min(kbeg + p.kchunk, p.K);
  var s4 = vec4f(0.0);
  var k = kbeg;
  for (; k + 4u <= kend; k += 4u) {
    let av = vec4f(A(p, m, k), A(p, m, k + 1u), A(p, m, k + 2u), A(p, m, k + 3u));
    let bv = vec4f(B(p, k, n), B(p, k + 1u, n), B(p, k + 2u, n), B(p, k + 3u, n));
    s4 += av * bv;
  }
  var s = (s4.x + s4.y) + (s4.z + s4.w);
  for (; k < kend; k++) {
    s += A(p, m, k) * B(p, k, n);
  }
  return s;
}

fn put(i: u32, v: f32) {
  if (ACCUMULATE) { out[i] = out[i] + v; } else { out[i] = v; }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let p = P;
  let i = folded(gid, nwg);
  if (i >= p.M * p.N) { return; }
  let m = i / p.N;
  let n = i % p.N;
  put(gid.z * p.M * p.N + i, p.scale * dotK(p, m, n, gid.z));
}

@compute @workgroup_size(WG)
fn main_bias(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let p = PB;
  let i = folded(gid, nwg);
  if (i >= p.M * p.N) { return; }
  let m = i / p.N;
  let n = i % p.N;
  put(gid.z * p.M * p.N + i, p.scale * dotK(p, m, n, gid.z) + bias[n]);
}
