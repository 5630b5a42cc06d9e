import { describe, it, expect } from 'vitest';
import { groupAdvantages, zeroVarianceGroups, unbiasedStd, overlongPenalty, applyOverlongShaping, STD_EPS } from './advantages.ts';

const close = (got: ArrayLike<number>, want: number[], digits = 12): void => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], digits);
};

describe('groupAdvantages', () => {
  it('group std normalisation (GRPO), unbiased std with +1e-4 outside the sqrt', () => {
    // rewards [1,0,0,0]: mean 0.25, deviations [0.75,−0.25,−0.25,−0.25]
    // Σdev² = 0.5625 + 3·0.0625 = 0.75; unbiased var = 0.75/3 = 0.25; std = 0.5
    // Â = dev / (0.5 + 1e-4) = dev / 0.5001 → [1.4997000599880024, −0.49990001999600077, …]
    const r = groupAdvantages([1, 0, 0, 0], 4, 'group');
    expect(STD_EPS).toBe(1e-4);
    close(r.groupMean, [0.25]);
    close(r.groupStd, [0.5]);
    close(r.advantages, [0.75 / 0.5001, -0.25 / 0.5001, -0.25 / 0.5001, -0.25 / 0.5001]);
    expect(r.advantages[0]).toBeCloseTo(1.4997000599880024, 12);
    expect(r.zeroVariance[0]).toBe(0);
  });

  it('std off (Dr. GRPO): advantages are the centred rewards', () => {
    // group 0: [1,0,0,0] mean 0.25 → [0.75,−0.25,−0.25,−0.25]; group 1: [1,1,0,0] mean 0.5 → [0.5,0.5,−0.5,−0.5]
    const r = groupAdvantages([1, 0, 0, 0, 1, 1, 0, 0], 4, 'none');
    close(r.advantages, [0.75, -0.25, -0.25, -0.25, 0.5, 0.5, -0.5, -0.5]);
    // std is still reported, for logging: group 1 Σdev² = 4·0.25 = 1, var 1/3, std 0.5773502691896258
    close(r.groupStd, [0.5, Math.sqrt(1 / 3)]);
  });

  it('batch std: centred per group, scaled by the std of the whole batch', () => {
    // groups [1,0] (mean 0.5) and [1,1] (mean 1, zero variance)
    // batch [1,0,1,1]: mean 0.75, dev [0.25,−0.75,0.25,0.25], Σdev² = 0.75, var 0.25, std 0.5
    // Â = [0.5/0.5001, −0.5/0.5001, 0, 0]
    const r = groupAdvantages([1, 0, 1, 1], 2, 'batch');
    expect(r.batchStd).toBeCloseTo(0.5, 14);
    close(r.advantages, [0.5 / 0.5001, -0.5 / 0.5001, 0, 0]);
    close(r.groupStd, [Math.SQRT1_2, 0]); // [1,0]: Σdev² 0.5, var 0.5/1
  });

  it('zero-variance groups are flagged and get exactly zero advantage', () => {
    // 3 groups of 3: all-correct, all-wrong, mixed [1,0,1]: mean 2/3, dev [1/3,−2/3,1/3],
    // Σdev² = 1/9+4/9+1/9 = 2/3, var = 1/3, std = 0.5773502691896258
    const r = groupAdvantages([1, 1, 1, 0, 0, 0, 1, 0, 1], 3, 'group');
    expect(Array.from(r.zeroVariance)).toEqual([1, 1, 0]);
    const s = Math.sqrt(1 / 3) + 1e-4;
    close(r.advantages, [0, 0, 0, 0, 0, 0, 1 / 3 / s, -2 / 3 / s, 1 / 3 / s]);
    // A constant reward whose float mean is off by an ulp (0.1+0.1+0.1 = 0.30000000000000004)
    // must still give exactly 0, not ±1e-17/1e-4.
    const c = groupAdvantages([0.1, 0.1, 0.1], 3, 'group');
    expect(Array.from(c.advantages)).toEqual([0, 0, 0]);
  });

  it('G = 1 gives std 0 and advantage 0 (TRL), and rejects bad shapes and values', () => {
    expect(Array.from(groupAdvantages([1, 0], 1, 'group').advantages)).toEqual([0, 0]);
    expect(() => groupAdvantages([1, 0, 1], 2, 'group')).toThrow(RangeError);
    expect(() => groupAdvantages([1, Number.NaN], 2, 'group')).toThrow(RangeError);
    expect(() => groupAdvantages([1, 0], 0, 'group')).toThrow(RangeError);
  });

  it('unbiasedStd and zeroVarianceGroups with a tolerance', () => {
    expect(unbiasedStd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7), 14); // Σdev² = 32, n−1 = 7
    expect(unbiasedStd([3])).toBe(0);
    expect(Array.from(zeroVarianceGroups([1, 1.05, 0, 1], 2, 0.1))).toEqual([1, 0]);
  });
});

describe('overlong shaping (DAPO eq. 13)', () => {
  it('0 up to Lmax − Lcache, linear to −1 at Lmax, −1 beyond', () => {
    // Lmax = 100, Lcache = 20: ramp starts after 80; penalty = (80 − len)/20
    expect(overlongPenalty(50, 100, 20)).toBe(0);
    expect(overlongPenalty(80, 100, 20)).toBe(0);
    expect(overlongPenalty(81, 100, 20)).toBeCloseTo(-0.05, 15); // (80−81)/20
    expect(overlongPenalty(90, 100, 20)).toBeCloseTo(-0.5, 15); // (80−90)/20, TRL's docstring example
    expect(overlongPenalty(100, 100, 20)).toBe(-1); // (80−100)/20
    expect(overlongPenalty(101, 100, 20)).toBe(-1);
  });

  it('Lcache = 0 is a step at Lmax; invalid settings throw', () => {
    expect(overlongPenalty(100, 100, 0)).toBe(0);
    expect(overlongPenalty(101, 100, 0)).toBe(-1);
    expect(() => overlongPenalty(10, 100, 200)).toThrow(RangeError);
    expect(() => overlongPenalty(-1, 100, 20)).toThrow(RangeError);
  });

  it('is added to rewards before the advantages (and can break a zero-variance tie)', () => {
    // both correct (reward 1), lengths 70 and 90 with Lmax 100, Lcache 20 → [1 + 0, 1 − 0.5]
    const shaped = applyOverlongShaping([1, 1], [70, 90], 100, 20);
    close(shaped, [1, 0.5]);
    close(applyOverlongShaping([1, 1], [70, 90], 100, 20, 0.5), [1, 0.75]); // factor 0.5
    // group [1, 0.5]: mean 0.75, centred [0.25, −0.25] — no longer zero-variance
    const r = groupAdvantages(shaped, 2, 'none');
    close(r.advantages, [0.25, -0.25]);
    expect(r.zeroVariance[0]).toBe(0);
    expect(() => applyOverlongShaping([1], [1, 2], 100, 20)).toThrow(RangeError);
  });
});
