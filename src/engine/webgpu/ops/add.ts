// The residual add, out = a + b. Shaders: shaders/core/add.wgsl and add_inplace.wgsl (out === a, bound
// once as read_write); CPU reference: src/engine/ref/add.ref.ts. A file of its own, though it is one
// function, so that the family has the one name `add` in every layer as the others do; the add fused
// into the next RMSNorm (addRmsnormForward) is an entry point of rmsnorm_forward.wgsl and lives in
// rmsnorm.ts.
import type { Tensor } from '../../backend.ts';
import { checkSizes, type GpuContext, groups, U } from '../context.ts';

export function add(g: GpuContext, out: Tensor, a: Tensor, b: Tensor, n: number): void {
  checkSizes('add', [[out, n], [a, n], [b, n]]);
  if (out === a) g.dispatch('core/add_inplace', [out, b], [U(n)], groups(n));
  else g.dispatch('core/add', [out, a, b], [U(n)], groups(n));
}
