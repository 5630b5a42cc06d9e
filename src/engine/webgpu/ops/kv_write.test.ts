// The GPU KV-cache append (ops/kv_write.ts) against the CPU reference (src/engine/ref/kv_write.ref.ts),
// exact, through checkOp (../op-test.ts). attention.test.ts also decodes over caches it fills.
import { describe, expect, it } from 'vitest';
import * as ref from '../../ref/kv_write.ref.ts';
import { randArray } from '../../ref/testutil.ts';
import { acc, checkOp } from '../op-test.ts';
import { testGpu } from '../testing.ts';

describe('kvWrite', () => {
  const cases: [number, number, number, number, number][] = [[2, 3, 2, 7, 12], [1, 1, 5, 6, 4], [3, 6, 0, 6, 1]];
  for (const [B, Tq, pos0, Tmax, W] of cases) {
    it(`rows land at pos0 + t, the rest of the cache is kept, B=${B} Tq=${Tq} pos0=${pos0} Tmax=${Tmax} W=${W}`, async () => {
      await checkOp(await testGpu(), 'kvWrite', ref.kvWrite, [acc(randArray(B * Tmax * W, 61)), randArray(B * Tq * W, 62), B, Tq, pos0, Tmax, W], 0);
    });
  }

  it('rejects positions past the cache', async () => {
    const gpu = await testGpu();
    expect(() => gpu.kvWrite(gpu.alloc('cache', 2 * 7 * 4), gpu.alloc('x', 2 * 2 * 4), 2, 2, 6, 7, 4)).toThrow(/kvWrite: positions 6..7 outside \[0, 7\)/);
  });
});
