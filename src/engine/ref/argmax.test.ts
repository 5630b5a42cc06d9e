import { describe, it, expect } from 'vitest';
import { argmax } from './argmax.ref.ts';

describe('argmax reference', () => {
  it('picks the max; ties go to the lowest index', () => {
    const logits = Float32Array.from([
      1, 3, 3, 2, // tie at 1, 2 -> 1
      0, 0, 0, 0, // all equal -> 0
      -5, -2, -7, -2, // negatives, tie -> 1
      1, 2, 3, 9, // last -> 3
    ]);
    const out = new Int32Array(4).fill(-1);
    argmax(out, logits, 4, 4);
    expect(Array.from(out)).toEqual([1, 0, 1, 3]);
  });
});
