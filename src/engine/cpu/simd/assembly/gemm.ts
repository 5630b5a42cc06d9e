// AssemblyScript (compiled to WebAssembly with 128-bit SIMD by `npm run build:wasm`; not part of the
// TypeScript program). The CPU backend's matrix products:
//
//   C (M,N) = Σ_k A(i,k) · B(k,j),   A(i,k) = a[i·sai + k·sak],   B(k,j) = b[k·sbk + j]
//   out = scale · C + bias[j]   (or out += that, when accumulate)
//
// Every output is one float32 sum over k in ascending order, a separate multiply and add per term
// (no fused multiply-add, so every machine rounds alike), kept in a register for the whole k range.
// Tiling and the number of threads change which instructions compute an output, never its value:
// results are bit-identical whatever the thread count, tile shape or scheme.
//
// Work is split into tasks that the calling thread and the pool's workers claim from one atomic counter
// in the job block, so a slow core takes fewer tasks.
//
// One 4×8 micro-kernel does the arithmetic. Its loop is bound by its instructions (docs/PERFORMANCE.md),
// so its operands are laid out for six plain vector loads per k at immediate offsets from two pointers:
// a broadcast operand (four lines' values at each k, each broadcast to a whole vector: 64 bytes per k)
// and a strip (eight values at each k, 32 bytes per k). Two schemes feed it:
// - The transposed scheme, when A's rows run along k and B is small (the forward and the input gradient,
//   whose B is a weight): the host packs B's columns once per call in groups of four as the broadcast
//   operand (packBroadcast, any strides), and each task copies its rows of A into strips of eight rows
//   (packStrips: 4 bytes per value, where a broadcast panel takes 16, and A is the large operand). The
//   tile then holds a block of Cᵀ, which it stores transposed. A task is a block of rows × every column.
// - The direct scheme otherwise (the weight gradient, whose A and B both run over every token): the host
//   packs B into strips of eight columns (packB), each task copies its rows of A into broadcast panels
//   (packA, whatever A's strides) and covers every column. Its edges (the last rows and columns that
//   fill no 4×8 tile) run on A and B as given.
// In both, padding (zero rows or columns in a last strip or group) is computed and never stored.
//
// Job block (i32 words at `job`, written by the host, src/engine/cpu/simd/backend.ts); words 0 and 1
// (the op and the task counter) are the same for every op (index.ts):
const J_COUNTER = 1; // next task (atomic)
const J_M = 2, J_N = 3, J_K = 4;
const J_A = 5, J_SAI = 6, J_SAK = 7;
const J_B = 8, J_SBK = 9;
const J_OUT = 10, J_LDC = 11;
const J_BIAS = 12; // 0: none
const J_ACC = 13; // accumulate into out
const J_SCALE = 14; // f32 bits
const J_MB = 15; // rows per task
const J_PB = 16; // B packed by packB, 0 when N < 8 or K = 0 (no strip)
const J_APACK = 17, J_APACK_BYTES = 18; // the A panels' scratch: one block of this many bytes per thread
const J_SLOT = 19; // next thread's scratch block (atomic)
const J_BP = 20; // B's columns packed by packBroadcast (the transposed scheme), 0: the direct scheme

@inline function word(job: usize, i: i32): i32 {
  return load<i32>(job + (<usize>i << 2));
}

/** Claims and computes tasks until none is left. Called by every participating thread. */
export function gemmRun(job: usize): void {
  const slot = atomic.add<i32>(job + (<usize>J_SLOT << 2), 1);
  const panels = <usize>word(job, J_APACK) + <usize>slot * <usize>word(job, J_APACK_BYTES);
  const M = word(job, J_M), MB = word(job, J_MB);
  const bp = <usize>word(job, J_BP);
  const tasks = (M + MB - 1) / MB;
  while (true) {
    const t = atomic.add<i32>(job + (<usize>J_COUNTER << 2), 1);
    if (t >= tasks) return;
    if (bp) gemmTaskT(job, panels, bp, t * MB, min(t * MB + MB, M));
    else gemmTask(job, panels, t * MB, min(t * MB + MB, M));
  }
}

/** The transposed scheme: rows i0..i1 × every column, B's columns packed in groups of four by
 * packBroadcast. The task copies its rows of A into strips of eight rows, k-major (packStrips), and
 * the tile sees B's columns as its broadcast operand and A's rows as its strip: it computes a block of
 * Cᵀ and stores it transposed. */
function gemmTaskT(job: usize, strips: usize, bp: usize, i0: i32, i1: i32): void {
  const N = word(job, J_N), K = word(job, J_K), ldc = word(job, J_LDC);
  const rows = i1 - i0;
  packStrips(strips, <usize>word(job, J_A) + ((<usize>i0 * word(job, J_SAI)) << 2), word(job, J_SAI), rows, K);
  for (let r = 0; r < rows; r += 8) {
    const strip = strips + ((<usize>r * K) << 2);
    for (let j = 0; j < N; j += 4) tile4x8Packed(job, bp + ((<usize>j * K) << 4), strip, K, i0 + r, j, ldc, min(8, rows - r), min(4, N - j));
  }
}

/** The direct scheme: rows i0..i1 × every column. */
function gemmTask(job: usize, panels: usize, i0: i32, i1: i32): void {
  const N = word(job, J_N), K = word(job, J_K);
  const a = <usize>word(job, J_A), sai = word(job, J_SAI), sak = word(job, J_SAK);
  const b = <usize>word(job, J_B), sbk = word(job, J_SBK);
  const pb = <usize>word(job, J_PB);
  const ldc = word(job, J_LDC);
  // This task's full 4-row groups packed (packA, K × 64 bytes each); B's strip s at pb + s·K·32 bytes.
  // Strip by strip: one strip of B stays in cache while every row group of the panel passes.
  const i4 = i0 + ((i1 - i0) & ~3), N8 = pb ? N & ~7 : 0;
  if (pb) {
    packA(panels, a + ((<usize>i0 * sai) << 2), sai, sak, i4 - i0, K);
    for (let j = 0; j < N8; j += 8) {
      const strip = pb + ((<usize>(j >> 3) * K) << 5);
      for (let i = i0; i < i4; i += 4) tile4x8Packed(job, panels + ((<usize>(i - i0) * K) << 4), strip, K, i, j, ldc, 0, 0);
    }
  }
  let i = i0;
  for (; i < i4; i += 4) { // the columns no strip covers
    const pa = a + ((<usize>i * sai) << 2);
    let j = N8;
    for (; j + 4 <= N; j += 4) tile4x4(job, pa, sai, sak, b + (<usize>j << 2), sbk, K, i, j, ldc);
    for (; j < N; j++) for (let r = 0; r < 4; r++) one(job, pa + ((<usize>r * sai) << 2), sak, b + (<usize>j << 2), sbk, K, i + r, j, ldc);
  }
  for (; i < i1; i++) {
    const pa = a + ((<usize>i * sai) << 2);
    let j = 0;
    for (; j + 4 <= N; j += 4) tile1x4(job, pa, sak, b + (<usize>j << 2), sbk, K, i, j, ldc);
    for (; j < N; j++) one(job, pa, sak, b + (<usize>j << 2), sbk, K, i, j, ldc);
  }
}

// --- storing 4 finished outputs (row i, columns j..j+3), or one --------------------------------------

@inline function store4(job: usize, acc: v128, i: i32, j: i32, ldc: i32): void {
  const bias = <usize>word(job, J_BIAS);
  put(<usize>word(job, J_OUT) + ((<usize>i * ldc + j) << 2), acc, f32x4.splat(reinterpret<f32>(word(job, J_SCALE))),
    bias, bias ? v128.load(bias + (<usize>j << 2)) : acc, word(job, J_ACC) != 0);
}

@inline function store1(job: usize, acc: f32, i: i32, j: i32, ldc: i32): void {
  let v = reinterpret<f32>(word(job, J_SCALE)) * acc;
  const bias = <usize>word(job, J_BIAS);
  if (bias) v = v + load<f32>(bias + (<usize>j << 2));
  const out = <usize>word(job, J_OUT) + ((<usize>i * ldc + j) << 2);
  if (word(job, J_ACC)) v = load<f32>(out) + v;
  store<f32>(out, v);
}

/** Row i, columns j..j+n-1 (n ≤ 4) of v. */
@inline function storeN(job: usize, v: v128, i: i32, j: i32, ldc: i32, n: i32): void {
  if (n == 4) { store4(job, v, i, j, ldc); return; }
  store1(job, f32x4.extract_lane(v, 0), i, j, ldc);
  if (n > 1) store1(job, f32x4.extract_lane(v, 1), i, j + 1, ldc);
  if (n > 2) store1(job, f32x4.extract_lane(v, 2), i, j + 2, ldc);
}

/** x_r holds C(i..i+3, j+r): stores rows i..i+rows-1 (rows ≤ 4), columns j..j+n-1, transposing 4×4. */
@inline function storeT(job: usize, x0: v128, x1: v128, x2: v128, x3: v128, i: i32, j: i32, ldc: i32, rows: i32, n: i32): void {
  const a01 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5), a23 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
  const b01 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5), b23 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
  storeN(job, v128.shuffle<f32>(a01, b01, 0, 1, 4, 5), i, j, ldc, n);
  if (rows > 1) storeN(job, v128.shuffle<f32>(a01, b01, 2, 3, 6, 7), i + 1, j, ldc, n);
  if (rows > 2) storeN(job, v128.shuffle<f32>(a23, b23, 0, 1, 4, 5), i + 2, j, ldc, n);
  if (rows > 3) storeN(job, v128.shuffle<f32>(a23, b23, 2, 3, 6, 7), i + 3, j, ldc, n);
}

// --- micro-kernels ---------------------------------------------------------------------------------

/** 4 × 8 sums from packed operands: a broadcast operand at pa (k-major, four lines' values at each k, each
 * broadcast to a vector: packA's rows of A or packBroadcast's columns of B) and a strip at pb (k-major,
 * eight values adjacent: packB's columns of B or packStrips' rows of A). 8 vector accumulators; per k six
 * plain vector loads at immediate offsets from two pointers, which V8 folds into the loads' addresses
 * (broadcast loads from a compact panel each cost an address computation in the loop,
 * docs/PERFORMANCE.md), and the loop runs on pa (no counter). rowsT = 0: the direct scheme, the sums are
 * C(i..i+3, j..j+7); otherwise the transposed scheme, they are C(i..i+7, j..j+3), of which rowsT rows and
 * nT columns are stored. */
function tile4x8Packed(job: usize, pa: usize, pb: usize, K: i32, i: i32, j: i32, ldc: i32, rowsT: i32, nT: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (const end = pa + (<usize>K << 6); pa < end;) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let x = v128.load(pa);
    c00 = f32x4.add(c00, f32x4.mul(x, b0)); c01 = f32x4.add(c01, f32x4.mul(x, b1));
    x = v128.load(pa, 16);
    c10 = f32x4.add(c10, f32x4.mul(x, b0)); c11 = f32x4.add(c11, f32x4.mul(x, b1));
    x = v128.load(pa, 32);
    c20 = f32x4.add(c20, f32x4.mul(x, b0)); c21 = f32x4.add(c21, f32x4.mul(x, b1));
    x = v128.load(pa, 48);
    c30 = f32x4.add(c30, f32x4.mul(x, b0)); c31 = f32x4.add(c31, f32x4.mul(x, b1));
    pa += 64; pb += 32;
  }
  // The epilogue reads the job's words once (a store could alias them, so store4 reloads them).
  const sc = f32x4.splat(reinterpret<f32>(word(job, J_SCALE)));
  const bias = <usize>word(job, J_BIAS), acc = word(job, J_ACC) != 0;
  const o = <usize>word(job, J_OUT) + ((<usize>i * ldc + j) << 2), l = <usize>ldc << 2;
  if (rowsT == 0) { // the direct scheme: c_r0, c_r1 hold C(i+r, j..j+7)
    const bv0 = bias ? v128.load(bias + (<usize>j << 2)) : sc, bv1 = bias ? v128.load(bias + (<usize>j << 2), 16) : sc;
    put(o, c00, sc, bias, bv0, acc); put(o + 16, c01, sc, bias, bv1, acc);
    put(o + l, c10, sc, bias, bv0, acc); put(o + l + 16, c11, sc, bias, bv1, acc);
    put(o + 2 * l, c20, sc, bias, bv0, acc); put(o + 2 * l + 16, c21, sc, bias, bv1, acc);
    put(o + 3 * l, c30, sc, bias, bv0, acc); put(o + 3 * l + 16, c31, sc, bias, bv1, acc);
  } else if (rowsT == 8 && nT == 4) { // the transposed scheme: c_r0 holds C(i..i+3, j+r), c_r1 C(i+4..i+7, j+r)
    const bv = bias ? v128.load(bias + (<usize>j << 2)) : sc;
    putT(o, l, c00, c10, c20, c30, sc, bias, bv, acc);
    putT(o + 4 * l, l, c01, c11, c21, c31, sc, bias, bv, acc);
  } else { // a partial block at the transposed scheme's edges
    storeT(job, c00, c10, c20, c30, i, j, ldc, min(rowsT, 4), nT);
    if (rowsT > 4) storeT(job, c01, c11, c21, c31, i + 4, j, ldc, rowsT - 4, nT);
  }
}

/** out[o..o+3] = scale·v (+ bv when bias) (+ out when acc): every store of a finished sum. */
@inline function put(o: usize, v: v128, sc: v128, bias: usize, bv: v128, acc: bool): void {
  v = f32x4.mul(sc, v);
  if (bias) v = f32x4.add(v, bv);
  if (acc) v = f32x4.add(v128.load(o), v);
  v128.store(o, v);
}

/** x_r holds four rows' values of column r: put them as rows o, o + l, o + 2l, o + 3l (a 4×4 transpose). */
@inline function putT(o: usize, l: usize, x0: v128, x1: v128, x2: v128, x3: v128, sc: v128, bias: usize, bv: v128, acc: bool): void {
  const a01 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5), a23 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
  const b01 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5), b23 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
  put(o, v128.shuffle<f32>(a01, b01, 0, 1, 4, 5), sc, bias, bv, acc);
  put(o + l, v128.shuffle<f32>(a01, b01, 2, 3, 6, 7), sc, bias, bv, acc);
  put(o + 2 * l, v128.shuffle<f32>(a23, b23, 0, 1, 4, 5), sc, bias, bv, acc);
  put(o + 3 * l, v128.shuffle<f32>(a23, b23, 2, 3, 6, 7), sc, bias, bv, acc);
}

/** 4 rows × 4 columns (the column tail of a 4-row block). */
function tile4x4(job: usize, pa: usize, sai: i32, sak: i32, pb: usize, sbk: i32, K: i32, i: i32, j: i32, ldc: i32): void {
  const rs = <usize>sai << 2, ks = <usize>sak << 2, bs = <usize>sbk << 2;
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  let c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let p0 = pa, p1 = pa + rs, p2 = pa + 2 * rs, p3 = pa + 3 * rs;
  for (let k = 0; k < K; k++) {
    const b0 = v128.load(pb);
    c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(p0), b0));
    c1 = f32x4.add(c1, f32x4.mul(v128.load32_splat(p1), b0));
    c2 = f32x4.add(c2, f32x4.mul(v128.load32_splat(p2), b0));
    c3 = f32x4.add(c3, f32x4.mul(v128.load32_splat(p3), b0));
    p0 += ks; p1 += ks; p2 += ks; p3 += ks; pb += bs;
  }
  store4(job, c0, i, j, ldc); store4(job, c1, i + 1, j, ldc);
  store4(job, c2, i + 2, j, ldc); store4(job, c3, i + 3, j, ldc);
}

/** 1 row × 4 columns (the row tail). */
function tile1x4(job: usize, pa: usize, sak: i32, pb: usize, sbk: i32, K: i32, i: i32, j: i32, ldc: i32): void {
  const ks = <usize>sak << 2, bs = <usize>sbk << 2;
  let c = f32x4.splat(0);
  for (let k = 0; k < K; k++) {
    c = f32x4.add(c, f32x4.mul(v128.load32_splat(pa), v128.load(pb)));
    pa += ks; pb += bs;
  }
  store4(job, c, i, j, ldc);
}

/** One output (the last columns when N is not a multiple of 4). */
function one(job: usize, pa: usize, sak: i32, pb: usize, sbk: i32, K: i32, i: i32, j: i32, ldc: i32): void {
  const ks = <usize>sak << 2, bs = <usize>sbk << 2;
  let c = <f32>0;
  for (let k = 0; k < K; k++) {
    c = c + load<f32>(pa) * load<f32>(pb);
    pa += ks; pb += bs;
  }
  store1(job, c, i, j, ldc);
}

/** The A panels of a task: `rows` rows (a multiple of 4) from a (A(i,k) at a + (i·sai + k·sak)·4), K values
 * each, to dst as [group of four rows][k][row][4 lanes]: every value broadcast to a vector. */
function packA(dst: usize, a: usize, sai: i32, sak: i32, rows: i32, K: i32): void {
  const rs = <usize>sai << 2, ks = <usize>sak << 2;
  for (let g = 0; g < rows; g += 4) {
    let s = a + <usize>g * rs, d = dst + ((<usize>g * K) << 4);
    for (let k = 0; k < K; k++) {
      v128.store(d, v128.load32_splat(s));
      v128.store(d, v128.load32_splat(s + rs), 16);
      v128.store(d, v128.load32_splat(s + 2 * rs), 32);
      v128.store(d, v128.load32_splat(s + 3 * rs), 48);
      s += ks; d += 64;
    }
  }
}

/** The transposed scheme's strips: `rows` rows of A (row stride sai floats, k contiguous), K values each, to
 * dst as [strip of eight rows][k][row]; a last strip of fewer rows is padded with zeros. */
function packStrips(dst: usize, a: usize, sai: i32, rows: i32, K: i32): void {
  const rs = <usize>sai << 2, K4 = K & ~3;
  let r = 0;
  for (; r + 8 <= rows; r += 8) {
    const s = a + <usize>r * rs, d0 = dst + ((<usize>r * K) << 2);
    for (let k = 0; k < K4; k += 4) {
      const p = s + (<usize>k << 2), d = d0 + (<usize>k << 5);
      transpose4(d, v128.load(p), v128.load(p + rs), v128.load(p + 2 * rs), v128.load(p + 3 * rs));
      transpose4(d + 16, v128.load(p + 4 * rs), v128.load(p + 5 * rs), v128.load(p + 6 * rs), v128.load(p + 7 * rs));
    }
    for (let k = K4; k < K; k++) for (let q = 0; q < 8; q++) store<f32>(d0 + (<usize>k << 5) + (<usize>q << 2), load<f32>(s + <usize>q * rs + (<usize>k << 2)));
  }
  if (r < rows) {
    const s = a + <usize>r * rs, d0 = dst + ((<usize>r * K) << 2);
    for (let k = 0; k < K; k++) for (let q = 0; q < 8; q++) store<f32>(d0 + (<usize>k << 5) + (<usize>q << 2), r + q < rows ? load<f32>(s + <usize>q * rs + (<usize>k << 2)) : 0);
  }
}

/** Rows x0..x3 (four values of k each) stored as four k-rows of a strip (32 bytes apart). */
@inline function transpose4(d: usize, x0: v128, x1: v128, x2: v128, x3: v128): void {
  const a01 = v128.shuffle<f32>(x0, x1, 0, 4, 1, 5), a23 = v128.shuffle<f32>(x0, x1, 2, 6, 3, 7);
  const b01 = v128.shuffle<f32>(x2, x3, 0, 4, 1, 5), b23 = v128.shuffle<f32>(x2, x3, 2, 6, 3, 7);
  v128.store(d, v128.shuffle<f32>(a01, b01, 0, 1, 4, 5));
  v128.store(d, v128.shuffle<f32>(a01, b01, 2, 3, 6, 7), 32);
  v128.store(d, v128.shuffle<f32>(a23, b23, 0, 1, 4, 5), 64);
  v128.store(d, v128.shuffle<f32>(a23, b23, 2, 3, 6, 7), 96);
}

/** The transposed scheme's broadcast operand: B's N columns (B(k,j) at b + (k·sbk + j·sbj)·4) in groups of
 * four, [group][k][column][4 lanes], every value broadcast to a vector; a last group of fewer columns is
 * padded with zeros. Group g at dst + g·K·64 bytes. */
export function packBroadcast(dst: usize, b: usize, sbk: i32, sbj: i32, N: i32, K: i32): void {
  const js = <usize>sbj << 2, ks = <usize>sbk << 2;
  for (let j = 0; j < N; j += 4) {
    let s = b + <usize>j * js, d = dst + ((<usize>j * K) << 4);
    const n = N - j;
    for (let k = 0; k < K; k++) {
      v128.store(d, v128.load32_splat(s));
      v128.store(d, n > 1 ? v128.load32_splat(s + js) : f32x4.splat(0), 16);
      v128.store(d, n > 2 ? v128.load32_splat(s + 2 * js) : f32x4.splat(0), 32);
      v128.store(d, n > 3 ? v128.load32_splat(s + 3 * js) : f32x4.splat(0), 48);
      s += ks; d += 64;
    }
  }
}

/** B (K rows, row stride sbk floats) packed for tile4x8Packed: columns 0..N8 (a multiple of 8) in strips
 * of eight, strip s at dst + s·K·32 bytes, row k of the strip at + k·32. */
export function packB(dst: usize, b: usize, sbk: i32, K: i32, N8: i32): void {
  const bs = <usize>sbk << 2;
  for (let s = 0; s < N8; s += 8) {
    let src = b + (<usize>s << 2), d = dst + ((<usize>(s >> 3) * K) << 5);
    for (let k = 0; k < K; k++) {
      v128.store(d, v128.load(src));
      v128.store(d, v128.load(src, 16), 16);
      src += bs; d += 32;
    }
  }
}

/** dst (cols, rows) = src (rows, cols)ᵀ: 4×4 blocks moved with vector shuffles, scalar edges. */
export function transpose(dst: usize, src: usize, rows: i32, cols: i32): void {
  const R4 = rows & ~3, C4 = cols & ~3;
  const rs = <usize>cols << 2, ds = <usize>rows << 2;
  for (let r = 0; r < R4; r += 4) {
    const s0 = src + ((<usize>r * cols) << 2);
    for (let c = 0; c < C4; c += 4) {
      const s = s0 + (<usize>c << 2);
      const a = v128.load(s), b = v128.load(s + rs), e = v128.load(s + 2 * rs), f = v128.load(s + 3 * rs);
      // a = [a0 a1 a2 a3], ...: interleave pairs, then halves
      const ab01 = v128.shuffle<f32>(a, b, 0, 4, 1, 5), ab23 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
      const ef01 = v128.shuffle<f32>(e, f, 0, 4, 1, 5), ef23 = v128.shuffle<f32>(e, f, 2, 6, 3, 7);
      const d = dst + ((<usize>c * rows + r) << 2);
      v128.store(d, v128.shuffle<f32>(ab01, ef01, 0, 1, 4, 5));
      v128.store(d + ds, v128.shuffle<f32>(ab01, ef01, 2, 3, 6, 7));
      v128.store(d + 2 * ds, v128.shuffle<f32>(ab23, ef23, 0, 1, 4, 5));
      v128.store(d + 3 * ds, v128.shuffle<f32>(ab23, ef23, 2, 3, 6, 7));
    }
    for (let c = C4; c < cols; c++) for (let k = r; k < r + 4; k++) store<f32>(dst + ((<usize>c * rows + k) << 2), load<f32>(src + ((<usize>k * cols + c) << 2)));
  }
  for (let r = R4; r < rows; r++) for (let c = 0; c < cols; c++) store<f32>(dst + ((<usize>c * rows + r) << 2), load<f32>(src + ((<usize>r * cols + c) << 2)));
}
