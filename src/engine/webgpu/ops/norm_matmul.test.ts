// The decode-fusion kernels (ops/decode.ts) against the composition of the CPU references they fuse
// (rmsnorm, matmul, swiglu, rope, kvWrite), in float64 on the same float32 inputs, on odd shapes:
// C and OC above the workgroup's 256 lanes, rows folded over positions, a cache with other rows kept.
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../backend.ts';
import * as kvRef from '../../ref/kv_write.ref.ts';
import * as mmRef from '../../ref/matmul.ref.ts';
import * as rmsRef from '../../ref/rmsnorm.ref.ts';
import * as ropeRef from '../../ref/rope.ref.ts';
import * as swiRef from '../../ref/swiglu.ref.ts';
import { randArray, relErr } from '../../ref/testutil.ts';
import type { WebGpuBackend } from '../backend.ts';
import { testGpu } from '../testing.ts';

const f64 = (a: Float32Array): Float64Array => Float64Array.from(a);

function put(gpu: WebGpuBackend, label: string, data: Float32Array): Tensor {
  const t = gpu.alloc(label, data.length);
  gpu.upload(t, data);
  return t;
}

function normed(x: Float32Array, lnw: Float32Array, N: number, C: number, eps: number): Float64Array {
  const ln = new Float64Array(N * C);
  rmsRef.rmsnormForward(ln, new Float64Array(N), f64(x), f64(lnw), N, C, eps);
  return ln;
}

describe('normMatmul (RMSNorm + matmul [+ SwiGLU])', () => {
  const TOL = 2e-6; // relative to the largest output: float32 dot products of ≤ 300 terms vs float64
  const cases: [number, number, number][] = [[5, 12, 7], [3, 300, 9], [2, 20, 300], [1, 1, 1]];
  for (const [N, C, OC] of cases) {
    for (const gated of [false, true]) {
      it(`N=${N} C=${C} OC=${OC}${gated ? ' gated' : ''}`, async () => {
        const gpu = await testGpu();
        const eps = 1e-6;
        const x = randArray(N * C, 1), lnw = randArray(C, 2), w = randArray(OC * C, 3), w2 = randArray(OC * C, 4);
        const out = gpu.alloc('out', N * OC);
        gpu.normMatmul(out, put(gpu, 'x', x), put(gpu, 'lnw', lnw), put(gpu, 'w', w), gated ? put(gpu, 'w2', w2) : null, N, C, OC, eps);
        const got = await gpu.read(out);

        const ln = normed(x, lnw, N, C, eps);
        const want = new Float64Array(N * OC);
        mmRef.matmulForward(want, ln, f64(w), null, N, C, OC);
        if (gated) {
          const up = new Float64Array(N * OC);
          mmRef.matmulForward(up, ln, f64(w2), null, N, C, OC);
          swiRef.swigluForward(want, want.slice(), up, N * OC);
        }
        expect(relErr(got, want)).toBeLessThan(TOL);
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

describe('qkvRope (RMSNorm + q/k/v + bias + RoPE + KV-cache write)', () => {
  const TOL = 2e-6; // relative to the largest output, as above; the rotation adds a few ulp
  const cases: { B: number; Tq: number; pos0: number; Tmax: number; C: number; NH: number; NKV: number; HS: number; bias: boolean }[] = [
    { B: 2, Tq: 3, pos0: 2, Tmax: 7, C: 12, NH: 4, NKV: 2, HS: 6, bias: true },
    { B: 3, Tq: 1, pos0: 5, Tmax: 6, C: 300, NH: 2, NKV: 1, HS: 4, bias: false },
    { B: 1, Tq: 2, pos0: 0, Tmax: 2, C: 16, NH: 16, NKV: 8, HS: 32, bias: true }, // 512 pairs: two passes of 256 lanes
  ];
  for (const c of cases) {
    it(`B=${c.B} Tq=${c.Tq} pos0=${c.pos0} Tmax=${c.Tmax} C=${c.C} NH=${c.NH} NKV=${c.NKV} HS=${c.HS}${c.bias ? ' bias' : ''}`, async () => {
      const gpu = await testGpu();
      const { B, Tq, pos0, Tmax, C, NH, NKV, HS } = c;
      const N = B * Tq, QD = NH * HS, KD = NKV * HS, OUT = QD + 2 * KD, eps = 1e-6, base = 10000;
      const x = randArray(N * C, 5), lnw = randArray(C, 6), w = randArray(OUT * C, 7), bias = randArray(OUT, 8);
      const k0 = randArray(B * Tmax * KD, 9), v0 = randArray(B * Tmax * KD, 10);
      const q = gpu.alloc('q', N * QD), kc = put(gpu, 'kc', k0), vc = put(gpu, 'vc', v0);
      gpu.qkvRope(q, kc, vc, put(gpu, 'x', x), put(gpu, 'lnw', lnw), put(gpu, 'w', w), c.bias ? put(gpu, 'b', bias) : null,
        B, Tq, pos0, Tmax, C, NH, NKV, HS, eps, base);
      const [gq, gk, gv] = [await gpu.read(q), await gpu.read(kc), await gpu.read(vc)];

      const ln = normed(x, lnw, N, C, eps);
      const part = (r0: number, n: number) => {
        const out = new Float64Array(N * n);
        mmRef.matmulForward(out, ln, f64(w.subarray(r0 * C, (r0 + n) * C)), c.bias ? f64(bias.subarray(r0, r0 + n)) : null, N, C, n);
        return out;
      };
      const wq = new Float64Array(N * QD), wk = new Float64Array(N * KD);
      ropeRef.rope(wq, part(0, QD), B, Tq, NH, HS, base, pos0, false);
      ropeRef.rope(wk, part(QD, KD), B, Tq, NKV, HS, base, pos0, false);
      const wantK = f64(k0), wantV = f64(v0);
      kvRef.kvWrite(wantK, wk, B, Tq, pos0, Tmax, KD);
      kvRef.kvWrite(wantV, part(QD + KD, KD), B, Tq, pos0, Tmax, KD);
      expect(relErr(gq, wq)).toBeLessThan(TOL);
      expect(relErr(gk, wantK)).toBeLessThan(TOL);
      expect(relErr(gv, wantV)).toBeLessThan(TOL);
    });
  }
});
