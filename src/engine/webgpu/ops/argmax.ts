// Greedy decoding: the argmax of each row of logits. Shader: shaders/core/argmax.wgsl, one workgroup
// per row (folded 1-D dispatch); CPU reference: src/engine/ref/argmax.ref.ts. Like sample (sample.ts)
// it writes the chosen token twice, into the next step's input and into a column of the output token
// matrix, so a decode step needs no copies.
import type { Tensor, TokenColumn } from '../../backend.ts';
import { checkColumn, checkDims, type GpuContext, U } from '../context.ts';

/** out (N) i32 = argmax of each row of logits (N,V), ties to the lowest index; also into the column. */
export function argmax(g: GpuContext, out: Tensor, logits: Tensor, N: number, V: number, column: TokenColumn): void {
  checkDims('argmax', { N, V });
  checkColumn('argmax', column, N, [out, logits]);
  g.dispatch('core/argmax', [out, column.tokens, logits], [U(N), U(V), U(column.offset), U(column.stride)], N);
}
