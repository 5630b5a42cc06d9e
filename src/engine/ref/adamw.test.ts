import { describe, it, expect } from 'vitest';
import type { AdamWParams } from '../backend.ts';
import { adamw, clipScale, sumSquares } from './adamw.ref.ts';
import { randArray64 } from './testutil.ts';

const base: AdamWParams = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1, maxNorm: 1 };

describe('sumSquares reference', () => {
  it('writes (=) Σx² into its slot only', () => {
    const sq = Float64Array.from([7, 7, 7]);
    sumSquares(sq, 1, Float64Array.from([1, -2, 3, 100]), 3);
    expect(Array.from(sq)).toEqual([7, 14, 7]);
  });
});

describe('adamw reference, hand-computed 2-element example', () => {
  // param [1, −2]; grad [3, 4] split over two norm slots: ‖g‖² = 9 + 16 = 25, ‖g‖ = 5.
  // Step 1, maxNorm 1: clip = 1/(5 + 1e-6) = 0.19999996; g' = [0.59999988, 0.79999984].
  //   m = 0.1 g', v = 0.001 g'²; m̂ = g', v̂ = g'² (bias correction 0.1, 0.001), so the step is
  //   lr · g'/(|g'| + eps) ≈ ±0.1, after decay p·(1 − lr·wd) = p·0.999:
  //   p0 = 0.999 − 0.1·0.59999988/(0.59999988 + 1e-8) = 0.8990000016666669
  //   p1 = −1.998 − 0.1·0.79999984/(0.79999984 + 1e-8) = −2.0979999987499998
  // Step 2, grad [−1, 0.5], maxNorm 10 > ‖g‖ = 1.118 so no clipping:
  //   m0 = 0.9·0.059999988 − 0.1 = −0.0460000108, v0 = 0.999·0.00035999986 + 0.001 = 0.00135963986
  //   m̂0 = m0/0.19 = −0.242105, v̂0 = v0/0.001999 = 0.680160, sqrt = 0.824718
  //   p0 = 0.8990000016666669·0.999 + 0.1·0.242105/0.824718 = 0.9274571302310581
  //   p1 similarly = −2.1921682001384184
  const want1 = [0.8990000016666669, -2.0979999987499998];
  const want2 = [0.9274571302310581, -2.1921682001384184];

  function run<A extends Float32Array | Float64Array>(make: (x: number[]) => A): A[] {
    const param = make([1, -2]), m = make([0, 0]), v = make([0, 0]), sq = make([0, 0]);
    const g1 = make([3, 4]);
    sumSquares(sq, 0, g1.subarray(0, 1), 1);
    sumSquares(sq, 1, g1.subarray(1, 2), 1);
    adamw(param, g1, m, v, sq, 2, 2, { ...base, step: 1, maxNorm: 1 });
    const after1 = make(Array.from(param));
    const g2 = make([-1, 0.5]);
    sumSquares(sq, 0, g2, 2);
    adamw(param, g2, m, v, sq, 1, 2, { ...base, step: 2, maxNorm: 10 });
    return [after1, param];
  }

  it('float64 matches the hand values', () => {
    const TOL = 1e-13; // same formula, float64
    const [p1, p2] = run((x) => Float64Array.from(x));
    for (let i = 0; i < 2; i++) {
      expect(Math.abs(p1[i] - want1[i])).toBeLessThan(TOL);
      expect(Math.abs(p2[i] - want2[i])).toBeLessThan(TOL);
    }
  });

  it('float32 storage stays within float32 rounding', () => {
    const TOL = 1e-6; // float32 state between steps
    const [p1, p2] = run((x) => Float32Array.from(x));
    for (let i = 0; i < 2; i++) {
      expect(Math.abs(p1[i] - want1[i])).toBeLessThan(TOL);
      expect(Math.abs(p2[i] - want2[i])).toBeLessThan(TOL);
    }
  });
});

describe('adamw reference, clipping', () => {
  it('maxNorm <= 0 disables clipping; only the first normSlots slots count', () => {
    const sq = Float64Array.from([9, 16, 1e6]);
    expect(clipScale(sq, 2, 0)).toBe(1);
    expect(clipScale(sq, 2, -1)).toBe(1);
    expect(clipScale(sq, 2, 100)).toBe(1);
    expect(clipScale(sq, 2, 1)).toBe(1 / (5 + 1e-6));
  });

  it('with clip scale s, a step equals an unclipped step on s·grad', () => {
    const TOL = 1e-15;
    const n = 6;
    const grad = randArray64(n, 71);
    const sq = new Float64Array(1);
    sumSquares(sq, 0, grad, n);
    const s = clipScale(sq, 1, 0.5);
    expect(s).toBeLessThan(1);
    const pA = randArray64(n, 72), mA = randArray64(n, 73, 0.1), vA = randArray64(n, 74, 0.1).map(Math.abs);
    const pB = Float64Array.from(pA), mB = Float64Array.from(mA), vB = Float64Array.from(vA);
    adamw(pA, grad, mA, vA, sq, 1, n, { ...base, step: 3, maxNorm: 0.5 });
    adamw(pB, grad.map((g) => g * s), mB, vB, sq, 1, n, { ...base, step: 3, maxNorm: 0 });
    for (let i = 0; i < n; i++) expect(Math.abs(pA[i] - pB[i])).toBeLessThan(TOL);
  });
});
