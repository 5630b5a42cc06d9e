// Elementwise, normalisation, loss and optimizer ops. Shaders: shaders/core/<name>.wgsl.
import type { Tensor } from '../../backend.ts';
import { type GpuContext, U } from '../context.ts';

const WG = 256;
const groups = (n: number, per = WG) => Math.ceil(n / per);

export function add(g: GpuContext, out: Tensor, a: Tensor, b: Tensor, n: number): void {
  if (out === a) g.dispatch('core/add_inplace', [out, b], [U(n)], groups(n));
  else g.dispatch('core/add', [out, a, b], [U(n)], groups(n));
}
