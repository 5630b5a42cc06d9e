// The fast CPU matmuls give the reference kernels' results bit for bit, on shapes that exercise
// every remainder path, and so does a whole model's forward and backward.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from './backend.ts';
import { matmulBackwardInput, matmulBackwardWeight, matmulForward } from '../ref/matmul.ref.ts';
import { Rng } from '../../tasks/index.ts';
import { FastCpuBackend, fastMatmulBackwardInput, fastMatmulBackwardWeight, fastMatmulForward } from './fast.ts';
import { tinyModelStep } from './testing.ts';

const rand = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng.normal(0, 1));
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

describe('fast CPU matmuls', () => {
  const shapes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [2, 8, 4], [7, 13, 6], [9, 16, 33], [16, 64, 99]];
  it.each(shapes)('N=%i C=%i OC=%i: bit-identical to the reference', (N, C, OC) => {
    const rng = new Rng(`${N}x${C}x${OC}`);
    const inp = rand(rng, N * C), w = rand(rng, OC * C), bias = rand(rng, OC), dout = rand(rng, N * OC);
    const res = new Float64Array(Math.max(N * OC, N * C, OC * C)), t0 = new Float32Array(Math.max(OC * C, N * OC)), t1 = new Float32Array(N * C);
    for (const [accumulate, scale, b] of [[false, 1, null], [true, 0.37, bias], [false, -2.5, bias]] as const) {
      const want = rand(rng, N * OC), got = want.slice();
      matmulForward(want, inp, w, b, N, C, OC, accumulate, scale);
      fastMatmulForward(got, inp, w, b, N, C, OC, accumulate, scale, res);
      expect(same(got, want)).toBe(true);
      const wantIn = rand(rng, N * C), gotIn = wantIn.slice();
      matmulBackwardInput(wantIn, dout, w, N, C, OC, accumulate, scale);
      fastMatmulBackwardInput(gotIn, dout, w, N, C, OC, accumulate, scale, t0, res);
      expect(same(gotIn, wantIn)).toBe(true);
      const wantW = rand(rng, OC * C), gotW = wantW.slice();
      matmulBackwardWeight(wantW, dout, inp, N, C, OC, scale);
      fastMatmulBackwardWeight(gotW, dout, inp, N, C, OC, scale, t0, t1, res);
      expect(same(gotW, wantW)).toBe(true);
    }
  });

  it('a whole model step is bit-identical on FastCpuBackend and CpuBackend', async () => {
    const [a, b] = [await tinyModelStep(new CpuBackend()), await tinyModelStep(new FastCpuBackend())];
    expect(b.length).toBe(a.length);
    a.forEach((x, i) => expect(same(b[i], x)).toBe(true));
  });

  it('rejects a tensor from another backend and a non-finite scale', () => {
    const be = new FastCpuBackend();
    const t = be.alloc('x', 4);
    const foreign = { label: 'gpu', size: 4, dtype: 'f32' as const };
    expect(() => be.matmulForward(t, foreign, t, null, 2, 2, 2)).toThrow(/does not belong to the CPU backend/);
    expect(() => be.matmulBackwardWeight(t, t, t, 2, 2, 2, Number.NaN)).toThrow(/scale must be finite/);
  });
});
