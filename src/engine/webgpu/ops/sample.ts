// Sampling a token per row for decoding (temperature + top-p). Shader: shaders/core/sample.wgsl, one
// workgroup per row (folded 1-D dispatch). Semantics: src/engine/backend.ts `sample`; CPU reference:
// src/engine/ref/sample.ref.ts. The draw of row b depends only on (seed, b) and the logits, so a seed
// reproduces a decode bit for bit. Like argmax (argmax.ts) it writes the chosen token twice, into the
// next step's input and into a column of the output token matrix, so a decode step needs no copies.
import type { Tensor, TokenColumn } from '../../backend.ts';
import { checkColumn, checkDims, checkSizes, F, type GpuContext, gpuTensor, U } from '../context.ts';

/** ids (B) i32 = one token per row of logits (B,V) drawn from softmax(logits / temperature) restricted
 * to top-p; logp and entropy (of the full tempered distribution) at [b·stride + offset]. */
export function sample(g: GpuContext, ids: Tensor, logp: Tensor, entropy: Tensor, logits: Tensor, B: number, V: number,
  temperature: number, topP: number, seed: number, offset: number, stride: number, column: TokenColumn): void {
  const op = 'sample';
  checkDims(op, { B, V, offset, stride });
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
