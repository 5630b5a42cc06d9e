// AssemblyScript (compiled to WebAssembly with 128-bit SIMD by `npm run build:wasm`; not part of the
// TypeScript program). The CPU backend's matrix products:
//
//   C (M,N) = Σ_k A(i,k) · B(k,j),   A(i,k) = a[i·sai + k·sak],   B(k,j) = b[k·sbk + j]
//   out = scale · C + bias[j]   (or out += that, when accumulate)
//
// Every output is one float32 sum over k in ascending order, a separate multiply and add per term
// (no fused multiply-add, so every machine rounds alike), kept in a register for the whole k range.
// Tiling and the number of threads change which instructions compute an output, never its value:
// results are bit-identical whatever the thread count or tile shape.
//
// Work is split into tasks (a block of rows × every column) that the calling thread and the pool's
// workers claim from one atomic counter in the job block, so a slow core takes fewer tasks.
//
// The 4×8 micro-kernel's loop is bound by its instructions (docs/PERFORMANCE.md), so its operands are
// laid out for six plain vector loads per k at immediate offsets from two pointers: the host packs B
// into strips of eight columns, k-major (packB), and each task copies its rows of A into panels, four
// rows interleaved by k with every value broadcast to a vector (packA; a task covers all columns, so A
// is packed once). Whatever A's strides (the forward and the input gradient read A's rows along k, the
// weight gradient its columns), the tile sees the same layout. Edges (the last rows and columns that
// fill no 4×8 tile) run on A and B as given.
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
const J_PB = 16; // B packed by packB, 0 when N < 8 (no strip)
const J_APACK = 17, J_APACK_BYTES = 18; // the A panels' scratch: one block of this many bytes per thread
const J_SLOT = 19; // next thread's scratch block (atomic)

@inline function word(job: usize, i: i32): i32 {
  return load<i32>(job + (<usize>i << 2));
}

/** Claims and computes tasks (MB rows × all columns) until none is left. Called by every participating
 * thread. */
export function gemmRun(job: usize): void {
  const slot = atomic.add<i32>(job + (<usize>J_SLOT << 2), 1);
  const panels = <usize>word(job, J_APACK) + <usize>slot * <usize>word(job, J_APACK_BYTES);
  const M = word(job, J_M), MB = word(job, J_MB);
  const tasks = (M + MB - 1) / MB;
  while (true) {
    const t = atomic.add<i32>(job + (<usize>J_COUNTER << 2), 1);
    if (t >= tasks) return;
    gemmTask(job, panels, t * MB, min(t * MB + MB, M));
  }
}

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
      for (let i = i0; i < i4; i += 4) tile4x8Packed(job, panels + ((<usize>(i - i0) * K) << 4), strip, K, i, j, ldc);
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
  let v = f32x4.mul(f32x4.splat(reinterpret<f32>(word(job, J_SCALE))), acc);
  const bias = <usize>word(job, J_BIAS);
  if (bias) v = f32x4.add(v, v128.load(bias + (<usize>j << 2)));
  const out = <usize>word(job, J_OUT) + ((<usize>i * ldc + j) << 2);
  if (word(job, J_ACC)) v = f32x4.add(v128.load(out), v);
  v128.store(out, v);
}

@inline function store1(job: usize, acc: f32, i: i32, j: i32, ldc: i32): void {
  let v = reinterpret<f32>(word(job, J_SCALE)) * acc;
  const bias = <usize>word(job, J_BIAS);
  if (bias) v = v + load<f32>(bias + (<usize>j << 2));
  const out = <usize>word(job, J_OUT) + ((<usize>i * ldc + j) << 2);
  if (word(job, J_ACC)) v = load<f32>(out) + v;
  store<f32>(out, v);
}

// --- micro-kernels ---------------------------------------------------------------------------------

/** 4 rows × 8 columns from packed operands: a panel (k-major; each of the four rows' values at a k
 * broadcast to a whole vector by packA) and a strip of B (k-major, eight columns adjacent). 8 vector
 * accumulators; per k six plain vector loads at immediate offsets from two pointers, which V8 folds into
 * the loads' addresses (broadcast loads from a compact panel each cost an address computation in the
 * loop, docs/PERFORMANCE.md), and the loop runs on A's pointer (no counter). */
function tile4x8Packed(job: usize, pa: usize, pb: usize, K: i32, i: i32, j: i32, ldc: i32): void {
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
  store4(job, c00, i, j, ldc); store4(job, c01, i, j + 4, ldc);
  store4(job, c10, i + 1, j, ldc); store4(job, c11, i + 1, j + 4, ldc);
  store4(job, c20, i + 2, j, ldc); store4(job, c21, i + 2, j + 4, ldc);
  store4(job, c30, i + 3, j, ldc); store4(job, c31, i + 3, j + 4, ldc);
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
