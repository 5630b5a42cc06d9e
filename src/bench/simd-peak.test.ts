// The SIMD peak probe compiles from its AssemblyScript source and measures a finite, positive rate.
import { describe, expect, it } from 'vitest';
import { simdPeakGflops } from './simd-peak.ts';

describe('simdPeakGflops', () => {
  it('compiles the probe and reports a finite rate', async () => {
    const g = await simdPeakGflops(200_000, 2);
    expect(Number.isFinite(g)).toBe(true);
    expect(g).toBeGreaterThan(0.1);
  });
});
