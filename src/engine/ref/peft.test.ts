// The PEFT building blocks' CPU references: forward definitions checked on hand-computed entries,
// and every backward checked against float64 central finite differences of its forward under the
// fake loss L = Σ out·dout.
import { describe, expect, it } from 'vitest';
import { biasBackward } from './matmul.ref.ts';
import { chunkSum, chunkSumBackward, div, dropout, dropoutKeep, dropoutScale, pcgHash, rowNorm, scaleCols, scaleColsBackward } from './peft.ref.ts';
import { dot, fdGrad, randArray, randArray64, relErr, sub } from './testutil.ts';

const TOL = 1e-8; // float64 FD (h = 1e-5, O(h²) truncation) of functions linear in the perturbed argument

describe('scaleCols reference', () => {
  const N = 10, OC = 7;
  const inp = randArray64(N * OC, 1), s = randArray64(OC, 2), bias = randArray64(OC, 3), dout = randArray64(N * OC, 4);
  const prior = randArray64(N * OC, 5);
  const out = new Float64Array(N * OC);
  const loss = (): number => { out.set(prior); scaleCols(out, inp, s, bias, N, OC, true); return dot(out, dout); };

  it('forward: = and += with and without bias', () => {
    const o = new Float64Array(N * OC).fill(7);
    scaleCols(o, inp, s, null, N, OC, false);
    expect(o[3 * OC + 5]).toBe(inp[3 * OC + 5] * s[5]);
    const a = Float64Array.from(prior);
    scaleCols(a, inp, s, bias, N, OC, true);
    expect(Math.abs(a[3 * OC + 5] - (prior[3 * OC + 5] + inp[3 * OC + 5] * s[5] + bias[5]))).toBeLessThan(1e-15);
  });

  it('ds (+=) is scaleColsBackward; dinp is scaleCols of dout by s; dbias is biasBackward', () => {
    const wantS = fdGrad(s, loss), wantInp = fdGrad(inp, loss), wantBias = fdGrad(bias, loss);
    const before = randArray64(OC, 6);
    const ds = Float64Array.from(before);
    scaleColsBackward(ds, dout, inp, N, OC);
    expect(relErr(sub(ds, before), wantS)).toBeLessThan(TOL);
    const dinp = new Float64Array(N * OC).fill(3);
    scaleCols(dinp, dout, s, null, N, OC, false);
    expect(relErr(dinp, wantInp)).toBeLessThan(TOL);
    const db = new Float64Array(OC);
    biasBackward(db, dout, N, OC);
    expect(relErr(db, wantBias)).toBeLessThan(TOL);
  });
});

describe('rowNorm reference', () => {
  it('the Euclidean norm of each row', () => {
    const x = Float64Array.from([3, 4, 0, 1, 2, 2, -6, 0, 0]);
    const out = new Float64Array(3).fill(9);
    rowNorm(out, x, 3, 3);
    expect(Array.from(out)).toEqual([5, 3, 6]);
    const empty = new Float64Array(2).fill(9);
    rowNorm(empty, x, 2, 0);
    expect(Array.from(empty)).toEqual([0, 0]);
  });
});

describe('div reference', () => {
  const n = 17;
  const a = randArray64(n, 11), b = randArray64(n, 12).map((v) => (v >= 0 ? v + 0.5 : v - 0.5)), dout = randArray64(n, 13);
  const prior = randArray64(n, 14);
  const out = new Float64Array(n);
  const loss = (): number => { out.set(prior); div(out, a, b, n, true); return dot(out, dout); };

  it('forward = and +=', () => {
    const o = new Float64Array(n).fill(5);
    div(o, a, b, n, false);
    expect(o[4]).toBe(a[4] / b[4]);
    loss();
    expect(out[4]).toBe(prior[4] + a[4] / b[4]);
  });

  it('the gradient to a is div(dout, b)', () => {
    const want = fdGrad(a, loss);
    const da = new Float64Array(n);
    div(da, dout, b, n, false);
    expect(relErr(da, want)).toBeLessThan(TOL);
  });
});

describe('chunkSum reference (MiSS)', () => {
  const cases: [number, number, number][] = [[10, 13, 3], [4, 12, 4], [5, 7, 1], [3, 5, 8], [2, 6, 6]];
  for (const [N, C, R] of cases) {
    it(`N=${N} C=${C} R=${R}: forward by hand, backward (= and +=) by finite differences`, () => {
      const x = randArray64(N * C, 21 + C), dout = randArray64(N * R, 22 + C);
      const xbar = new Float64Array(N * R).fill(9);
      chunkSum(xbar, x, N, C, R);
      for (let n = 0; n < N; n++) {
        for (let j = 0; j < R; j++) {
          let s = 0;
          for (let k = 0; k < Math.ceil(C / R); k++) s += k * R + j < C ? x[n * C + k * R + j] : 0;
          expect(Math.abs(xbar[n * R + j] - s)).toBeLessThan(1e-14);
        }
      }
      const loss = (): number => { chunkSum(xbar, x, N, C, R); return dot(xbar, dout); };
      const want = fdGrad(x, loss);
      const dx = new Float64Array(N * C).fill(9);
      chunkSumBackward(dx, dout, N, C, R, false);
      expect(relErr(dx, want)).toBeLessThan(TOL);
      const before = randArray64(N * C, 23);
      const acc = Float64Array.from(before);
      chunkSumBackward(acc, dout, N, C, R, true);
      expect(relErr(sub(acc, before), want)).toBeLessThan(TOL);
    });
  }
});

describe('dropout reference', () => {
  // An independent PCG in BigInt arithmetic, to check the Math.imul one.
  const M = (1n << 32n) - 1n;
  const pcgBig = (v: number): number => {
    const state = (BigInt(v) * 747796405n + 2891336453n) & M;
    const word = (((state >> ((state >> 28n) + 4n)) ^ state) * 277803737n) & M;
    return Number((word >> 22n) ^ word);
  };

  it('the hash matches a BigInt implementation, including at the u32 edges', () => {
    const vals = [0, 1, 2, 3, 0x7fffffff, 0x80000000, 0xffffffff, 123456789, 2891336453];
    for (let i = 0; i < 1000; i++) vals.push((i * 2654435761) >>> 0);
    for (const v of vals) expect(pcgHash(v)).toBe(pcgBig(v));
    expect(pcgHash(0)).toBe(129708002); // pinned: a change of hash would silently change every run
  });

  it('keeps a fraction ≈ 1 − p, scales by float32 1/(1−p), is deterministic in (seed, i)', () => {
    const n = 20000, p = 0.3, seed = 42;
    const inp = Float64Array.from({ length: n }, (_, i) => 1 + (i % 7));
    const out = new Float64Array(n);
    dropout(out, inp, n, p, seed);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const keep = dropoutKeep(seed, i, p);
      expect(out[i]).toBe(keep ? inp[i] * Math.fround(1 / 0.7) : 0);
      if (keep) kept++;
    }
    expect(Math.abs(kept / n - (1 - p))).toBeLessThan(0.015); // ~4.6 standard deviations
    const again = new Float64Array(n);
    dropout(again, inp, n, p, seed);
    expect(again).toEqual(out);
    const other = new Float64Array(n);
    dropout(other, inp, n, p, seed + 1);
    expect(other).not.toEqual(out);
    expect(dropoutScale(0)).toBe(1);
    expect(dropoutScale(1)).toBe(0);
  });

  it('p = 0 copies (bit for bit, in float32 too); p = 1 zeroes; p outside [0, 1] throws', () => {
    const x = randArray(50, 31);
    const y = new Float32Array(50).fill(3);
    dropout(y, x, 50, 0, 7);
    expect(y).toEqual(x);
    dropout(y, x, 50, 1, 7);
    expect(Array.from(y)).toEqual(new Array(50).fill(0));
    expect(() => dropout(y, x, 50, -0.1, 7)).toThrow(RangeError);
    expect(() => dropout(y, x, 50, 1.5, 7)).toThrow(RangeError);
  });

  it('the backward pass is the same call on the gradient', () => {
    const n = 40, p = 0.5, seed = 3;
    const inp = randArray64(n, 32), dout = randArray64(n, 33);
    const out = new Float64Array(n);
    const loss = (): number => { dropout(out, inp, n, p, seed); return dot(out, dout); };
    const want = fdGrad(inp, loss);
    const dinp = new Float64Array(n);
    dropout(dinp, dout, n, p, seed);
    expect(relErr(dinp, want)).toBeLessThan(TOL);
  });
});
