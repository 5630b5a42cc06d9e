import { describe, it, expect } from 'vitest';
import { embeddingBackward, embeddingForward } from './embedding.ref.ts';
import { dot, fdGrad, randArray64, randInts, relErr, sub } from './testutil.ts';

const B = 2, T = 5, C = 12, V = 11, N = B * T;

describe('embedding reference', () => {
  it('forward gathers rows', () => {
    const wte = randArray64(V * C, 1);
    const ids = randInts(N, 2, 0, V);
    const out = new Float64Array(N * C);
    embeddingForward(out, ids, wte, N, C);
    for (let n = 0; n < N; n++) expect(Array.from(out.subarray(n * C, n * C + C))).toEqual(Array.from(wte.subarray(ids[n] * C, ids[n] * C + C)));
  });

  it('backward accumulates (+=) the FD gradient, repeated ids included', () => {
    const TOL = 1e-8; // float64 central differences of a linear function
    const wte = randArray64(V * C, 3);
    const ids = Int32Array.from([0, 3, 3, 10, 5, 3, 0, 7, 9, 1]); // repeats of 0 and 3; some rows unused
    const dout = randArray64(N * C, 4);
    const out = new Float64Array(N * C);
    const loss = (): number => { embeddingForward(out, ids, wte, N, C); return dot(out, dout); };
    const want = fdGrad(wte, loss);
    const before = randArray64(V * C, 5);
    const dwte = Float64Array.from(before);
    embeddingBackward(dwte, dout, ids, N, C, V);
    expect(relErr(sub(dwte, before), want)).toBeLessThan(TOL);
  });

  it('rejects out-of-range ids in backward', () => {
    expect(() => embeddingBackward(new Float64Array(V * C), new Float64Array(C), Int32Array.from([V]), 1, C, V)).toThrow(RangeError);
  });
});
