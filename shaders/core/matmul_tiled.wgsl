// Tiled GEMM behind every linear-layer op: out (M,N) (= or +=) scale · A (M,K) · B (K,N) [+ bias (N)].
// How ops/matmul.ts maps the three ops onto it (sizes in the op's names, N rows, C in, OC out):
//   matmulForward        out (N,OC) =|+= s·inp (N,C) · wᵀ + bias  A = inp   (K-contiguous), B = wᵀ (K-contiguous)
//   matmulBackwardInput  dinp (N,C) =|+= s·dout (N,OC) · w        A = dout  (K-contiguous), B = w  (N-contiguous)
//   matmulBackwardWeight dw (OC,C)  +=   s·doutᵀ · inp            A = doutᵀ (M-contiguous), B = inp (N-contiguous)
// Reads a, b (and bias in entry point main_bias); writes out: = unless ACCUMULATE (then +=).
// `scale` (a uniform, 1 for a plain linear layer; LoRA's α/r) multiplies the product, not the bias.
// Split-K: workgroup z covers K rows [z·kchunk, min((z+1)·kchunk, K)) and writes its own slab
// out[z·M·N ..] (a partial-sum scratch that matmul_reduce_splits.wgsl folds in split order).
//
// Tile: 256 invocations as TM (along M) × TN = 256/TM (along N), each owning a 4×4 output block
// (rows ty·4+i, columns tx·4+j) held in four named vec4f accumulators, so a workgroup covers
// (4·TM) × (4·TN) outputs: 64×64 (TM=16, BK=16) for ordinary shapes, 256×16 / 128×32 / 32×128 /
// 16×256 (BK=8) for skinny ones such as LoRA's rank-R projections. K is staged BK rows at a time in
// workgroup memory (≤ 560 vec4f = 8.75 KiB; row strides TM+1 / TN+1 against bank conflicts) while the
// next K-tile is fetched into registers. Fixed summation order (k ascending): deterministic.
//
// Bindings: entry `main` has no bias (Params at binding 3); entry `main_bias` binds bias at 3 and
// Params at 4. Binding 3 is declared twice, but no entry point uses both declarations.
//
// Entry `main_lr` (a linear layer and its low-rank adapter in one pass, no split-K): adds
// scale2 · A2 (M,R) · B2 (R,N) to the product, after the bias, summed over q ascending in one
// accumulator per output (the order the tiled kernel itself would use for K = R):
//   out (=|+=) (scale·A·B + bias) + scale2·A2·B2,  A2[m,q] = a2[m·R + q],
//   B2[q,n] = b2[n·R + q] if B2_KCONTIG (LoRA's B (N,R) in a forward) else b2[q·N + n] (A (R,N) in dinp).
// Binds bias at 3 (read only if HAS_BIAS), a2 at 4, b2 at 5, ParamsLR at 6.

// #include core/gemm_params
// #include core/gemm_tile

override B2_KCONTIG: bool = true;  // main_lr only
override HAS_BIAS: bool = false;   // main_lr only

@group(0) @binding(3) var<uniform> P: Params;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> PB: Params;

@group(0) @binding(4) var<storage, read> a2: array<f32>;
@group(0) @binding(5) var<storage, read> b2: array<f32>;
@group(0) @binding(6) var<uniform> PL: ParamsLR;

fn store(p: Params, wid: vec3u, t: u32, acc: Acc, add: vec4f) {
  let row = wid.y * 4u * TM + (t / tn()) * 4u;
  let col = firstCol(wid, t);
  let base = wid.z * p.M * p.N;
  let sc = p.scale;
  putRow(p, base, row, col, acc.r0 * sc + add);
  putRow(p, base, row + 1u, col, acc.r1 * sc + add);
  putRow(p, base, row + 2u, col, acc.r2 * sc + add);
  putRow(p, base, row + 3u, col, acc.r3 * sc + add);
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
  let n = firstCol(wid, t);
  let add = vec4f(biasAt(p, n), biasAt(p, n + 1u), biasAt(p, n + 2u), biasAt(p, n + 3u));
  store(p, wid, t, acc, add);
}

fn ldA2(p: Params, m: u32, q: u32) -> f32 {
  var v = 0.0;
  if (m < p.M) { v = a2[m * PL.R + q]; }
  return v;
}

fn ldB2(p: Params, n: u32, q: u32) -> f32 {
  var v = 0.0;
  if (n < p.N) {
    if (B2_KCONTIG) { v = b2[n * PL.R + q]; } else { v = b2[q * p.N + n]; }
  }
  return v;
}

@compute @workgroup_size(256)
fn main_lr(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let p = Params(PL.M, PL.N, PL.K, PL.lda, PL.ldb, PL.kchunk, PL.scale);
  let acc = tile(p, wid, t);
  let row = wid.y * 4u * TM + (t / tn()) * 4u;
  let col = firstCol(wid, t);
  var add = vec4f(0.0);
  if (HAS_BIAS) { add = vec4f(biasAt(p, col), biasAt(p, col + 1u), biasAt(p, col + 2u), biasAt(p, col + 3u)); }
  var l0 = vec4f(0.0);
  var l1 = vec4f(0.0);
  var l2 = vec4f(0.0);
  var l3 = vec4f(0.0);
  for (var q = 0u; q < PL.R; q++) {
    let bv = vec4f(ldB2(p, col, q), ldB2(p, col + 1u, q), ldB2(p, col + 2u, q), ldB2(p, col + 3u, q));
    l0 += ldA2(p, row, q) * bv;
    l1 += ldA2(p, row + 1u, q) * bv;
    l2 += ldA2(p, row + 2u, q) * bv;
    l3 += ldA2(p, row + 3u, q) * bv;
  }
  let s2 = PL.scale2;
  putRow(p, 0u, row, col, (acc.r0 * p.scale + add) + l0 * s2);
  putRow(p, 0u, row + 1u, col, (acc.r1 * p.scale + add) + l1 * s2);
  putRow(p, 0u, row + 2u, col, (acc.r2 * p.scale + add) + l2 * s2);
  putRow(p, 0u, row + 3u, col, (acc.r3 * p.scale + add) + l3 * s2);
}
