// The GPU rope (ops/rope.ts) against the CPU reference (src/engine/ref/rope.ref.ts) on odd small shapes,
// through checkOp (../op-test.ts). Errors are relative L2 (relErr); each test declares its tolerance.
import { describe, expect, it } from 'vitest';
import { rope as ropeRef } from '../../ref/rope.ref.ts';
import { randArray } from '../../ref/testutil.ts';
import { checkOp, out } from '../op-test.ts';
import { testGpu } from '../testing.ts';

type F = Float64Array;

/** The backend's rope (queries and keys in one call) as the reference applied to each. */
function ropeBoth(qOut: F, q: F, kOut: F, k: F, B: number, T: number, NH: number, NKV: number, HS: number, base: number,
  pos0: number, inverse: boolean): void {
  ropeRef(qOut, q, B, T, NH, HS, base, pos0, inverse);
  ropeRef(kOut, k, B, T, NKV, HS, base, pos0, inverse);
}

describe('rope (queries and keys in one dispatch)', () => {
  // HF float32 angles against the reference's float64 ones: ~1e-7·pos relative.
  const TOL = 1e-5;
  const cases = [
    { B: 2, T: 5, NH: 3, NKV: 1, HS: 6, base: 10000, pos0: 3 },
    { B: 1, T: 7, NH: 2, NKV: 2, HS: 16, base: 1e6, pos0: 0 },
    { B: 1, T: 1, NH: 1, NKV: 1, HS: 2, base: 10000, pos0: 41 },
    { B: 3, T: 2, NH: 4, NKV: 2, HS: 10, base: 10000, pos0: 7 },
  ];
  /** Both tensors rotated on the GPU against the reference applied to each. */
  async function check(c: (typeof cases)[number], inverse: boolean, tol: number) {
    const nq = c.B * c.T * c.NH * c.HS, nk = c.B * c.T * c.NKV * c.HS;
    await checkOp(await testGpu(), 'rope', ropeBoth,
      [out(nq), randArray(nq, 11 + c.HS), out(nk), randArray(nk, 12 + c.HS), c.B, c.T, c.NH, c.NKV, c.HS, c.base, c.pos0, inverse], tol);
  }
  for (const c of cases) {
    for (const inverse of [false, true]) {
      it(`B=${c.B} T=${c.T} NH=${c.NH} NKV=${c.NKV} HS=${c.HS} base=${c.base} pos0=${c.pos0} inverse=${inverse}`, () => check(c, inverse, TOL));
    }
  }

  it('stays accurate at large positions (range reduction of the angle)', async () => {
    // HS = 2 has the single frequency 1, so θ = pos exactly in float32 and float64 alike: what is
    // left is the kernel's own sin/cos at θ ≈ 3e4, which must not degrade with |θ|.
    const TOL_FAR = 1e-5;
    await check({ B: 2, T: 6, NH: 3, NKV: 1, HS: 2, base: 10000, pos0: 30011 }, false, TOL_FAR);
  });

  it('rejects an output that aliases an input', async () => {
    const gpu = await testGpu();
    const q = gpu.alloc('q', 8), k = gpu.alloc('k', 8), ko = gpu.alloc('ko', 8);
    expect(() => gpu.rope(k, q, ko, k, 1, 1, 2, 2, 4, 10000, 0, false)).toThrow(/alias/);
  });
});
