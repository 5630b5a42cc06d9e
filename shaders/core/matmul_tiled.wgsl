// Tiled GEMM behind every large linear-layer op: out (M,N) (= or +=) A (M,K) · B (K,N) [+ bias (N)].
// How ops/matmul.ts maps the three ops onto it (sizes in the op's names, N rows, C in, OC out):
//   matmulForward        out (N,OC)  = inp (N,C) · wᵀ + bias   A = inp  (K-contiguous), B = wᵀ (K-contiguous)
//   matmulBackwardInput  dinp (N,C)  =|+= dout (N,OC) · w      A = dout (K-contiguous), B = w  (N-contiguous)
//   matmulBackwardWeight dw (OC,C)   +=  doutᵀ · inp           A = doutᵀ (M-contiguous), B = inp (N-contiguous)
// Reads a, b (and bias in entry point main_bias); writes out: = unless ACCUMULATE (then +=).
// Split-K: workgroup z covers K rows [z·kchunk, min((z+1)·kchunk, K)) and writes its own slab
// out[z·M·N ..] (a partial-sum scratch that matmul_reduce_splits.wgsl folds, in split order).
//
// Tile: 64×64 outputs per workgroup of 256 invocations, each owning a 4×4 block (rows ty·4+i,
// columns tx·4+j) held in four named vec4f accumulators; K is staged 16 at a time in workgroup
// memory (2 × 17 × 16 vec4f = 8.5 KiB, stride 17 against bank conflicts), the next K-tile is
// fetched into registers while the current one is multiplied. Fixed summation order: k ascending.
//
// Bindings: entry `main` has no bias (Params at binding 3); entry `main_bias` binds bias at 3 and
// Params at 4. Binding 3 is thus declared twice, but no entry point uses both declarations.

override A_KCONTIG: bool = true;  // A[m,k] at m·lda + k (true) or k·lda + m (false)
override B_KCONTIG: bool = true;  // B[k,n] at n·ldb + k (true) or k·ldb + n (false)
override ACCUMULATE: bool = false;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  lda: u32,
  ldb: u32,
  kchunk: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> PB: Params;

const TS = 17u; // row stride of the staged tiles, in vec4f (16 used + 1 pad)
var<workgroup> As: array<vec4f, 272>; // [k][m/4]
var<workgroup> Bs: array<vec4f, 272>; // [k][n/4]

struct Acc {
  r0: vec4f,
  r1: vec4f,
  r2: vec4f,
  r3: vec4f,
}

fn ldA(p: Params, m: u32, k: u32, kend: u32) -> f32 {
  var v = 0.0;
  if (m < p.M && k < kend) {
    if (A_KCONTIG) { v = a[m * p.lda + k]; } else { v = a[k * p.lda + m]; }
  }
  return v;
}

fn ldB(p: Params, n: u32, k: u32, kend: u32) -> f32 {
  var v = 0.0;
  if (n < p.N && k < kend) {
    if (B_KCONTIG) { v = b[n * p.ldb + k]; } else { v = b[k * p.ldb + n]; }
  }
  return v;
}

// Four consecutive rows m0+q·4 .. +3 of A at one k. Which (k, q) an invocation loads depends on the
// layout so that neighbouring invocations read neighbouring addresses.
fn fetchA(p: Params, m0: u32, k0: u32, kend: u32, t: u32) -> vec4f {
  var kk: u32; var q: u32;
  if (A_KCONTIG) { kk = t & 15u; q = t >> 4u; } else { kk = t >> 4u; q = t & 15u; }
  let m = m0 + q * 4u;
  let k = k0 + kk;
  return vec4f(ldA(p, m, k, kend), ldA(p, m + 1u, k, kend), ldA(p, m + 2u, k, kend), ldA(p, m + 3u, k, kend));
}

fn fetchB(p: Params, n0: u32, k0: u32, kend: u32, t: u32) -> vec4f {
  var kk: u32; var q: u32;
  if (B_KCONTIG) { kk = t & 15u; q = t >> 4u; } else { kk = t >> 4u; q = t & 15u; }
  let n = n0 + q * 4u;
  let k = k0 + kk;
  return vec4f(ldB(p, n, k, kend), ldB(p, n + 1u, k, kend), ldB(p, n + 2u, k, kend), ldB(p, n + 3u, k, kend));
}

fn slot(t: u32, kcontig: bool) -> u32 {
  if (kcontig) { return (t & 15u) * TS + (t >> 4u); }
  return (t >> 4u) * TS + (t & 15u);
}

fn tile(p: Params, wid: vec3u, t: u32) -> Acc {
  let tx = t & 15u;
  let ty = t >> 4u;
  let m0 = wid.y * 64u;
  let n0 = wid.x * 64u;
  let kbeg = wid.z * p.kchunk;
  let kend = min(kbeg + p.kchunk, p.K);
  let sa = slot(t, A_KCONTIG);
  let sb = slot(t, B_KCONTIG);

  var c0 = vec4f(0.0);
  var c1 = vec4f(0.0);
  var c2 = vec4f(0.0);
  var c3 = vec4f(0.0);
  var ra = fetchA(p, m0, kbeg, kend, t);
  var rb = fetchB(p, n0, kbeg, kend, t);
  for (var k0 = kbeg; k0 < kend; k0 += 16u) {
    As[sa] = ra;
    Bs[sb] = rb;
    workgroupBarrier();
    let k1 = k0 + 16u;
    if (k1 < kend) {
      ra = fetchA(p, m0, k1, kend, t);
      rb = fetchB(p, n0, k1, kend, t);
    }
    if (kend - k0 >= 16u) {
      for (var kk = 0u; kk < 16u; kk++) {
        let av = As[kk * TS + ty];
        let bv = Bs[kk * TS + tx];
        c0 += av.x * bv;
        c1 += av.y * bv;
        c2 += av.z * bv;
        c3 += av.w * bv;
      }
    } else {
      // Last, partial K-tile: only the rows that exist (no work wasted on tiny K).
      let kn = kend - k0;
      for (var kk = 0u; kk < kn; kk++) {
        let av = As[kk * TS + ty];
        let bv = Bs[kk * TS + tx];
        c0 += av.x * bv;
        c1 += av.y * bv;
        c2 += av.z * bv;
        c3 += av.w * bv;
      }
    }
    workgroupBarrier();
  }
  return Acc(c0, c1, c2, c3);
}

fn put(p: Params, base: u32, row: u32, col: u32, v: f32) {
  if (row < p.M && col < p.N) {
    let i = base + row * p.N + col;
    if (ACCUMULATE) { out[i] = out[i] + v; } else { out[i] = v; }
  }
}

fn putRow(p: Params, base: u32, row: u32, col: u32, v: vec4f) {
  put(p, base, row, col, v.x);
  put(p, base, row, col + 1u, v.y);
  put(p, base, row, col + 2u, v.z);
  put(p, base, row, col + 3u, v.w);
}

fn store(p: Params, wid: vec3u, t: u32, acc: Acc, add: vec4f) {
  let row = wid.y * 64u + (t >> 4u) * 4u;
  let col = wid.x * 64u + (t & 15u) * 4u;
  let base = wid.z * p.M * p.N;
  putRow(p, base, row, col, acc.r0 + add);
  putRow(p, base, row + 1u, col, acc.r1 + add);
  putRow(p, base, row + 2u, col, acc.r2 + add);
  putRow(p, base, row + 3u, col, acc.r3 + add);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let p = P;
  store(p, wid, t, tile(p, wid, t), vec4f(0.0));
}

fn biasAt(p: Params, n: u32) -> f32 {
  var v = 0.0;
  if (n < p.N) { v = bias[n]; }
  return v;
}

@compute @workgroup_size(256)
fn main_bias(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let p = PB;
  let acc = tile(p, wid, t);
  let n = wid.x * 64u + (t & 15u) * 4u;
  let add = vec4f(biasAt(p, n), biasAt(p, n + 1u), biasAt(p, n + 2u), biasAt(p, n + 3u));
  store(p, wid, t, acc, add);
}
