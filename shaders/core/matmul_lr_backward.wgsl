// A LoRA layer's input gradients in one pass: the adapter's low-rank gradient
//   dxa (M,R) = scale2 · dout (M,K) · lb (K,R)        (lb: the adapter's B, (OC,R) = (K,R))
// and the layer's input gradient
//   dinp (M,N) (=|+=) scale · dout · w + dxa · la      (w (K,N); la: the adapter's A, (R,N))
// which the unfused path runs as three GEMMs (dxa, then dinp twice). M = rows, K = OC, N = C.
// Each workgroup runs the tiled GEMM dout·w over its (4·TM) × (4·TN) output block (core/gemm_tile),
// then computes dxa for its 4·TM rows itself, QC columns of R at a time, into the freed staging memory
// S, and adds dxa·la in the epilogue. Workgroups along x (column blocks) recompute the same dxa rows
// (≈ R/64 of the GEMM's work for the square tile); those with x = 0 also write dxa out for the weight
// gradient dA = dxaᵀ·x that follows.
// Summation orders are those of the unfused GEMMs: dxa over k ascending in one accumulator, scaled
// once at the end; the low-rank term over q ascending in one accumulator per output, added last.
// Bindings: out (dinp) 0, a (dout) 1, b (w) 2, dxa 3 (written), la 4, lb 5, Params 6.

// #include core/gemm_params
// #include core/gemm_tile

@group(0) @binding(3) var<storage, read_write> dxa: array<f32>;
@group(0) @binding(4) var<storage, read> la: array<f32>;
@group(0) @binding(5) var<storage, read> lb: array<f32>;
@group(0) @binding(6) var<uniform> PL: ParamsLR;

/** dxa values staged per chunk: S holds 560 vec4f = 2240 floats. */
const SFLOATS = 2240u;

fn sget(f: u32) -> f32 { return S[f / 4u][f % 4u]; }
fn sset(f: u32, v: f32) { S[f / 4u][f % 4u] = v; }

fn laAt(p: Params, q: u32, n: u32) -> f32 {
  var v = 0.0;
  if (n < p.N) { v = la[q * p.N + n]; }
  return v;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let p = Params(PL.M, PL.N, PL.K, PL.lda, PL.ldb, PL.K, PL.scale);
  let acc = tile(p, wid, t); // ends on a barrier: S is free
  let rows = 4u * TM;
  let m0 = wid.y * rows;
  let rr = (t / tn()) * 4u; // this invocation's first row within the block
  let col = firstCol(wid, t);
  let R = PL.R;
  let qc = min(R, SFLOATS / rows);
  var l0 = vec4f(0.0);
  var l1 = vec4f(0.0);
  var l2 = vec4f(0.0);
  var l3 = vec4f(0.0);
  for (var q0 = 0u; q0 < R; q0 += qc) {
    let nq = min(qc, R - q0);
    // dxa[m0 .. m0+rows, q0 .. q0+nq] into S[mm·nq + qq].
    for (var f = t; f < rows * nq; f += 256u) {
      let m = m0 + f / nq;
      let q = q0 + f % nq;
      var v = 0.0;
      if (m < p.M) {
        for (var k = 0u; k < p.K; k++) { v += a[m * p.lda + k] * lb[k * R + q]; }
        v = v * PL.scale2;
        if (wid.x == 0u) { dxa[m * R + q] = v; }
      }
      sset(f, v);
    }
    workgroupBarrier();
    for (var qq = 0u; qq < nq; qq++) {
      let q = q0 + qq;
      let bv = vec4f(laAt(p, q, col), laAt(p, q, col + 1u), laAt(p, q, col + 2u), laAt(p, q, col + 3u));
      l0 += sget(rr * nq + qq) * bv;
      l1 += sget((rr + 1u) * nq + qq) * bv;
      l2 += sget((rr + 2u) * nq + qq) * bv;
      l3 += sget((rr + 3u) * nq + qq) * bv;
    }
    workgroupBarrier();
  }
  let row = m0 + rr;
  putRow(p, 0u, row, col, acc.r0 * p.scale + l0);
  putRow(p, 0u, row + 1u, col, acc.r1 * p.scale + l1);
  putRow(p, 0u, row + 2u, col, acc.r2 * p.scale + l2);
  putRow(p, 0u, row + 3u, col, acc.r3 * p.scale + l3);
}
