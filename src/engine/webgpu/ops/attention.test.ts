// GPU attention (ops/attention.ts: forward, backward, decode over a cache kvWrite fills) against the CPU
// references (src/engine/ref/attention.ref.ts, kv_write.ref.ts), on odd small shapes, mostly through
// checkOp (../op-test.ts). SwiftShader is slow: keep shapes tiny. Errors are relative L2 (relErr); each
// test declares its tolerance.
import { describe, expect, it } from 'vitest';
import * as attRef from '../../ref/attention.ref.ts';
import * as kvRef from '../../ref/kv_write.ref.ts';
import { randArray, relErr } from '../../ref/testutil.ts';
import { checkOp, out, upload } from '../op-test.ts';
import { testGpu } from '../testing.ts';

/** Rows t0..t1−1 of every batch entry of x (B,T,W), as (B,t1−t0,W). */
function sliceT(x: Float32Array, B: number, T: number, W: number, t0: number, t1: number): Float32Array {
  const out = new Float32Array(B * (t1 - t0) * W);
  for (let b = 0; b < B; b++) out.set(x.subarray((b * T + t0) * W, (b * T + t1) * W), b * (t1 - t0) * W);
  return out;
}

interface Shape { B: number; T: number; NH: number; NKV: number; HS: number }
const SHAPES: Shape[] = [
  { B: 2, T: 5, NH: 4, NKV: 2, HS: 6 },     // GQA, HS not a multiple of 4, 10 slices per workgroup
  { B: 1, T: 1, NH: 3, NKV: 1, HS: 4 },     // a single token, 3 query heads on one kv head
  { B: 3, T: 17, NH: 2, NKV: 2, HS: 16 },   // plain MHA
  { B: 1, T: 129, NH: 2, NKV: 1, HS: 8 },   // rows longer than a workgroup (64): three key chunks
  { B: 1, T: 3, NH: 2, NKV: 1, HS: 48 },    // one slice, lanes 48..63 idle
  { B: 1, T: 4, NH: 1, NKV: 1, HS: 136 },   // HS > 64: three accumulators per lane
];
const name = (s: Shape) => `B=${s.B} T=${s.T} NH=${s.NH} NKV=${s.NKV} HS=${s.HS}`;

describe('attention forward', () => {
  const TOL = 1e-5;
  for (const s of SHAPES) {
    it(name(s), async () => {
      const { B, T, NH, NKV, HS } = s;
      const nq = B * T * NH * HS, nk = B * T * NKV * HS;
      await checkOp(await testGpu(), 'attentionForward', attRef.attentionForward,
        [out(nq), out(B * NH * T * T), randArray(nq, 1), randArray(nk, 2), randArray(nk, 3), B, T, NH, NKV, HS], TOL);
    });
  }
});

describe('attention backward', () => {
  const TOL = 1e-5;
  for (const s of SHAPES) {
    it(name(s), async () => {
      const gpu = await testGpu();
      const { B, T, NH, NKV, HS } = s;
      const nq = B * T * NH * HS, nk = B * T * NKV * HS, na = B * NH * T * T;
      const q = randArray(nq, 21), k = randArray(nk, 22), v = randArray(nk, 23), dout = randArray(nq, 24);
      // Both sides get the same probabilities: the reference forward's, rounded to f32.
      const att64 = new Float64Array(na);
      attRef.attentionForward(new Float64Array(nq), att64, Float64Array.from(q), Float64Array.from(k), Float64Array.from(v),
        B, T, NH, NKV, HS);
      await checkOp(gpu, 'attentionBackward', attRef.attentionBackward,
        [out(nq), out(nk), out(nk), out(na), dout, q, k, v, Float32Array.from(att64), B, T, NH, NKV, HS], TOL);
    });
  }
});

describe('attention decode and kvWrite', () => {
  const TOL = 1e-5;
  const cases: (Shape & { prefill: number; Tmax: number })[] = [
    { B: 2, T: 5, NH: 4, NKV: 2, HS: 6, prefill: 2, Tmax: 7 },
    { B: 1, T: 4, NH: 3, NKV: 1, HS: 4, prefill: 1, Tmax: 4 },
    { B: 1, T: 70, NH: 2, NKV: 1, HS: 16, prefill: 66, Tmax: 72 }, // crosses the 64-key chunk while decoding
  ];
  for (const c of cases) {
    it(`prefill ${c.prefill} then token by token equals the forward: ${name(c)} Tmax=${c.Tmax}`, async () => {
      const gpu = await testGpu();
      const { B, T, NH, NKV, HS, prefill, Tmax } = c;
      const W = NKV * HS, Wq = NH * HS;
      const q = randArray(B * T * Wq, 31), k = randArray(B * T * W, 32), v = randArray(B * T * W, 33);
      // Caches start as garbage: positions not yet written must never be read.
      const kcache = upload(gpu, 'kcache', randArray(B * Tmax * W, 34));
      const vcache = upload(gpu, 'vcache', randArray(B * Tmax * W, 35));
      const got = new Float32Array(B * T * Wq);
      const steps: [number, number][] = [[0, prefill]];
      for (let t = prefill; t < T; t++) steps.push([t, t + 1]);
      for (const [t0, t1] of steps) {
        const Tq = t1 - t0;
        gpu.kvWrite(kcache, upload(gpu, 'k-new', sliceT(k, B, T, W, t0, t1)), B, Tq, t0, Tmax, W);
        gpu.kvWrite(vcache, upload(gpu, 'v-new', sliceT(v, B, T, W, t0, t1)), B, Tq, t0, Tmax, W);
        const tOut = gpu.alloc('out', B * Tq * Wq);
        gpu.attentionDecode(tOut, upload(gpu, 'q-new', sliceT(q, B, T, Wq, t0, t1)), kcache, vcache, B, Tq, t0, Tmax, NH, NKV, HS);
        const o = await gpu.read(tOut);
        for (let b = 0; b < B; b++) got.set(o.subarray(b * Tq * Wq, (b + 1) * Tq * Wq), (b * T + t0) * Wq);
      }

      // The caches hold exactly what the reference kvWrite would put there.
      const wantK = randArray(B * Tmax * W, 34), wantV = randArray(B * Tmax * W, 35);
      kvRef.kvWrite(wantK, k, B, T, 0, Tmax, W);
      kvRef.kvWrite(wantV, v, B, T, 0, Tmax, W);
      expect(await gpu.read(kcache)).toEqual(wantK);
      expect(await gpu.read(vcache)).toEqual(wantV);

      // Against the float64 reference forward.
      const want = new Float64Array(B * T * Wq);
      attRef.attentionForward(want, new Float64Array(B * NH * T * T), Float64Array.from(q), Float64Array.from(k),
        Float64Array.from(v), B, T, NH, NKV, HS);
      expect(relErr(got, want)).toBeLessThan(TOL);

      // Against the GPU forward: the same kernel, the same order of operations, so bit for bit.
      const fout = gpu.alloc('fwd-out', B * T * Wq);
      gpu.attentionForward(fout, gpu.alloc('fwd-att', B * NH * T * T), upload(gpu, 'q', q), upload(gpu, 'k', k),
        upload(gpu, 'v', v), B, T, NH, NKV, HS);
      expect(got).toEqual(await gpu.read(fout));
    });
  }

  it('decode of three queries mid-sequence (Tq = 3, pos0 = 2) matches the reference decode', async () => {
    const TOL_DEC = 1e-5;
    const B = 2, Tq = 3, pos0 = 2, Tmax = 6, NH = 2, NKV = 1, HS = 10;
    const W = NKV * HS, nq = B * Tq * NH * HS;
    await checkOp(await testGpu(), 'attentionDecode', attRef.attentionDecode,
      [out(nq), randArray(nq, 41), randArray(B * Tmax * W, 42), randArray(B * Tmax * W, 43), B, Tq, pos0, Tmax, NH, NKV, HS], TOL_DEC);
  });
});
