import type { Tensor } from '../../backend.ts';
import type { GpuContext } from '../context.ts';
const todo = (): never => { throw new Error('attention ops: not written yet'); };
export function rope(_g: GpuContext, ..._a: unknown[]): void { todo(); }
export function attentionForward(_g: GpuContext, ..._a: unknown[]): void { todo(); }
export function attentionBackward(_g: GpuContext, ..._a: unknown[]): void { todo(); }
export function attentionDecode(_g: GpuContext, ..._a: unknown[]): void { todo(); }
export function kvWrite(_g: GpuContext, ..._a: unknown[]): void { todo(); }
export type _T = Tensor;
