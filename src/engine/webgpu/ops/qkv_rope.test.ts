// The decode fusion RMSNorm + q/k/v + bias + RoPE + KV-cache write (ops/qkv_rope.ts) against the
// composition of the CPU references it fuses (rmsnorm, matmul, rope, kv_write), in float64 on the same
// float32 inputs, on odd shapes: C above the workgroup's 256 lanes, rows folded over positions, a cache
// with other rows kept.
import { describe, it } from 'vitest';
import * as kvRef from '../../ref/kv_write.ref.ts';
import * as mmRef from '../../ref/matmul.ref.ts';
import * as rmsRef from '../../ref/rmsnorm.ref.ts';
import * as ropeRef from '../../ref/rope.ref.ts';
import { randArray } from '../../ref/testutil.ts';
import { acc, checkOp, out } from '../op-test.ts';
import { testGpu } from '../testing.ts';

type F = Float64Array;

/** Backend.qkvRope as the references it fuses: w = [Wq; Wk; Wv] and bias likewise, rows n = b·Tq + t at pos0 + t. */
function qkvRopeRef(q: F, kcache: F, vcache: F, x: F, lnw: F, w: F, bias: F | null, B: number, Tq: number, pos0: number, Tmax: number,
  C: number, NH: number, NKV: number, HS: number, eps: number, base: number): void {
  const N = B * Tq, QD = NH * HS, KD = NKV * HS;
  const ln = new Float64Array(N * C);
  rmsRef.rmsnormForward(ln, new Float64Array(N), x, lnw, N, C, eps);
  const part = (r0: number, n: number) => {
    const o = new Float64Array(N * n);
    mmRef.matmulForward(o, ln, w.subarray(r0 * C, (r0 + n) * C), bias ? bias.subarray(r0, r0 + n) : null, N, C, n);
    return o;
  };
  const k = new Float64Array(N * KD);
  ropeRef.rope(q, part(0, QD), B, Tq, NH, HS, base, pos0, false);
  ropeRef.rope(k, part(QD, KD), B, Tq, NKV, HS, base, pos0, false);
  kvRef.kvWrite(kcache, k, B, Tq, pos0, Tmax, KD);
  kvRef.kvWrite(vcache, part(QD + KD, KD), B, Tq, pos0, Tmax, KD);
}

describe('qkvRope (RMSNorm + q/k/v + bias + RoPE + KV-cache write)', () => {
  const TOL = 2e-6; // relative, as normMatmul's (norm_matmul.test.ts); the rotation adds a few ulp
  const cases: { B: number; Tq: number; pos0: number; Tmax: number; C: number; NH: number; NKV: number; HS: number; bias: boolean }[] = [
    { B: 2, Tq: 3, pos0: 2, Tmax: 7, C: 12, NH: 4, NKV: 2, HS: 6, bias: true },
    { B: 3, Tq: 1, pos0: 5, Tmax: 6, C: 300, NH: 2, NKV: 1, HS: 4, bias: false },
    { B: 1, Tq: 2, pos0: 0, Tmax: 2, C: 16, NH: 16, NKV: 8, HS: 32, bias: true }, // 512 pairs: two passes of 256 lanes
  ];
  for (const c of cases) {
    it(`B=${c.B} Tq=${c.Tq} pos0=${c.pos0} Tmax=${c.Tmax} C=${c.C} NH=${c.NH} NKV=${c.NKV} HS=${c.HS}${c.bias ? ' bias' : ''}`, async () => {
      const { B, Tq, pos0, Tmax, C, NH, NKV, HS } = c;
      const N = B * Tq, KD = NKV * HS, OUT = (NH + 2 * NKV) * HS;
      // the caches are written at pos0.. and kept elsewhere: checked in total (null: no increment check)
      await checkOp(await testGpu(), 'qkvRope', qkvRopeRef, [out(N * NH * HS), acc(randArray(B * Tmax * KD, 9), null), acc(randArray(B * Tmax * KD, 10), null),
        randArray(N * C, 5), randArray(C, 6), randArray(OUT * C, 7), c.bias ? randArray(OUT, 8) : null, B, Tq, pos0, Tmax, C, NH, NKV, HS, 1e-6, 10000], TOL);
    });
  }
});
