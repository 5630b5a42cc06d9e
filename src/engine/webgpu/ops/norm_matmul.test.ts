// The decode fusion RMSNorm + matmul [+ SwiGLU] (ops/norm_matmul.ts) against the composition of the CPU
// references it fuses (rmsnorm, matmul, swiglu), in float64 on the same float32 inputs, through checkOp
// (../op-test.ts), on odd shapes: C and OC above the workgroup's 256 lanes.
import { describe, expect, it } from 'vitest';
import * as mmRef from '../../ref/matmul.ref.ts';
import * as rmsRef from '../../ref/rmsnorm.ref.ts';
import * as swiRef from '../../ref/swiglu.ref.ts';
import { randArray } from '../../ref/testutil.ts';
import { checkOp, out } from '../op-test.ts';
import { testGpu } from '../testing.ts';

type F = Float64Array;

/** Backend.normMatmul as the references it fuses. */
function normMatmulRef(o: F, x: F, lnw: F, w: F, w2: F | null, N: number, C: number, OC: number, eps: number): void {
  const ln = new Float64Array(N * C);
  rmsRef.rmsnormForward(ln, new Float64Array(N), x, lnw, N, C, eps);
  mmRef.matmulForward(o, ln, w, null, N, C, OC);
  if (!w2) return;
  const up = new Float64Array(N * OC);
  mmRef.matmulForward(up, ln, w2, null, N, C, OC);
  swiRef.swigluForward(o, o.slice(), up, N * OC);
}

describe('normMatmul (RMSNorm + matmul [+ SwiGLU])', () => {
  const TOL = 2e-6; // relative to the largest output: float32 dot products of ≤ 300 terms vs float64
  const cases: [number, number, number][] = [[5, 12, 7], [3, 300, 9], [2, 20, 300], [1, 1, 1]];
  for (const [N, C, OC] of cases) {
    for (const gated of [false, true]) {
      it(`N=${N} C=${C} OC=${OC}${gated ? ' gated' : ''}`, async () => {
        await checkOp(await testGpu(), 'normMatmul', normMatmulRef,
          [out(N * OC), randArray(N * C, 1), randArray(C, 2), randArray(OC * C, 3), gated ? randArray(OC * C, 4) : null, N, C, OC, 1e-6], TOL);
      });
    }
  }

  it('refuses an output that aliases an input, and a row too long for workgroup memory', async () => {
    const gpu = await testGpu();
    const x = gpu.alloc('x', 8), w = gpu.alloc('w', 16);
    expect(() => gpu.normMatmul(x, x, w, w, null, 2, 4, 4, 1e-6)).toThrow(/may not alias/);
    const big = gpu.alloc('big', 2 * 4096);
    expect(() => gpu.normMatmul(gpu.alloc('o', 2), big, big, big, null, 1, 4096, 2, 1e-6)).toThrow(/exceeds 2048/);
  });
});
