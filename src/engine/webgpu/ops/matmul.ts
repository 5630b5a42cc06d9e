import type { Tensor } from '../../backend.ts';
import type { GpuContext } from '../context.ts';
const todo = (): never => { throw new Error('matmul ops: not written yet'); };
export type _T = Tensor;
export function matmulForward(_g: GpuContext, ..._a: unknown[]): void { todo(); }
export function matmulBackwardInput(_g: GpuContext, ..._a: unknown[]): void { todo(); }
export function matmulBackwardWeight(_g: GpuContext, ..._a: unknown[]): void { todo(); }
export function biasBackward(_g: GpuContext, ..._a: unknown[]): void { todo(); }
