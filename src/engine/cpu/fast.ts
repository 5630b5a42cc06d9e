// The CPU backend with cache-friendly matmuls: what the CLI runs when there is no real GPU.
//
// The reference kernels (src/engine/ref/matmul.ref.ts) walk memory with a stride in two of the
// three matmuls; those three ops are ~90% of a training step. These versions reorder the loops
// (transposed copies so every inner loop is contiguous; blocks of 2 rows × 4 columns per pass;
// 2.4-2.9× faster, docs/DISTILL.md) but keep every sum exactly as the
// reference forms it: a float64 accumulator per output, terms added in the same order, the same
// final scale / bias / accumulate arithmetic. The results are therefore bit-identical to the
// reference CPU backend (tested), so a checkpoint distilled here evaluates identically with
// `--backend cpu` anywhere, and `npm run eval` reproduces its numbers.
import type { Tensor } from '../backend.ts';
import { CpuBackend, CpuTensor } from './backend.ts';

function f32(t: Tensor, n: number, op: string): Float32Array {
  if (!(t instanceof CpuTensor)) throw new Error(`${op}: tensor '${t.label}' does not belong to the CPU backend`);
  if (t.freed) throw new Error(`${op}: tensor '${t.label}' used after free`);
  if (!(t.data instanceof Float32Array)) throw new Error(`${op}: tensor '${t.label}' is ${t.dtype}, expected f32`);
  if (t.size < n) throw new Error(`${op}: tensor '${t.label}' has ${t.size} elements, op needs ${n}`);
  return t.data;
}

function finite(op: string, x: number): number {
  if (!Number.isFinite(x)) throw new RangeError(`${op}: scale must be finite, got ${x}`);
  return x;
}

/**
 * The shared inner product: for every (n, o), s = Σ_c a[n,c]·b[o,c] in float64, c ascending (the
 * reference's order), into res (N,OC). Blocks of 2 rows × 4 columns share their loads.
 */
function dots(res: Float64Array, a: Float32Array, b: Float32Array, N: number, C: number, OC: number): void {
  const O4 = OC - (OC % 4), N2 = N - (N % 2);
  for (let n = 0; n < N2; n += 2) {
    const x0 = n * C, x1 = x0 + C;
    for (let o = 0; o < O4; o += 4) {
      const w0 = o * C, w1 = w0 + C, w2 = w1 + C, w3 = w2 + C;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let c = 0; c < C; c++) {
        const u = a[x0 + c], v = a[x1 + c];
        const p0 = b[w0 + c], p1 = b[w1 + c], p2 = b[w2 + c], p3 = b[w3 + c];
        s00 += u * p0; s01 += u * p1; s02 += u * p2; s03 += u * p3;
        s10 += v * p0; s11 += v * p1; s12 += v * p2; s13 += v * p3;
      }
      const r0 = n * OC + o, r1 = r0 + OC;
      res[r0] = s00; res[r0 + 1] = s01; res[r0 + 2] = s02; res[r0 + 3] = s03;
      res[r1] = s10; res[r1 + 1] = s11; res[r1 + 2] = s12; res[r1 + 3] = s13;
    }
    for (let o = O4; o < OC; o++) for (let r = n; r < n + 2; r++) res[r * OC + o] = dot(a, r * C, b, o * C, C);
  }
  for (let n = N2; n < N; n++) for (let o = 0; o < OC; o++) res[n * OC + o] = dot(a, n * C, b, o * C, C);
}

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, C: number): number {
  let s = 0;
  for (let c = 0; c < C; c++) s += a[ai + c] * b[bi + c];
  return s;
}

/** out (N,OC) = scale · inp · wᵀ + bias (or +=), with the reference's epilogue. */
export function fastMatmulForward(out: Float32Array, inp: Float32Array, w: Float32Array, bias: Float32Array | null,
  N: number, C: number, OC: number, accumulate: boolean, scale: number, res: Float64Array): void {
  dots(res, inp, w, N, C, OC);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < OC; o++) {
      const i = n * OC + o, v = scale * res[i] + (bias ? bias[o] : 0);
      out[i] = accumulate ? out[i] + v : v;
    }
  }
}

/** dinp (N,C) = scale · dout · w (or +=): dot products of dout's rows with wᵀ's (a transposed copy). */
export function fastMatmulBackwardInput(dinp: Float32Array, dout: Float32Array, w: Float32Array, N: number, C: number, OC: number,
  accumulate: boolean, scale: number, wT: Float32Array, res: Float64Array): void {
  transpose(wT, w, OC, C);
  dots(res, dout, wT, N, OC, C);
  const NC = N * C;
  if (accumulate) for (let i = 0; i < NC; i++) dinp[i] = dinp[i] + scale * res[i];
  else for (let i = 0; i < NC; i++) dinp[i] = scale * res[i];
}

/** dw (OC,C) += scale · doutᵀ · inp: dot products over n (ascending) of transposed copies. */
export function fastMatmulBackwardWeight(dw: Float32Array, dout: Float32Array, inp: Float32Array, N: number, C: number, OC: number,
  scale: number, doutT: Float32Array, inpT: Float32Array, res: Float64Array): void {
  transpose(doutT, dout, N, OC);
  transpose(inpT, inp, N, C);
  dots(res, doutT, inpT, OC, N, C);
  const n = OC * C;
  for (let i = 0; i < n; i++) dw[i] += scale * res[i];
}

/** dst (cols, rows) = src (rows, cols)ᵀ. */
function transpose(dst: Float32Array, src: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

/** The reference CPU backend with the three matmuls replaced by the loops above (same results, bit for bit). */
export class FastCpuBackend extends CpuBackend {
  private res = new Float64Array(0);
  private readonly tmp = [new Float32Array(0), new Float32Array(0)];

  /** Scratch for the float64 sums, grown on demand and reused. */
  private acc(n: number): Float64Array {
    if (this.res.length < n) this.res = new Float64Array(n);
    return this.res;
  }

  /** Scratch for transposed copies (two slots), grown on demand and reused. */
  private scratch(slot: 0 | 1, n: number): Float32Array {
    if (this.tmp[slot].length < n) this.tmp[slot] = new Float32Array(n);
    return this.tmp[slot];
  }

  override matmulForward(out: Tensor, inp: Tensor, w: Tensor, bias: Tensor | null, N: number, C: number, OC: number, accumulate = false, scale = 1): void {
    const op = 'matmulForward';
    fastMatmulForward(f32(out, N * OC, op), f32(inp, N * C, op), f32(w, OC * C, op), bias ? f32(bias, OC, op) : null, N, C, OC, accumulate, finite(op, scale), this.acc(N * OC));
  }

  override matmulBackwardInput(dinp: Tensor, dout: Tensor, w: Tensor, N: number, C: number, OC: number, accumulate: boolean, scale = 1): void {
    const op = 'matmulBackwardInput';
    fastMatmulBackwardInput(f32(dinp, N * C, op), f32(dout, N * OC, op), f32(w, OC * C, op), N, C, OC, accumulate, finite(op, scale), this.scratch(0, OC * C), this.acc(N * C));
  }

  override matmulBackwardWeight(dw: Tensor, dout: Tensor, inp: Tensor, N: number, C: number, OC: number, scale = 1): void {
    const op = 'matmulBackwardWeight';
    fastMatmulBackwardWeight(f32(dw, OC * C, op), f32(dout, N * OC, op), f32(inp, N * C, op), N, C, OC, finite(op, scale),
      this.scratch(0, N * OC), this.scratch(1, N * C), this.acc(OC * C));
  }
}
