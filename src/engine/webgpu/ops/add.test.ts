// The GPU residual add (ops/add.ts) against the CPU reference (src/engine/ref/add.ref.ts), through
// checkOp (../op-test.ts).
import { describe, expect, it } from 'vitest';
import * as ref from '../../ref/add.ref.ts';
import { randArray } from '../../ref/testutil.ts';
import { checkOp, out } from '../op-test.ts';
import { testGpu } from '../testing.ts';

describe('add', () => {
  const TOL = 1e-7; // relative: one float32 rounding per entry against the float64 sum
  for (const n of [1000, 1]) {
    it(`out = a + b, n=${n}`, async () => {
      await checkOp(await testGpu(), 'add', ref.add, [out(n), randArray(n, 51), randArray(n, 52), n], TOL);
    });
  }

  it('a tensor shorter than the op needs is an error naming the op and the tensor, not a silent clamp', async () => {
    const gpu = await testGpu();
    expect(() => gpu.add(gpu.alloc('out', 5), gpu.alloc('a', 6), gpu.alloc('b', 6), 6)).toThrow(/add: tensor "out" has 5 elements, needs 6/);
  });
});
