// Choosing tokens for decoding: sampling (temperature + top-p) and greedy argmax. Shaders:
// shaders/core/sample.wgsl and argmax.wgsl, one workgroup per row (folded 1-D dispatch). Semantics:
// src/engine/backend.ts `sample` / `argmax`; CPU references: src/engine/ref/sample.ref.ts and
// logprob.ref.ts. The draw of row b depends only on (seed, b) and the logits, so a seed reproduces a
// decode bit for bit. Both write the chosen token twice, into the next step's input and into a
// column of the output token matrix, so a decode step needs no copies.
import type { Tensor, TokenColumn } from '../../backend.ts';
import { checkSizes, F, type GpuContext, gpuTensor, U } from '../context.ts';

function checkInt(op: string, dims: Record<string, number>): void {
  for (const [k, v] of Object.entries(dims)) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${op}: ${k} must be a non-negative integer, got ${v}`);
  }
}

/** The column must hold `rows` slots, be i32, and share no buffer with the op's other tensors. */
function checkColumn(op: string, col: TokenColumn, rows: number, others: Tensor[]): void {
  checkInt(op, { 'column offset': col.offset, 'column stride': col.stride });
  if (col.tokens.dtype !== 'i32') throw new Error(`${op}: column tokens "${col.tokens.label}" must be i32`);
  const buf = gpuTensor(col.tokens).buffer;
  for (const t of others) if (gpuTensor(t).buffer === buf) throw new Error(`${op}: column tokens "${col.tokens.label}" must be distinct from "${t.label}"`);
  if (rows > 1 && col.stride === 0) throw new RangeError(`${op}: column stride 0 would make ${rows} rows write one slot`);
  const need = (rows - 1) * col.stride + col.offset + 1;
  if (rows > 0 && col.tokens.size < need) throw new RangeError(`${op}: column tokens "${col.tokens.label}" has ${col.tokens.size} elements, needs ${need}`);
}

/** out (N) i32 = argmax of each row of logits (N,V), ties to the lowest index; also into the column. */
export function argmax(g: GpuContext, out: Tensor, logits: Tensor, N: number, V: number, column: TokenColumn): void {
  checkInt('argmax', { N, V });
  checkColumn('argmax', column, N, [out, logits]);
  g.dispatch('core/argmax', [out, column.tokens, logits], [U(N), U(V), U(column.offset), U(column.stride)], N);
}

/** ids (B) i32 = one token per row of logits (B,V) drawn from softmax(logits / temperature) restricted
 * to top-p; logp and entropy (of the full tempered distribution) at [b·stride + offset]. */
export function sample(g: GpuContext, ids: Tensor, logp: Tensor, entropy: Tensor, logits: Tensor, B: number, V: number,
  temperature: number, topP: number, seed: number, offset: number, stride: number, column: TokenColumn): void {
  const op = 'sample';
  checkInt(op, { B, V, offset, stride });
  if (!Number.isInteger(seed)) throw new RangeError(`${op}: seed must be an integer, got ${seed}`);
  if (!(temperature > 0 && Number.isFinite(temperature))) throw new RangeError(`${op}: temperature must be > 0 (greedy decoding is argmax), got ${temperature}`);
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`${op}: topP must be in (0, 1], got ${topP}`);
  if (B === 0) return;
  if (V < 1) throw new RangeError(`${op}: V must be at least 1`);
  if (ids.dtype !== 'i32') throw new Error(`${op}: ids "${ids.label}" must be i32`);
  for (const t of [logp, entropy, logits]) if (t.dtype !== 'f32') throw new Error(`${op}: "${t.label}" must be f32`);
  const last = (B - 1) * stride + offset; // the largest logp/entropy index written
  const need: [Tensor, number][] = [[ids, B], [logp, last + 1], [entropy, last + 1], [logits, B * V]];
  checkSizes(op, need);
  if (B > 1 && stride === 0) throw new RangeError(`${op}: stride 0 would make ${B} rows write one slot`);
  const bufs = [ids, logp, entropy, logits].map((t) => gpuTensor(t).buffer);
  if (new Set(bufs).size !== bufs.length) throw new Error(`${op}: ids, logp, entropy and logits must be distinct tensors`);
  if (B * V > 0xffffffff) throw new RangeError(`${op}: B·V = ${B * V} overflows u32 indexing`);
  checkColumn(op, column, B, [ids, logp, entropy, logits]);
  g.dispatch('core/sample', [ids, column.tokens, logp, entropy, logits],
    [U(B), U(V), F(1 / temperature), F(topP), U(seed >>> 0), U(offset), U(stride), U(column.offset), U(column.stride)], B);
}
