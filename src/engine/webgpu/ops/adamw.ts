// AdamW with gradient-norm clipping, over a list of tensors: adamw and sumSquares (the squared
// gradient norms the clipping reads, one family with adamw as in the reference). Shaders:
// shaders/core/adamw.wgsl and sum_squares.wgsl; CPU reference: src/engine/ref/adamw.ref.ts. Tensors packed into one buffer
// (Backend.pack) are addressed by element offset in a segment table passed in the uniform, so a
// whole list costs one dispatch per op; tensors that are not packed cost one dispatch each, through
// the same kernels. Per entry the arithmetic is the same either way (bit-identical).
import type { AdamWShared, AdamWTensor, Tensor } from '../../backend.ts';
import { F, type GpuContext, gpuTensor, groups, type Param, U, WholeBuffer } from '../context.ts';

/** Segments per dispatch (the uniform table's length in the shaders); longer lists are split. */
const MAX_SEGS = 128;

/** Items grouped by the buffers they live in (in order of first appearance), in chunks of MAX_SEGS. */
function groupByBuffers<T>(items: T[], buffers: (item: T) => GPUBuffer[]): T[][] {
  const groups: { key: GPUBuffer[]; items: T[] }[] = [];
  for (const item of items) {
    const key = buffers(item);
    let g = groups.find((x) => x.key.every((b, i) => b === key[i]) && x.items.length < MAX_SEGS);
    if (!g) groups.push((g = { key, items: [] }));
    g.items.push(item);
  }
  return groups.map((g) => g.items);
}

/** A tensor's first element as an index into its buffer's f32 array. */
const elem = (t: Tensor): number => gpuTensor(t).offset / 4;

/** Pad a segment table to the shader's fixed MAX_SEGS entries of `width` words. */
function table(rows: Param[][], width: number): Param[] {
  const out = rows.flat();
  while (out.length < MAX_SEGS * width) out.push(U(0));
  return out;
}

/** One dispatch of a multi-tensor op: what GpuContext.dispatch takes (a 1-D workgroup count). */
export interface Planned {
  shader: string;
  bindings: (Tensor | WholeBuffer)[];
  params: Param[];
  workgroups: number;
}

/** sqnorm[i] = Σ xs[i]² (=), one workgroup per tensor. */
export function sumSquares(g: GpuContext, sqnorm: Tensor, xs: Tensor[]): void {
  for (const d of planSumSquares(sqnorm, xs)) g.dispatch(d.shader, d.bindings, d.params, d.workgroups);
}

/** AdamW on every tensor (see Backend.adamw): one dispatch per group of tensors whose params, grads,
 * m and v each share a buffer. */
export function adamw(g: GpuContext, ts: AdamWTensor[], sqnorm: Tensor, normSlots: number, p: AdamWShared): void {
  for (const d of planAdamw(ts, sqnorm, normSlots, p)) g.dispatch(d.shader, d.bindings, d.params, d.workgroups);
}

/** The dispatches sumSquares encodes (exported so tests can run them on explicit folded grids). */
export function planSumSquares(sqnorm: Tensor, xs: Tensor[]): Planned[] {
  if (xs.length > sqnorm.size) throw new RangeError(`sumSquares: ${xs.length} tensors, but sqnorm "${sqnorm.label}" has ${sqnorm.size} slots`);
  for (const x of xs) if (gpuTensor(x).buffer === gpuTensor(sqnorm).buffer) throw new Error(`sumSquares: "${x.label}" shares a buffer with sqnorm`);
  const slots = new Map(xs.map((x, i) => [x, i]));
  if (slots.size !== xs.length) throw new Error('sumSquares: a tensor is listed twice');
  return groupByBuffers(xs, (x) => [gpuTensor(x).buffer]).map((group) => {
    const segs = group.map((x) => [U(elem(x)), U(x.size), U(slots.get(x) ?? 0), U(0)]);
    return {
      shader: 'core/sum_squares',
      bindings: [sqnorm, new WholeBuffer(gpuTensor(group[0]).buffer)],
      params: [U(group.length), U(0), U(0), U(0), ...table(segs, 4)],
      workgroups: group.length,
    };
  });
}

/** The dispatches adamw encodes, after checking the list can be bound and updated. */
export function planAdamw(ts: AdamWTensor[], sqnorm: Tensor, normSlots: number, p: AdamWShared): Planned[] {
  if (!(p.step >= 1)) throw new RangeError(`adamw: step must be >= 1 (1-based), got ${p.step}`);
  if (normSlots > sqnorm.size) throw new RangeError(`adamw: normSlots ${normSlots} > sqnorm size ${sqnorm.size}`);
  for (const role of ['param', 'm', 'v'] as const) {
    if (new Set(ts.map((t) => t[role])).size !== ts.length) throw new Error(`adamw: a ${role} tensor is listed twice`);
  }
  for (const t of ts) {
    const n = t.param.size;
    for (const x of [t.grad, t.m, t.v]) if (x.size !== n) throw new RangeError(`adamw: "${x.label}" has ${x.size} elements, param "${t.param.label}" ${n}`);
    // WebGPU cannot bind one buffer as writable (param, m, v) and read-only (grad, sqnorm) at once.
    const written = new Set([t.param, t.m, t.v].map((x) => gpuTensor(x).buffer));
    if (written.size < 3) throw new Error(`adamw: param "${t.param.label}", m and v must live in three different buffers`);
    for (const x of [t.grad, sqnorm]) if (written.has(gpuTensor(x).buffer)) throw new Error(`adamw: "${x.label}" shares a buffer with a tensor adamw writes`);
  }
  // Host-side float64 for the small constants whose float32 rounding would matter (1 − 0.999).
  const bc1 = 1 - Math.pow(p.beta1, p.step);
  const bc2 = 1 - Math.pow(p.beta2, p.step);
  const shared = [U(normSlots), F(p.beta1), F(1 - p.beta1), F(p.beta2), F(1 - p.beta2), F(p.eps), F(bc1), F(bc2), F(p.maxNorm), U(0), U(0)];
  const live = ts.filter((t) => t.param.size > 0);
  const whole = (x: Tensor) => new WholeBuffer(gpuTensor(x).buffer);
  return groupByBuffers(live, (t) => [t.param, t.grad, t.m, t.v].map((x) => gpuTensor(x).buffer)).map((group) => {
    let wg0 = 0;
    const segs = group.map((t) => {
      const row = [U(wg0), U(t.param.size), F(t.lr), F(t.lr * t.weightDecay), U(elem(t.param)), U(elem(t.grad)), U(elem(t.m)), U(elem(t.v))];
      wg0 += groups(t.param.size);
      return row;
    });
    const t0 = group[0];
    return {
      shader: 'core/adamw',
      bindings: [whole(t0.param), whole(t0.grad), whole(t0.m), whole(t0.v), sqnorm],
      params: [U(group.length), ...shared, ...table(segs, 8)],
      workgroups: wg0,
    };
  });
}
