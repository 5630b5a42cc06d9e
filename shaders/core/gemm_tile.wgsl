// Library (no entry point), pulled in by `// #include core/gemm_tile` (matmul_tiled.wgsl,
// matmul_lr_backward.wgsl): the tiled GEMM's operands, its K-tile staging and its 4×4-per-invocation
// inner loop, A (M,K) · B (K,N) summed k ascending in one accumulator per output, and the store of one
// output (= or += per ACCUMULATE). See matmul_tiled.wgsl for the tile shapes and the ops built on it.
// It declares bindings 0-2 (out, a, b) and the workgroup staging array S; the includer declares the rest
// and includes core/gemm_params (Params, ParamsLR) too (includes are one level deep).

override A_KCONTIG: bool = true;  // A[m,k] at m·lda + k (true) or k·lda + m (false)
override B_KCONTIG: bool = true;  // B[k,n] at n·ldb + k (true) or k·ldb + n (false)
override ACCUMULATE: bool = false;
override TM: u32 = 16u;           // 4, 8, 16, 32 or 64
override BK: u32 = 16u;           // 16 when TM = 16, else 8 (workgroup memory bound)

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;

// Staged K-tile: A part [k][m/4] at k·(TM+1) + m/4, then B part [k][n/4] at BOFF + k·(TN+1) + n/4.
var<workgroup> S: array<vec4f, 560>;

fn tn() -> u32 { return 256u / TM; }
fn boff() -> u32 { return BK * (TM + 1u); }

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

// Staging slot s of a tile with `w` vec4 columns (TM for A, TN for B) holds four consecutive
// rows/columns q·4 .. q·4+3 at one k. Slots are numbered so that neighbouring invocations read
// neighbouring addresses: k fastest for a K-contiguous operand, q fastest otherwise.
fn slotK(s: u32, w: u32, kcontig: bool) -> u32 {
  if (kcontig) { return s % BK; }
  return s / w;
}

fn slotQ(s: u32, w: u32, kcontig: bool) -> u32 {
  if (kcontig) { return s / BK; }
  return s % w;
}

fn fetchA(p: Params, m0: u32, k0: u32, kend: u32, s: u32) -> vec4f {
  if (s >= TM * BK) { return vec4f(0.0); }
  let m = m0 + slotQ(s, TM, A_KCONTIG) * 4u;
  let k = k0 + slotK(s, TM, A_KCONTIG);
  return vec4f(ldA(p, m, k, kend), ldA(p, m + 1u, k, kend), ldA(p, m + 2u, k, kend), ldA(p, m + 3u, k, kend));
}

fn fetchB(p: Params, n0: u32, k0: u32, kend: u32, s: u32) -> vec4f {
  if (s >= tn() * BK) { return vec4f(0.0); }
  let n = n0 + slotQ(s, tn(), B_KCONTIG) * 4u;
  let k = k0 + slotK(s, tn(), B_KCONTIG);
  return vec4f(ldB(p, n, k, kend), ldB(p, n + 1u, k, kend), ldB(p, n + 2u, k, kend), ldB(p, n + 3u, k, kend));
}

fn stageA(s: u32, v: vec4f) {
  if (s < TM * BK) { S[slotK(s, TM, A_KCONTIG) * (TM + 1u) + slotQ(s, TM, A_KCONTIG)] = v; }
}

fn stageB(s: u32, v: vec4f) {
  if (s < tn() * BK) { S[boff() + slotK(s, tn(), B_KCONTIG) * (tn() + 1u) + slotQ(s, tn(), B_KCONTIG)] = v; }
}

fn tile(p: Params, wid: vec3u, t: u32) -> Acc {
  let tx = t % tn();
  let ty = t / tn();
  let m0 = wid.y * 4u * TM;
  let n0 = wid.x * 4u * tn();
  let kbeg = wid.z * p.kchunk;
  let kend = min(kbeg + p.kchunk, p.K);
  let sa = TM + 1u;
  let sb = tn() + 1u;
  let bo = boff() + tx;

  var c0 = vec4f(0.0);
  var c1 = vec4f(0.0);
  var c2 = vec4f(0.0);
  var c3 = vec4f(0.0);
  // Each operand's K-tile is at most 512 vec4f: two staging slots (t, t + 256) per invocation.
  var ra0 = fetchA(p, m0, kbeg, kend, t);
  var ra1 = fetchA(p, m0, kbeg, kend, t + 256u);
  var rb0 = fetchB(p, n0, kbeg, kend, t);
  var rb1 = fetchB(p, n0, kbeg, kend, t + 256u);
  for (var k0 = kbeg; k0 < kend; k0 += BK) {
    stageA(t, ra0);
    stageA(t + 256u, ra1);
    stageB(t, rb0);
    stageB(t + 256u, rb1);
    workgroupBarrier();
    let k1 = k0 + BK;
    if (k1 < kend) {
      ra0 = fetchA(p, m0, k1, kend, t);
      ra1 = fetchA(p, m0, k1, kend, t + 256u);
      rb0 = fetchB(p, n0, k1, kend, t);
      rb1 = fetchB(p, n0, k1, kend, t + 256u);
    }
    if (kend - k0 >= BK) {
      for (var kk = 0u; kk < BK; kk++) {
        let av = S[kk * sa + ty];
        let bv = S[bo + kk * sb];
        c0 += av.x * bv;
        c1 += av.y * bv;
        c2 += av.z * bv;
        c3 += av.w * bv;
      }
    } else {
      // Last, partial K-tile: only the rows that exist (no work wasted on tiny K).
      let kn = kend - k0;
      for (var kk = 0u; kk < kn; kk++) {
        let av = S[kk * sa + ty];
        let bv = S[bo + kk * sb];
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

fn firstCol(wid: vec3u, t: u32) -> u32 {
  return wid.x * 4u * tn() + (t % tn()) * 4u;
}
