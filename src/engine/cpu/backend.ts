// CPU backend: float32/int32 storage in typed arrays, every op delegated to the independent
// references in ../ref. Slow, synchronous, and strict: it checks dtypes and sizes on every call, so
// model code can be debugged here before it meets the GPU.
import type { AdamWShared, AdamWTensor, Backend, DType, Tensor, TokenColumn } from '../backend.ts';
import { adamw, sumSquares } from '../ref/adamw.ref.ts';
import { add } from '../ref/add.ref.ts';
import { argmax } from '../ref/argmax.ref.ts';
import { attentionBackward, attentionDecode, attentionForward } from '../ref/attention.ref.ts';
import { embeddingBackward, embeddingForward } from '../ref/embedding.ref.ts';
import { kvWrite } from '../ref/kv_write.ref.ts';
import { logprobBackward, logprobForward } from '../ref/logprob.ref.ts';
import { biasBackward, matmulBackwardInput, matmulBackwardWeight, matmulForward } from '../ref/matmul.ref.ts';
import { chunkSum, chunkSumBackward, div, dropout, rowNorm, scaleCols, scaleColsBackward } from '../ref/peft.ref.ts';
import { rmsnormBackwardInput, rmsnormBackwardWeight, rmsnormForward } from '../ref/rmsnorm.ref.ts';
import { rope } from '../ref/rope.ref.ts';
import { sample, writeColumn } from '../ref/sample.ref.ts';
import { swigluBackward, swigluForward } from '../ref/swiglu.ref.ts';

export class CpuTensor implements Tensor {
  readonly data: Float32Array | Int32Array;
  freed = false;
  /** `data` defaults to a fresh zeroed array; a subclass backend may place it elsewhere (zeroed, of the dtype and size). */
  constructor(readonly label: string, readonly size: number, readonly dtype: DType, data?: Float32Array | Int32Array) {
    this.data = data ?? (dtype === 'f32' ? new Float32Array(size) : new Int32Array(size));
  }
}

function tensor(t: Tensor): CpuTensor {
  if (!(t instanceof CpuTensor)) throw new Error(`tensor '${t.label}' does not belong to the CPU backend`);
  if (t.freed) throw new Error(`tensor '${t.label}' used after free`);
  return t;
}

/** The tensor's f32 data, after checking it holds at least `n` elements. */
function f32(t: Tensor, n: number): Float32Array {
  const c = tensor(t);
  if (!(c.data instanceof Float32Array)) throw new Error(`tensor '${t.label}' is ${t.dtype}, expected f32`);
  if (c.size < n) throw new Error(`tensor '${t.label}' has ${c.size} elements, op needs ${n}`);
  return c.data;
}

function i32(t: Tensor, n: number): Int32Array {
  const c = tensor(t);
  if (!(c.data instanceof Int32Array)) throw new Error(`tensor '${t.label}' is ${t.dtype}, expected i32`);
  if (c.size < n) throw new Error(`tensor '${t.label}' has ${c.size} elements, op needs ${n}`);
  return c.data;
}

/** The GPU backend cannot bind one buffer as both an output and an input: reject it here too. */
function noAlias(op: string, out: Tensor, ...inputs: Tensor[]): void {
  for (const t of inputs) if (out === t) throw new Error(`${op}: out '${out.label}' may not alias input '${t.label}'`);
}

function rank(op: string, R: number): number {
  if (!Number.isInteger(R) || R < 1) throw new RangeError(`${op}: R must be a positive integer, got ${R}`);
  return R;
}

function finite(op: string, x: number): number {
  if (!Number.isFinite(x)) throw new RangeError(`${op}: scale must be finite, got ${x}`);
  return x;
}

/** The largest batch row an op of `rows` rows writes: rows − 1, or the largest entry of the column's row
 * map (TokenColumn.rows), after checking the map names `rows` distinct rows. */
function lastRow(op: string, col: TokenColumn, rows: number): number {
  const map = col.rows;
  if (!map) return rows - 1;
  if (map.length < rows) throw new RangeError(`${op}: the row map has ${map.length} entries for ${rows} rows`);
  const seen = new Set<number>();
  let last = -1;
  for (let n = 0; n < rows; n++) {
    const r = map[n];
    if (r < 0 || seen.has(r)) throw new RangeError(`${op}: the row map must name distinct non-negative rows, got ${r} at ${n}`);
    seen.add(r);
    last = Math.max(last, r);
  }
  return last;
}

/** The column's i32 data, after checking it holds every slot written and is not the op's output; and
 * the largest batch row the op writes (lastRow). */
function columnTokens(op: string, col: TokenColumn, rows: number, out: Tensor): { tokens: Int32Array; last: number } {
  for (const [k, v] of Object.entries({ offset: col.offset, stride: col.stride })) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${op}: column ${k} must be a non-negative integer, got ${v}`);
  }
  if (rows > 1 && col.stride === 0) throw new RangeError(`${op}: column stride 0 would make ${rows} rows write one slot`);
  noAlias(op, col.tokens, out);
  const last = rows > 0 ? lastRow(op, col, rows) : -1;
  return { tokens: i32(col.tokens, last >= 0 ? last * col.stride + col.offset + 1 : 0), last };
}

export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;

  // --- storage -------------------------------------------------------------------------------
  alloc(label: string, size: number, dtype: DType = 'f32'): Tensor {
    if (!Number.isInteger(size) || size < 0) throw new Error(`alloc '${label}': size must be a non-negative integer, got ${size}`);
    if (dtype !== 'f32' && dtype !== 'i32') throw new Error(`alloc '${label}': unknown dtype ${String(dtype)}`);
    return new CpuTensor(label, size, dtype);
  }

  free(t: Tensor): void {
    tensor(t).freed = true;
  }

  /** Writes data at element `offset` (default 0); a partial upload is allowed, overflow is not. */
  upload(t: Tensor, data: Float32Array | Int32Array, offset = 0): void {
    const c = tensor(t);
    const ok = c.dtype === 'f32' ? data instanceof Float32Array : data instanceof Int32Array;
    if (!ok) throw new Error(`upload '${t.label}': tensor is ${t.dtype}, got ${data.constructor.name}`);
    if (!Number.isInteger(offset) || offset < 0 || offset + data.length > c.size)
      throw new Error(`upload '${t.label}': ${data.length} elements at offset ${offset} overflow size ${c.size}`);
    c.data.set(data, offset);
  }

  // async so that a bad handle rejects the promise, as a failed GPU readback would.
  async read(t: Tensor): Promise<Float32Array> {
    return f32(t, 0).slice();
  }

  async readInt(t: Tensor): Promise<Int32Array> {
    return i32(t, 0).slice();
  }

  zero(t: Tensor): void {
    tensor(t).data.fill(0);
  }

  zeroAll(ts: Tensor[]): void {
    for (const t of ts) this.zero(t);
  }

  copy(dst: Tensor, src: Tensor, n: number, dstOff = 0, srcOff = 0): void {
    const d = tensor(dst), s = tensor(src);
    if (d.dtype !== s.dtype) throw new Error(`copy '${src.label}' -> '${dst.label}': dtype ${s.dtype} vs ${d.dtype}`);
    if (dstOff + n > d.size || srcOff + n > s.size || dstOff < 0 || srcOff < 0 || n < 0)
      throw new Error(`copy '${src.label}'[${srcOff}..+${n}] -> '${dst.label}'[${dstOff}..+${n}]: out of range`);
    d.data.set(s.data.subarray(srcOff, srcOff + n), dstOff);
  }

  /** Storage layout is the GPU's concern: here it only checks the handles. */
  pack(label: string, tensors: Tensor[]): void {
    if (new Set(tensors).size !== tensors.length) throw new Error(`pack '${label}': a tensor is listed twice`);
    for (const t of tensors) tensor(t);
  }

  async sync(): Promise<void> {}

  // --- ops ------------------------------------------------------------------------------------
  embeddingForward(out: Tensor, ids: Tensor, wte: Tensor, N: number, C: number): void {
    const idv = i32(ids, N);
    const table = f32(wte, C);
    const V = Math.floor(table.length / C);
    for (let n = 0; n < N; n++)
      if (idv[n] < 0 || idv[n] >= V) throw new Error(`embeddingForward: '${ids.label}'[${n}] = ${idv[n]} outside '${wte.label}' (V=${V})`);
    embeddingForward(f32(out, N * C), idv, table, N, C);
  }
  embeddingBackward(dwte: Tensor, dout: Tensor, ids: Tensor, N: number, C: number, V: number): void {
    embeddingBackward(f32(dwte, V * C), f32(dout, N * C), i32(ids, N), N, C, V);
  }

  rmsnormForward(out: Tensor, rstd: Tensor, inp: Tensor, w: Tensor, N: number, C: number, eps: number): void {
    rmsnormForward(f32(out, N * C), f32(rstd, N), f32(inp, N * C), f32(w, C), N, C, eps);
  }  /** The add, then the norm: the same bits as the two ops. */
  addRmsnormForward(sum: Tensor, out: Tensor, rstd: Tensor, x: Tensor, d: Tensor, w: Tensor, N: number, C: number, eps: number): void {
    if (sum === x || sum === d) throw new Error(`addRmsnormForward: sum '${sum.label}' may not alias x or d`);
    this.add(sum, x, d, N * C);
    this.rmsnormForward(out, rstd, sum, w, N, C, eps);
  }

  rmsnormBackwardInput(dinp: Tensor, dout: Tensor, inp: Tensor, w: Tensor, rstd: Tensor, N: number, C: number): void {
    rmsnormBackwardInput(f32(dinp, N * C), f32(dout, N * C), f32(inp, N * C), f32(w, C), f32(rstd, N), N, C);
  }
  rmsnormBackwardWeight(dw: Tensor, dout: Tensor, inp: Tensor, rstd: Tensor, N: number, C: number): void {
    rmsnormBackwardWeight(f32(dw, C), f32(dout, N * C), f32(inp, N * C), f32(rstd, N), N, C);
  }

  matmulForward(out: Tensor, inp: Tensor, w: Tensor, bias: Tensor | null, N: number, C: number, OC: number, accumulate = false, scale = 1): void {
    matmulForward(f32(out, N * OC), f32(inp, N * C), f32(w, OC * C), bias ? f32(bias, OC) : null, N, C, OC, accumulate, finite('matmulForward', scale));
  }
  matmulBackwardInput(dinp: Tensor, dout: Tensor, w: Tensor, N: number, C: number, OC: number, accumulate: boolean, scale = 1): void {
    matmulBackwardInput(f32(dinp, N * C), f32(dout, N * OC), f32(w, OC * C), N, C, OC, accumulate, finite('matmulBackwardInput', scale));
  }
  matmulBackwardWeight(dw: Tensor, dout: Tensor, inp: Tensor, N: number, C: number, OC: number, scale = 1): void {
    matmulBackwardWeight(f32(dw, OC * C), f32(dout, N * OC), f32(inp, N * C), N, C, OC, finite('matmulBackwardWeight', scale));
  }
  biasBackward(dbias: Tensor, dout: Tensor, N: number, OC: number): void {
    biasBackward(f32(dbias, OC), f32(dout, N * OC), N, OC);
  }

  rope(qOut: Tensor, q: Tensor, kOut: Tensor, k: Tensor, B: number, T: number, NH: number, NKV: number, HS: number,
    base: number, pos0: number, inverse: boolean): void {
    for (const [o, x] of [[qOut, q], [kOut, k], [qOut, k], [kOut, q]]) if (o === x) throw new Error(`rope: output '${o.label}' may not alias an input`);
    const nq = B * T * NH * HS, nk = B * T * NKV * HS;
    rope(f32(qOut, nq), f32(q, nq), B, T, NH, HS, base, pos0, inverse);
    rope(f32(kOut, nk), f32(k, nk), B, T, NKV, HS, base, pos0, inverse);
  }

  attentionForward(out: Tensor, att: Tensor, q: Tensor, k: Tensor, v: Tensor, B: number, T: number, NH: number, NKV: number, HS: number): void {
    const nq = B * T * NH * HS, nkv = B * T * NKV * HS;
    attentionForward(f32(out, nq), f32(att, B * NH * T * T), f32(q, nq), f32(k, nkv), f32(v, nkv), B, T, NH, NKV, HS);
  }
  attentionBackward(dq: Tensor, dk: Tensor, dv: Tensor, scratch: Tensor, dout: Tensor, q: Tensor, k: Tensor, v: Tensor, att: Tensor,
    B: number, T: number, NH: number, NKV: number, HS: number): void {
    const nq = B * T * NH * HS, nkv = B * T * NKV * HS, na = B * NH * T * T;
    attentionBackward(f32(dq, nq), f32(dk, nkv), f32(dv, nkv), f32(scratch, na), f32(dout, nq), f32(q, nq), f32(k, nkv), f32(v, nkv),
      f32(att, na), B, T, NH, NKV, HS);
  }
  attentionDecode(out: Tensor, q: Tensor, kcache: Tensor, vcache: Tensor, B: number, Tq: number, pos0: number, Tmax: number,
    NH: number, NKV: number, HS: number): void {
    const nq = B * Tq * NH * HS, nc = B * Tmax * NKV * HS;
    attentionDecode(f32(out, nq), f32(q, nq), f32(kcache, nc), f32(vcache, nc), B, Tq, pos0, Tmax, NH, NKV, HS);
  }
  kvWrite(cache: Tensor, x: Tensor, B: number, Tq: number, pos0: number, Tmax: number, W: number): void {
    kvWrite(f32(cache, B * Tmax * W), f32(x, B * Tq * W), B, Tq, pos0, Tmax, W);
  }

  swigluForward(out: Tensor, gate: Tensor, up: Tensor, n: number): void {
    swigluForward(f32(out, n), f32(gate, n), f32(up, n), n);
  }
  swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor, n: number): void {
    swigluBackward(f32(dgate, n), f32(dup, n), f32(dout, n), f32(gate, n), f32(up, n), n);
  }

  add(out: Tensor, a: Tensor, b: Tensor, n: number): void {
    add(f32(out, n), f32(a, n), f32(b, n), n);
  }

  /** scale multiplies the logits before the log-softmax; it is rounded to float32 first, as the GPU
   * receives it, so both backends compute the same function. */
  logprobForward(logp: Tensor, lse: Tensor, logits: Tensor, targets: Tensor, N: number, V: number, scale = 1): void {
    logprobForward(f32(logp, N), f32(lse, N), f32(logits, N * V), i32(targets, N), N, V, Math.fround(finite('logprobForward', scale)));
  }
  logprobBackward(dlogits: Tensor, dlogp: Tensor, logits: Tensor, lse: Tensor, targets: Tensor, N: number, V: number, scale = 1): void {
    logprobBackward(f32(dlogits, N * V), f32(dlogp, N), f32(logits, N * V), f32(lse, N), i32(targets, N), N, V,
      Math.fround(finite('logprobBackward', scale)));
  }
  argmax(out: Tensor, logits: Tensor, N: number, V: number, column: TokenColumn): void {
    const { tokens } = columnTokens('argmax', column, N, out);
    argmax(i32(out, N), f32(logits, N * V), N, V);
    writeColumn(tokens, i32(out, N), N, column.offset, column.stride, column.rows);
  }
  /** Validates like the GPU op: distinct outputs, every written slot inside its tensor. */
  sample(ids: Tensor, logp: Tensor, entropy: Tensor, logits: Tensor, B: number, V: number, temperature: number, topP: number,
    seed: number, offset: number, stride: number, column: TokenColumn): void {
    for (const [k, v] of Object.entries({ B, V, offset, stride })) {
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`sample: ${k} must be a non-negative integer, got ${v}`);
    }
    if (!Number.isInteger(seed)) throw new RangeError(`sample: seed must be an integer, got ${seed}`);
    if (B === 0) return;
    if (B > 1 && stride === 0) throw new RangeError(`sample: stride 0 would make ${B} rows write one slot`);
    noAlias('sample', logp, entropy, logits);
    noAlias('sample', entropy, logits);
    const { tokens, last } = columnTokens('sample', column, B, ids);
    const n = last * stride + offset + 1;
    this.sampleRows(i32(ids, B), f32(logp, n), f32(entropy, n), f32(logits, B * V), B, V, temperature, topP, seed, offset, stride, column.rows);
    writeColumn(tokens, i32(ids, B), B, column.offset, column.stride, column.rows);
  }

  /** The sampler's arithmetic once the handles are checked (sample.ref.ts); a subclass may compute the same bits faster. */
  protected sampleRows(ids: Int32Array, logp: Float32Array, entropy: Float32Array, logits: Float32Array, B: number, V: number,
    temperature: number, topP: number, seed: number, offset: number, stride: number, rows?: Int32Array): void {
    sample(ids, logp, entropy, logits, B, V, temperature, topP, seed, offset, stride, rows);
  }

  scaleCols(out: Tensor, inp: Tensor, s: Tensor, bias: Tensor | null, N: number, OC: number, accumulate: boolean): void {
    noAlias('scaleCols', out, inp, s, ...(bias ? [bias] : []));
    scaleCols(f32(out, N * OC), f32(inp, N * OC), f32(s, OC), bias ? f32(bias, OC) : null, N, OC, accumulate);
  }
  scaleColsBackward(ds: Tensor, dout: Tensor, inp: Tensor, N: number, OC: number): void {
    noAlias('scaleColsBackward', ds, dout, inp);
    scaleColsBackward(f32(ds, OC), f32(dout, N * OC), f32(inp, N * OC), N, OC);
  }
  rowNorm(out: Tensor, x: Tensor, N: number, C: number): void {
    noAlias('rowNorm', out, x);
    rowNorm(f32(out, N), f32(x, N * C), N, C);
  }
  div(out: Tensor, a: Tensor, b: Tensor, n: number, accumulate: boolean): void {
    noAlias('div', out, a, b);
    div(f32(out, n), f32(a, n), f32(b, n), n, accumulate);
  }
  chunkSum(xbar: Tensor, x: Tensor, N: number, C: number, R: number): void {
    noAlias('chunkSum', xbar, x);
    chunkSum(f32(xbar, N * rank('chunkSum', R)), f32(x, N * C), N, C, R);
  }
  chunkSumBackward(dx: Tensor, dxbar: Tensor, N: number, C: number, R: number, accumulate: boolean): void {
    noAlias('chunkSumBackward', dx, dxbar);
    chunkSumBackward(f32(dx, N * C), f32(dxbar, N * rank('chunkSumBackward', R)), N, C, R, accumulate);
  }
  /** out may alias inp (each entry is read before it is written). */
  dropout(out: Tensor, inp: Tensor, n: number, p: number, seed: number): void {
    if (!Number.isInteger(seed)) throw new RangeError(`dropout: seed must be an integer, got ${seed}`);
    dropout(f32(out, n), f32(inp, n), n, p, seed);
  }

  sumSquares(sqnorm: Tensor, xs: Tensor[]): void {
    const sq = f32(sqnorm, xs.length);
    xs.forEach((x, i) => sumSquares(sq, i, f32(x, x.size), x.size));
  }
  /** Tensor by tensor: every tensor reads the same sqnorm, so the order does not matter. */
  adamw(tensors: AdamWTensor[], sqnorm: Tensor, normSlots: number, p: AdamWShared): void {
    for (const { param, grad, m, v, lr, weightDecay } of tensors) {
      const n = param.size;
      for (const x of [grad, m, v]) if (x.size !== n) throw new Error(`adamw: '${x.label}' has ${x.size} elements, param '${param.label}' ${n}`);
      adamw(f32(param, n), f32(grad, n), f32(m, n), f32(v, n), f32(sqnorm, normSlots), normSlots, n, { ...p, lr, weightDecay });
    }
  }
}
