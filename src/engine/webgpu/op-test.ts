// The GPU op tests' helper, after tinygrad's helper_test_op: run a backend op and its CPU reference
// (src/engine/ref, float64) with the same arguments, and compare every output at a declared tolerance.
// A case is one line:
//
//   await checkOp(gpu, 'swigluForward', swiRef.swigluForward, [out(n), gate, up, n], TOL);
//
// Arguments, in the op's order (the references take the backend's, outputs first):
//   Float32Array / Int32Array  an input: an f32 / i32 tensor on the GPU, a float64 copy / the same ints for the reference
//   number, boolean, null      passed to both as is
//   out(n) / out(n, 'i32')     an output the op writes (=): seeded garbage on the GPU (so an unwritten entry
//                              shows), zeros for the reference
//   acc(init)                  an output the op adds into (+=): both start from init; checked on what the op
//                              added and on the total
//   gpuOnly(x)                 passed to the backend only (a TokenColumn, say)
// Tolerances: one for every output, or one per output in order. Each is a bound on the relative L2
// error relErr (src/engine/ref/testutil.ts); 0 asks for an exact match, as does every i32 output.
// `repeat` runs the op again from the same start and asks for the same bits.
// Failures throw (no `expect`: this file is not a *.test.ts, so tests.html does not swap vitest for it).
import type { Tensor } from '../backend.ts';
import { randArray, randInts, relErr, sub } from '../ref/testutil.ts';
import type { WebGpuBackend } from './backend.ts';

class Out {
  constructor(readonly init: Float32Array | Int32Array, readonly accumulate: boolean, readonly floor: number | null) {}
}
class GpuOnly {
  constructor(readonly value: unknown) {}
}

/** An output the op writes (=), n entries of f32 (or i32). */
export function out(n: number, dtype: 'f32' | 'i32' = 'f32'): Out {
  return new Out(dtype === 'i32' ? randInts(n, 977, -9, 9) : randArray(n, 977), false, null);
}

/** An output the op adds into (+=), starting from init. The increment's error is relative to the
 * reference increment's norm, or to `floor` when that is larger (for an increment that cancels to ≈ 0);
 * floor null skips the increment check. */
export function acc(init: Float32Array, floor: number | null = 0): Out {
  return new Out(init, true, floor);
}

/** An argument for the backend only: the reference does not take it. */
export function gpuOnly(value: unknown): GpuOnly {
  return new GpuOnly(value);
}

export type OpArg = Float32Array | Int32Array | number | boolean | null | Out | GpuOnly;

/** The outputs, in argument order: the GPU's (`got`) and the reference's (`want`). */
export interface OpResult {
  got: (Float32Array | Int32Array)[];
  want: (Float64Array | Int32Array)[];
}

type OpName = { [K in keyof WebGpuBackend]: WebGpuBackend[K] extends (...a: never[]) => void ? K : never }[keyof WebGpuBackend];

const norm = (a: ArrayLike<number>): number => Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));
/** float32 data widened for a float64 reference. */
export const f64 = (a: Float32Array): Float64Array => Float64Array.from(a);

/** Bit patterns, so reproducibility checks see -0 vs 0 and NaN payloads. */
export const bits = (a: Float32Array | Int32Array): Uint32Array => new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

/** A tensor holding `data` (i32 for an Int32Array). */
export function upload(gpu: WebGpuBackend, label: string, data: Float32Array | Int32Array): Tensor {
  const t = gpu.alloc(label, data.length, data instanceof Int32Array ? 'i32' : 'f32');
  gpu.upload(t, data);
  return t;
}

function fail(op: string, what: string, err: number, tol: number): never {
  throw new Error(`${op}: ${what} relErr ${err} ${tol === 0 ? 'is not 0' : `>= ${tol}`}`);
}

function within(op: string, what: string, err: number, tol: number): void {
  if (tol === 0 ? err !== 0 : !(err < tol)) fail(op, what, err, tol);
}

export async function checkOp(gpu: WebGpuBackend, op: OpName, ref: (...args: never[]) => void, args: OpArg[], tol: number | number[],
  opts: { repeat?: boolean } = {}): Promise<OpResult> {
  const tensors = new Map<number, Tensor>();
  args.forEach((a, i) => {
    if (a instanceof Float32Array || a instanceof Int32Array) tensors.set(i, upload(gpu, `${op}#${i}`, a));
    else if (a instanceof Out) tensors.set(i, upload(gpu, `${op}#${i}`, a.init));
  });
  const gpuArgs = args.map((a, i) => tensors.get(i) ?? (a instanceof GpuOnly ? a.value : a));
  const run = (gpu[op] as (...a: unknown[]) => void).bind(gpu);
  run(...gpuArgs);
  // Reference arguments in the same places (undefined for a GPU-only one, which the call leaves out).
  const refArgs = args.map((a) => {
    if (a instanceof GpuOnly) return undefined;
    if (a instanceof Float32Array) return Float64Array.from(a);
    if (a instanceof Int32Array) return Int32Array.from(a);
    if (!(a instanceof Out)) return a;
    if (a.init instanceof Int32Array) return a.accumulate ? Int32Array.from(a.init) : new Int32Array(a.init.length);
    return a.accumulate ? Float64Array.from(a.init) : new Float64Array(a.init.length);
  });
  (ref as (...a: unknown[]) => void)(...refArgs.filter((_, i) => !(args[i] instanceof GpuOnly)));

  const outs = args.flatMap((a, i) => (a instanceof Out ? [{ i, a, want: refArgs[i] as Float64Array | Int32Array }] : []));
  const read = (t: Tensor) => (t.dtype === 'i32' ? gpu.readInt(t) : gpu.read(t));
  const result: OpResult = { got: [], want: [] };
  for (const [k, { i, a, want }] of outs.entries()) {
    const got = await read(tensors.get(i)!), w = want;
    const tk = typeof tol === 'number' ? tol : tol[k];
    if (tk === undefined) throw new Error(`${op}: no tolerance for output ${k}`);
    const what = `output ${k} (argument ${i})`;
    if (got instanceof Int32Array) within(op, what, got.length === w.length && got.every((x, j) => x === w[j]) ? 0 : Infinity, 0);
    else {
      within(op, what, relErr(got, w), tk);
      if (a.accumulate && a.floor !== null) {
        const added = sub(w, a.init);
        const den = Math.max(norm(added), a.floor);
        const num = norm(sub(sub(got, a.init), added));
        within(op, `${what}, increment`, !Number.isFinite(num) ? Infinity : den > 0 ? num / den : num, tk);
      }
    }
    result.got.push(got);
    result.want.push(w);
  }
  if (opts.repeat) {
    for (const { i, a } of outs) if (a.accumulate) gpu.upload(tensors.get(i)!, a.init);
    run(...gpuArgs);
    for (const [k, { i }] of outs.entries()) {
      const again = bits(await read(tensors.get(i)!)), first = bits(result.got[k]);
      if (again.length !== first.length || again.some((x, j) => x !== first[j])) throw new Error(`${op}: output ${k} differs in its bits when run again`);
    }
  }
  for (const t of tensors.values()) gpu.free(t);
  return result;
}
