// The CPU backend the lab runs on when there is no real GPU: the reference CPU backend with its hot ops
// replaced by WebAssembly SIMD kernels on every core (runtime.ts, assembly/). Tensors live in the
// kernels' memory, so an op passes addresses, not copies. Float32 storage and arithmetic; each output
// of a matmul is one float32 sum in a fixed order, so a seed gives the same bits with any number of
// threads on any machine (tested). The ops not listed here run the float64-checked references.
import type { Tensor } from '../../backend.ts';
import { CpuBackend, CpuTensor } from '../backend.ts';
import { pickToken, sampleUniform, topPThreshold } from '../../ref/sample.ref.ts';
import { hardwareThreads, simdRuntime, singleThreadReason, type SimdRuntime } from './runtime.ts';

class SimdTensor extends CpuTensor {
  constructor(label: string, size: number, dtype: 'f32' | 'i32', readonly addr: number, rt: SimdRuntime) {
    super(label, size, dtype, dtype === 'f32' ? rt.f32(addr, size) : rt.i32(addr, size));
  }
}

function at(op: string, t: Tensor, n: number): number {
  if (!(t instanceof SimdTensor)) throw new Error(`${op}: tensor '${t.label}' does not belong to the SIMD CPU backend`);
  if (t.freed) throw new Error(`${op}: tensor '${t.label}' used after free`);
  if (t.dtype !== 'f32') throw new Error(`${op}: tensor '${t.label}' is ${t.dtype}, expected f32`);
  if (t.size < n) throw new Error(`${op}: tensor '${t.label}' has ${t.size} elements, op needs ${n}`);
  return t.addr;
}

function finite(op: string, x: number): number {
  if (!Number.isFinite(x)) throw new RangeError(`${op}: scale must be finite, got ${x}`);
  return x;
}

function noAlias(op: string, out: Tensor, ...inputs: (Tensor | null)[]): void {
  for (const t of inputs) if (out === t) throw new Error(`${op}: out '${out.label}' may not alias input '${t.label}'`);
}

// Op codes of assembly/index.ts.
const OP_GEMM = 1, OP_ATTN_FORWARD = 2, OP_ATTN_DECODE = 3, OP_ATTN_BACKWARD = 4, OP_SWIGLU_FORWARD = 5, OP_SWIGLU_BACKWARD = 6, OP_ADD = 7, OP_RMSNORM_FORWARD = 8;
const OP_RMSNORM_BACKWARD_INPUT = 9, OP_RMSNORM_BACKWARD_WEIGHT = 10, OP_ROPE = 11;
/** Below this many multiply-adds an op runs on the calling thread: waking workers costs more. */
const PARALLEL_MIN_MACS = 1 << 18;
/** The transposed scheme (assembly/gemm.ts) packs B for broadcast, 4× its floats' bytes, at most this
 * many, and pays off from this many rows of A: measured alternately on two threads at N, K = 128 or 384,
 * the direct scheme was 10–70% faster for 16 to 1024 rows (the decode's products; B's broadcast panel is
 * read once per eight rows), within noise at 2048–4096, 5–9% slower at 8192–11264 (the update's). */
const BROADCAST_MAX_BYTES = 8 << 20;
const TRANSPOSED_MIN_ROWS = 4096;

/** C (M,N) = Σ_k A(i,k)·B(k,j) with A(i,k) = a[i·sai + k·sak], B(k,j) = b[k·sbk + j·sbj] (a, b: byte
 * addresses; strides in floats); out = scale·C + bias (or +=). See assembly/gemm.ts. */
interface Gemm {
  M: number; N: number; K: number;
  a: number; sai: number; sak: number;
  b: number; sbk: number; sbj: number;
  out: number; bias: number; accumulate: boolean; scale: number;
}

export interface SimdCpuOptions {
  /** Threads (the calling one included); default: every core the platform reports. */
  threads?: number;
}

export class SimdCpuBackend extends CpuBackend {
  readonly rt = simdRuntime();
  /** Threads asked for; `threadsReady` says how many are running. */
  readonly threads: number;
  private readonly job: number;
  private readonly jobWords: Int32Array;
  private readonly scratch = Array.from({ length: 9 }, () => ({ addr: 0, bytes: 0 }));

  /** Prefer `SimdCpuBackend.create`, which waits for the worker threads; a backend constructed
   * directly runs on the threads that are ready (results are the same). */
  constructor(opts: SimdCpuOptions = {}) {
    super();
    const threads = opts.threads ?? hardwareThreads();
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`SIMD CPU backend: threads must be a positive integer, got ${threads}`);
    this.threads = threads;
    this.job = this.rt.alloc(32 * 4);
    this.jobWords = this.rt.i32(this.job, 32);
    void this.rt.startWorkers(threads);
  }

  static async create(opts: SimdCpuOptions = {}): Promise<SimdCpuBackend> {
    const b = new SimdCpuBackend(opts);
    await b.rt.startWorkers(b.threads);
    return b;
  }

  /** Threads that take part in a job now: the caller and the ready workers. */
  get threadsReady(): number {
    return 1 + this.rt.readyWorkers(this.threads - 1);
  }

  /** One line for logs and the page: what runs and on how many threads. */
  describe(): string {
    const n = this.threadsReady;
    const why = n < this.threads ? ` (${singleThreadReason ?? `${this.threads - n} worker(s) not ready`})` : '';
    return `CPU (WebAssembly SIMD, float32, ${n} thread${n === 1 ? '' : 's'}${why})`;
  }

  override alloc(label: string, size: number, dtype: 'f32' | 'i32' = 'f32'): Tensor {
    if (!Number.isInteger(size) || size < 0) throw new Error(`alloc '${label}': size must be a non-negative integer, got ${size}`);
    if (dtype !== 'f32' && dtype !== 'i32') throw new Error(`alloc '${label}': unknown dtype ${String(dtype)}`);
    return new SimdTensor(label, size, dtype, this.rt.alloc(size * 4), this.rt);
  }

  // Copies out of shared memory with set() (a memcpy); slice() on a shared array copies element by element.
  override async read(t: Tensor): Promise<Float32Array> {
    const src = (this.owned('read', t, 'f32')).data;
    const out = new Float32Array(src.length);
    out.set(src);
    return out;
  }

  override async readInt(t: Tensor): Promise<Int32Array> {
    const src = (this.owned('readInt', t, 'i32')).data;
    const out = new Int32Array(src.length);
    out.set(src);
    return out;
  }

  private owned(op: string, t: Tensor, dtype: 'f32' | 'i32'): SimdTensor {
    if (!(t instanceof SimdTensor)) throw new Error(`${op}: tensor '${t.label}' does not belong to the SIMD CPU backend`);
    if (t.freed) throw new Error(`${op}: tensor '${t.label}' used after free`);
    if (t.dtype !== dtype) throw new Error(`tensor '${t.label}' is ${t.dtype}, expected ${dtype}`);
    return t;
  }

  override zero(t: Tensor): void {
    if (!(t instanceof SimdTensor) || t.freed) return super.zero(t); // the reference's checks and messages
    this.rt.kernels.zero(t.addr, t.size * 4);
  }

  override zeroAll(ts: Tensor[]): void {
    for (const t of ts) this.zero(t);
  }

  override free(t: Tensor): void {
    if (!(t instanceof SimdTensor)) throw new Error(`free: tensor '${t.label}' does not belong to the SIMD CPU backend`);
    if (t.freed) throw new Error(`free: tensor '${t.label}' freed twice`);
    t.freed = true;
    this.rt.free(t.addr, t.size * 4);
  }

  /** A reusable scratch block of at least n floats: 0 a transposed weight; a gemm's 1 packed A (panels
   * or strips, one block per thread) and 8 packed B (strips or broadcast groups); 2 attention decode's rows, 3 RoPE's tables; the decode fusions'
   * 4 norm output, 5 rstd, 6 and 7 matmul outputs. */
  private temp(slot: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8, n: number): number {
    const s = this.scratch[slot];
    if (s.bytes < n * 4) {
      if (s.bytes) this.rt.free(s.addr, s.bytes);
      s.bytes = Math.max(n * 4, s.bytes * 2);
      s.addr = this.rt.alloc(s.bytes);
    }
    return s.addr;
  }

  private gemm(g: Gemm): void {
    const { M, N, K } = g;
    if (M === 0 || N === 0) return;
    const threads = M * N * K < PARALLEL_MIN_MACS ? 1 : this.threads;
    const w = this.jobWords;
    w.fill(0);
    w[0] = OP_GEMM;
    w[2] = M; w[3] = N; w[4] = K;
    w[5] = g.a; w[6] = g.sai; w[7] = g.sak;
    w[10] = g.out; w[11] = N;
    w[12] = g.bias; w[13] = g.accumulate ? 1 : 0;
    new Float32Array(w.buffer, w.byteOffset + 14 * 4, 1)[0] = g.scale;
    const groups = Math.ceil(N / 4);
    if (g.sak === 1 && K > 0 && M >= TRANSPOSED_MIN_ROWS && groups * K * 64 <= BROADCAST_MAX_BYTES) {
      // The transposed scheme (assembly/gemm.ts): B's columns packed once for broadcast (small: a
      // weight); tasks of 64 rows copy their rows of A into strips.
      const MB = 64;
      const bp = this.temp(8, groups * K * 16);
      this.rt.kernels.packBroadcast(bp, g.b, g.sbk, g.sbj, N, K);
      w[15] = MB; w[20] = bp;
      w[17] = this.temp(1, MB * K * this.threads); w[18] = MB * K * 4;
      this.rt.run(this.job, threads);
      return;
    }
    // The direct scheme: tasks of MB rows × all N columns; a task packs its rows of A once (k is not
    // blocked: measured, a whole-K panel beat blocks of 256 to 4096 at every shape, most on the weight
    // gradient's K = 11264). The host packs B into strips of eight columns, which needs B's columns adjacent.
    let { b, sbk } = g;
    if (g.sbj !== 1) {
      if (sbk !== 1) throw new Error('gemm: B needs adjacent rows or adjacent columns');
      b = this.temp(0, N * K); // (K, N): B's columns adjacent
      this.rt.kernels.transpose(b, g.b, N, K);
      sbk = N;
    }
    w[8] = b; w[9] = sbk;
    const MB = Math.max(4, Math.min(32, 4 * Math.ceil(M / (4 * 4 * threads))));
    const N8 = N & ~7;
    if (N8 > 0 && K > 0) {
      w[16] = this.temp(8, K * N8);
      this.rt.kernels.packB(w[16], b, sbk, K, N8);
    }
    const panelBytes = MB * K * 16;
    w[15] = MB;
    w[17] = w[16] ? this.temp(1, (panelBytes / 4) * this.threads) : 0; w[18] = panelBytes;
    this.rt.run(this.job, threads);
  }

  override matmulForward(out: Tensor, inp: Tensor, w: Tensor, bias: Tensor | null, N: number, C: number, OC: number, accumulate = false, scale = 1): void {
    const op = 'matmulForward';
    noAlias(op, out, inp, w, bias);
    const o = at(op, out, N * OC), x = at(op, inp, N * C), wa = at(op, w, OC * C), b = bias ? at(op, bias, OC) : 0;
    const s = finite(op, scale);
    this.gemm({ M: N, N: OC, K: C, a: x, sai: C, sak: 1, b: wa, sbk: 1, sbj: C, out: o, bias: b, accumulate, scale: s });
  }

  override matmulBackwardInput(dinp: Tensor, dout: Tensor, w: Tensor, N: number, C: number, OC: number, accumulate: boolean, scale = 1): void {
    const op = 'matmulBackwardInput';
    noAlias(op, dinp, dout, w);
    const d = at(op, dinp, N * C), g = at(op, dout, N * OC), wa = at(op, w, OC * C);
    this.gemm({ M: N, N: C, K: OC, a: g, sai: OC, sak: 1, b: wa, sbk: C, sbj: 1, out: d, bias: 0, accumulate, scale: finite(op, scale) });
  }

  override matmulBackwardWeight(dw: Tensor, dout: Tensor, inp: Tensor, N: number, C: number, OC: number, scale = 1): void {
    const op = 'matmulBackwardWeight';
    noAlias(op, dw, dout, inp);
    const d = at(op, dw, OC * C), g = at(op, dout, N * OC), x = at(op, inp, N * C);
    this.gemm({ M: OC, N: C, K: N, a: g, sai: 1, sak: OC, b: x, sbk: C, sbj: 1, out: d, bias: 0, accumulate: true, scale: finite(op, scale) });
  }

  /** Fills the attention job block: words 2.. as in assembly/attention.ts. */
  private attention(op: number, tasks: number, w: Record<string, number>): void {
    const j = this.jobWords;
    j.fill(0);
    j[0] = op; j[1] = 0;
    j[2] = w.B; j[3] = w.T; j[4] = w.NH; j[5] = w.NKV; j[6] = w.HS;
    j[7] = w.q; j[8] = w.k; j[9] = w.v; j[10] = w.out; j[11] = w.att ?? 0;
    j[12] = w.Tk ?? w.T; j[13] = w.pos0 ?? 0;
    new Float32Array(j.buffer, j.byteOffset + 14 * 4, 1)[0] = 1 / Math.sqrt(w.HS);
    j[15] = w.scratch ?? 0; j[16] = 0;
    j[17] = w.dout ?? 0; j[18] = w.dq ?? 0; j[19] = w.dk ?? 0; j[20] = w.dv ?? 0;
    const work = tasks * w.T * (w.Tk ?? w.T) * w.HS;
    this.rt.run(this.job, work < PARALLEL_MIN_MACS ? 1 : this.threads);
  }

  private heads(op: string, NH: number, NKV: number, HS: number): void {
    if (!(NKV > 0 && NH % NKV === 0)) throw new RangeError(`${op}: NH=${NH} is not a multiple of NKV=${NKV}`);
    if (!(HS > 0)) throw new RangeError(`${op}: HS must be positive, got ${HS}`);
  }

  override attentionForward(out: Tensor, att: Tensor, q: Tensor, k: Tensor, v: Tensor, B: number, T: number, NH: number, NKV: number, HS: number): void {
    const op = 'attentionForward';
    this.heads(op, NH, NKV, HS);
    noAlias(op, out, att, q, k, v);
    noAlias(op, att, q, k, v);
    const nq = B * T * NH * HS, nkv = B * T * NKV * HS;
    this.attention(OP_ATTN_FORWARD, B * NH, {
      B, T, NH, NKV, HS, out: at(op, out, nq), att: at(op, att, B * NH * T * T), q: at(op, q, nq), k: at(op, k, nkv), v: at(op, v, nkv),
    });
  }

  override attentionBackward(dq: Tensor, dk: Tensor, dv: Tensor, scratch: Tensor, dout: Tensor, q: Tensor, k: Tensor, v: Tensor, att: Tensor,
    B: number, T: number, NH: number, NKV: number, HS: number): void {
    const op = 'attentionBackward';
    this.heads(op, NH, NKV, HS);
    const outs = [dq, dk, dv, scratch];
    if (new Set(outs).size !== outs.length) throw new Error(`${op}: dq, dk, dv and scratch must be distinct tensors`);
    for (const o of outs) noAlias(op, o, dout, q, k, v, att);
    const nq = B * T * NH * HS, nkv = B * T * NKV * HS, na = B * NH * T * T;
    this.attention(OP_ATTN_BACKWARD, B * NKV, {
      B, T, NH, NKV, HS, out: at(op, scratch, na), att: at(op, att, na), q: at(op, q, nq), k: at(op, k, nkv), v: at(op, v, nkv),
      dout: at(op, dout, nq), dq: at(op, dq, nq), dk: at(op, dk, nkv), dv: at(op, dv, nkv),
    });
  }

  override attentionDecode(out: Tensor, q: Tensor, kcache: Tensor, vcache: Tensor, B: number, Tq: number, pos0: number, Tmax: number,
    NH: number, NKV: number, HS: number): void {
    const op = 'attentionDecode';
    this.heads(op, NH, NKV, HS);
    if (pos0 < 0 || pos0 + Tq > Tmax) throw new RangeError(`${op}: pos0+Tq=${pos0 + Tq} exceeds Tmax=${Tmax}`);
    noAlias(op, out, q, kcache, vcache);
    const nq = B * Tq * NH * HS, nc = B * Tmax * NKV * HS;
    this.attention(OP_ATTN_DECODE, B, {
      B, T: Tq, NH, NKV, HS, out: at(op, out, nq), q: at(op, q, nq), k: at(op, kcache, nc), v: at(op, vcache, nc), Tk: Tmax, pos0,
      scratch: this.temp(2, this.threads * Tmax),
    });
  }

  /** The reference's arithmetic (float64 angles, same products), with each position's cos/sin computed
   * once per call instead of once per sequence: the same bits, B times fewer trigonometric calls. */
  override rope(qOut: Tensor, q: Tensor, kOut: Tensor, k: Tensor, B: number, T: number, NH: number, NKV: number, HS: number,
    base: number, pos0: number, inverse: boolean): void {
    if (HS % 2 !== 0) throw new RangeError(`rope: head size ${HS} must be even`);
    for (const [o, x] of [[qOut, q], [kOut, k], [qOut, k], [kOut, q]]) noAlias('rope', o, x);
    this.ropeOne(qOut, q, B, T, NH, HS, base, pos0, inverse);
    this.ropeOne(kOut, k, B, T, NKV, HS, base, pos0, inverse);
  }

  /** The float64 cos and sin tables (T, HS/2) of positions pos0.. in scratch slot 3 (cos, then sin). */
  private ropeTables(T: number, HS: number, base: number, pos0: number, inverse: boolean): number {
    const half = HS / 2;
    const tab = this.temp(3, 4 * T * half);
    const cos = new Float64Array(this.rt.memory.buffer, tab, T * half), sin = new Float64Array(this.rt.memory.buffer, tab + 8 * T * half, T * half);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < half; i++) {
        const theta = (pos0 + t) * Math.pow(base, (-2 * i) / HS);
        cos[t * half + i] = Math.cos(theta);
        sin[t * half + i] = inverse ? -Math.sin(theta) : Math.sin(theta);
      }
    }
    return tab;
  }

  /** RoPE in the kernels (rows.ts ropeRun) with the tables at `tab`: position b·T + t reads x + (b·T + t)·inRow
   * floats and writes o + b·outB + t·outRow floats. */
  private ropeJob(o: number, x: number, tab: number, B: number, T: number, H: number, HS: number, inRow: number, outB: number, outRow: number): void {
    const j = this.jobWords;
    j[0] = OP_ROPE; j[1] = 0; j[2] = B * T; j[3] = T; j[4] = x; j[5] = o; j[6] = H; j[7] = HS;
    j[8] = tab; j[9] = tab + 4 * T * HS; j[10] = inRow; j[11] = outB; j[12] = outRow;
    this.rt.run(this.job, B * T * H * HS < 65536 ? 1 : this.threads);
  }

  private ropeOne(out: Tensor, inp: Tensor, B: number, T: number, H: number, HS: number, base: number, pos0: number, inverse: boolean): void {
    const n = B * T * H * HS;
    const o = at('rope', out, n), x = at('rope', inp, n);
    this.ropeJob(o, x, this.ropeTables(T, HS, base, pos0, inverse), B, T, H, HS, H * HS, T * H * HS, H * HS);
  }

  /** cache[b, pos0 + t] = x[b, t]: one block copy per sequence, on the calling thread. */
  override kvWrite(cache: Tensor, x: Tensor, B: number, Tq: number, pos0: number, Tmax: number, W: number): void {
    if (pos0 < 0 || pos0 + Tq > Tmax) throw new RangeError(`kvWrite: positions ${pos0}..${pos0 + Tq - 1} outside [0, ${Tmax})`);
    const c = at('kvWrite', cache, B * Tmax * W), s = at('kvWrite', x, B * Tq * W);
    this.rt.kernels.copyBlocks(c + pos0 * W * 4, Tmax * W * 4, 0, s, Tq * W * 4, 0, Tq * W * 4, B, 1);
  }

  /** The reference sampler (sample.ref.ts) without its per-row allocations and repeated divisions: the
   * same float64 operations in the same order, so the same ids, log-probs and entropies, bit for bit (tested). */
  protected override sampleRows(ids: Int32Array, logp: Float32Array, entropy: Float32Array, logits: Float32Array, B: number, V: number,
    temperature: number, topP: number, seed: number, offset: number, stride: number, rows?: Int32Array): void {
    if (!(temperature > 0 && Number.isFinite(temperature)) || !(topP > 0 && topP <= 1) || !(V >= 1)) {
      return super.sampleRows(ids, logp, entropy, logits, B, V, temperature, topP, seed, offset, stride, rows); // its errors
    }
    const y = new Float64Array(V), p = new Float64Array(V);
    for (let b = 0; b < B; b++) {
      const o = b * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) {
        const t = logits[o + v] / temperature;
        y[v] = t;
        max = Math.max(max, t);
      }
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(y[v] - max);
      const logZ = Math.log(z);
      let ent = 0;
      for (let v = 0; v < V; v++) {
        const l = y[v] - max - logZ;
        y[v] = l;
        const q = Math.exp(l);
        p[v] = q;
        if (q > 0) ent -= q * l;
      }
      const r = rows ? rows[b] : b;
      const id = pickToken(p, topPThreshold(p, topP), sampleUniform(seed, r));
      ids[b] = id;
      logp[r * stride + offset] = y[id];
      entropy[r * stride + offset] = ent;
    }
  }

  private elementwise(op: number, n: number, ptrs: number[]): void {
    const j = this.jobWords;
    j[0] = op; j[1] = 0; j[2] = n;
    ptrs.forEach((p, i) => { j[3 + i] = p; });
    this.rt.run(this.job, n < 65536 ? 1 : this.threads);
  }

  override swigluForward(out: Tensor, gate: Tensor, up: Tensor, n: number): void {
    const op = 'swigluForward';
    noAlias(op, out, gate, up);
    this.elementwise(OP_SWIGLU_FORWARD, n, [at(op, gate, n), at(op, up, n), at(op, out, n)]);
  }

  override swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor, n: number): void {
    const op = 'swigluBackward';
    if (dgate === dup) throw new Error(`${op}: dgate and dup must be distinct tensors`);
    noAlias(op, dgate, dout, gate, up);
    noAlias(op, dup, dout, gate, up);
    this.elementwise(OP_SWIGLU_BACKWARD, n, [at(op, gate, n), at(op, up, n), 0, at(op, dout, n), at(op, dgate, n), at(op, dup, n)]);
  }

  /** out = a + b: the float32 sum, bit-identical to the reference's. out may alias a. */
  override add(out: Tensor, a: Tensor, b: Tensor, n: number): void {
    const op = 'add';
    this.elementwise(OP_ADD, n, [0 /* word 3: C, unused */, at(op, a, n), at(op, b, n), at(op, out, n)]);
  }

  /** rmsnorm(x) into scratch slot 4 (rstd in 5): the rmsnormForward kernel, so the bits of the separate op. */
  private normRows(op: string, x: Tensor, lnw: Tensor, N: number, C: number, eps: number): number {
    const ln = this.temp(4, N * C), rstd = this.temp(5, N);
    const j = this.jobWords;
    j[0] = OP_RMSNORM_FORWARD; j[1] = 0; j[2] = N; j[3] = C;
    j[4] = at(op, x, N * C); j[5] = at(op, lnw, C); j[6] = ln; j[7] = rstd;
    new Float32Array(j.buffer, j.byteOffset + 8 * 4, 1)[0] = eps;
    this.rt.run(this.job, N * C < 65536 ? 1 : this.threads);
    return ln;
  }

  /** out (N,OC) = ln (N,C, an address) · wᵀ + bias: matmulForward's product. */
  private linearAt(out: number, ln: number, w: Tensor, bias: number, N: number, C: number, OC: number, op: string): void {
    this.gemm({ M: N, N: OC, K: C, a: ln, sai: C, sak: 1, b: at(op, w, OC * C), sbk: 1, sbj: C, out, bias, accumulate: false, scale: 1 });
  }

  /** The decode fusion of the norm and the next matmul (Backend.normMatmul), composed of this backend's own
   * kernels on scratch: rmsnorm, the matmul(s), SwiGLU. Each step is the separate op's kernel on the same
   * inputs, so the result is bit-identical to the separate ops (tested); it saves the model's buffers,
   * the residual add before the norm (the previous matmul accumulates) and the calls between. */
  normMatmul(out: Tensor, x: Tensor, lnw: Tensor, w: Tensor, w2: Tensor | null, N: number, C: number, OC: number, eps: number): void {
    const op = 'normMatmul';
    noAlias(op, out, x, lnw, w, w2);
    const o = at(op, out, N * OC);
    const ln = this.normRows(op, x, lnw, N, C, eps);
    if (!w2) return this.linearAt(o, ln, w, 0, N, C, OC, op);
    const gate = this.temp(6, N * OC), up = this.temp(7, N * OC);
    this.linearAt(gate, ln, w, 0, N, C, OC, op);
    this.linearAt(up, ln, w2, 0, N, C, OC, op);
    this.elementwise(OP_SWIGLU_FORWARD, N * OC, [gate, up, o]);
  }

  /** The decode fusion of the attention block's input side (Backend.qkvRope): rmsnorm, one matmul with the
   * stacked [Wq; Wk; Wv] and bias, then RoPE of q into q and of k into the cache, and v copied into the
   * cache, read straight out of the stacked rows. The kernels and arithmetic of the separate ops (each
   * output column's sum is the same whether its weight row is stacked or not), so the same bits (tested). */
  qkvRope(q: Tensor, kcache: Tensor, vcache: Tensor, x: Tensor, lnw: Tensor, w: Tensor, bias: Tensor | null,
    B: number, Tq: number, pos0: number, Tmax: number, C: number, NH: number, NKV: number, HS: number, eps: number, base: number): void {
    const op = 'qkvRope';
    this.heads(op, NH, NKV, HS);
    if (HS % 2 !== 0) throw new RangeError(`${op}: head size ${HS} must be even`);
    if (pos0 < 0 || pos0 + Tq > Tmax) throw new RangeError(`${op}: positions ${pos0}..${pos0 + Tq - 1} outside [0, ${Tmax})`);
    noAlias(op, q, kcache, vcache, x, lnw, w, bias);
    noAlias(op, kcache, vcache, x, lnw, w, bias);
    noAlias(op, vcache, x, lnw, w, bias);
    const N = B * Tq, QD = NH * HS, KD = NKV * HS, W = QD + 2 * KD;
    const qo = at(op, q, N * QD), kc = at(op, kcache, B * Tmax * KD), vc = at(op, vcache, B * Tmax * KD);
    const ln = this.normRows(op, x, lnw, N, C, eps);
    const qkv = this.temp(6, N * W);
    this.linearAt(qkv, ln, w, bias ? at(op, bias, W) : 0, N, C, W, op);
    const tab = this.ropeTables(Tq, HS, base, pos0, false);
    this.ropeJob(qo, qkv, tab, B, Tq, NH, HS, W, Tq * QD, QD);
    this.ropeJob(kc + pos0 * KD * 4, qkv + QD * 4, tab, B, Tq, NKV, HS, W, Tmax * KD, KD);
    this.rt.kernels.copyBlocks(vc + pos0 * KD * 4, Tmax * KD * 4, KD * 4, qkv + (QD + KD) * 4, Tq * W * 4, W * 4, KD * 4, B, Tq);
  }

  override rmsnormBackwardInput(dinp: Tensor, dout: Tensor, inp: Tensor, w: Tensor, rstd: Tensor, N: number, C: number): void {
    const op = 'rmsnormBackwardInput';
    const j = this.jobWords;
    j[0] = OP_RMSNORM_BACKWARD_INPUT; j[1] = 0; j[2] = N; j[3] = C;
    j[4] = at(op, dout, N * C); j[5] = at(op, w, C); j[6] = at(op, dinp, N * C); j[7] = at(op, rstd, N); j[8] = at(op, inp, N * C);
    this.rt.run(this.job, N * C < 65536 ? 1 : this.threads);
  }

  override rmsnormBackwardWeight(dw: Tensor, dout: Tensor, inp: Tensor, rstd: Tensor, N: number, C: number): void {
    const op = 'rmsnormBackwardWeight';
    const j = this.jobWords;
    j[0] = OP_RMSNORM_BACKWARD_WEIGHT; j[1] = 0; j[2] = N; j[3] = C;
    j[4] = at(op, dout, N * C); j[5] = at(op, inp, N * C); j[6] = at(op, dw, C); j[7] = at(op, rstd, N);
    this.rt.run(this.job, N * C < 65536 ? 1 : this.threads);
  }

  override rmsnormForward(out: Tensor, rstd: Tensor, inp: Tensor, w: Tensor, N: number, C: number, eps: number): void {
    const op = 'rmsnormForward';
    noAlias(op, out, rstd, inp, w);
    noAlias(op, rstd, inp, w);
    const j = this.jobWords;
    j[0] = OP_RMSNORM_FORWARD; j[1] = 0; j[2] = N; j[3] = C;
    j[4] = at(op, inp, N * C); j[5] = at(op, w, C); j[6] = at(op, out, N * C); j[7] = at(op, rstd, N);
    new Float32Array(j.buffer, j.byteOffset + 8 * 4, 1)[0] = eps;
    this.rt.run(this.job, N * C < 65536 ? 1 : this.threads);
  }
}
