import { describe, it, expect } from 'vitest';
import { kvWrite } from './kv_write.ref.ts';
import { randArray64 } from './testutil.ts';

describe('kvWrite reference', () => {
  const B = 2, TMAX = 7, W = 12;
  it('kvWrite places rows at pos0 and rejects overflow', () => {
    const cache = new Float64Array(B * TMAX * W);
    const x = randArray64(B * 2 * W, 55);
    kvWrite(cache, x, B, 2, 4, TMAX, W);
    expect(Array.from(cache.subarray((1 * TMAX + 5) * W, (1 * TMAX + 6) * W))).toEqual(Array.from(x.subarray(3 * W, 4 * W)));
    expect(cache[(1 * TMAX + 3) * W]).toBe(0);
    expect(() => kvWrite(cache, x, B, 2, 6, TMAX, W)).toThrow(RangeError);
  });
});
