// GPU rope / attention / decode / kvWrite against the independent CPU references
// (src/engine/ref/rope.ref.ts, attention.ref.ts), on odd small shapes. SwiftShader is slow: keep
// shapes tiny. Errors are relative L2 (relErr); each test declares its tolerance.
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../backend.ts';
import * as attRef from '../../ref/attention.ref.ts';
import * as kvRef from '../../ref/kv_write.ref.ts';
import { rope as ropeRef } from '../../ref/rope.ref.ts';
import { randArray, relErr } from '../../ref/testutil.ts';
import type { WebGpuBackend } from '../backend.ts';
import { testGpu } from '../testing.ts';

async function put(gpu: WebGpuBackend, label: string, data: Float32Array): Promise<Tensor> {
  const t = gpu.alloc(label, data.length);
  gpu.upload(t, data);
  return t;
}

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

describe('webgpu rope (queries and keys in one dispatch)', () => {
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
    const gpu = await testGpu();
    const nq = c.B * c.T * c.NH * c.HS, nk = c.B * c.T * c.NKV * c.HS;
    const q = randArray(nq, 11 + c.HS), k = randArray(nk, 12 + c.HS);
    const tq = await put(gpu, 'q', q), tk = await put(gpu, 'k', k);
    const qo = gpu.alloc('qo', nq), ko = gpu.alloc('ko', nk);
    gpu.rope(qo, tq, ko, tk, c.B, c.T, c.NH, c.NKV, c.HS, c.base, c.pos0, inverse);
    const wq = new Float64Array(nq), wk = new Float64Array(nk);
    ropeRef(wq, Float64Array.from(q), c.B, c.T, c.NH, c.HS, c.base, c.pos0, inverse);
    ropeRef(wk, Float64Array.from(k), c.B, c.T, c.NKV, c.HS, c.base, c.pos0, inverse);
    expect(relErr(await gpu.read(qo), wq)).toBeLessThan(tol);
    expect(relErr(await gpu.read(ko), wk)).toBeLessThan(tol);
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

describe('webgpu attention forward', () => {
  const TOL = 1e-5;
  for (const s of SHAPES) {
    it(name(s), async () => {
      const gpu = await testGpu();
      const { B, T, NH, NKV, HS } = s;
      const q = randArray(B * T * NH * HS, 1), k = randArray(B * T * NKV * HS, 2), v = randArray(B * T * NKV * HS, 3);
      const out = gpu.alloc('out', q.length), att = gpu.alloc('att', B * NH * T * T);
      gpu.upload(att, randArray(B * NH * T * T, 4)); // garbage: every entry must be written
      gpu.attentionForward(out, att, await put(gpu, 'q', q), await put(gpu, 'k', k), await put(gpu, 'v', v), B, T, NH, NKV, HS);
      const wantOut = new Float64Array(q.length), wantAtt = new Float64Array(B * NH * T * T);
      attRef.attentionForward(wantOut, wantAtt, Float64Array.from(q), Float64Array.from(k), Float64Array.from(v), B, T, NH, NKV, HS);
      expect(relErr(await gpu.read(out), wantOut)).toBeLessThan(TOL);
      expect(relErr(await gpu.read(att), wantAtt)).toBeLessThan(TOL);
    });
  }
});

describe('webgpu attention backward', () => {
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
      const att = Float32Array.from(att64);
      const dq = gpu.alloc('dq', nq), dk = gpu.alloc('dk', nk), dv = gpu.alloc('dv', nk), scratch = gpu.alloc('scratch', na);
      for (const t of [dq, dk, dv, scratch]) gpu.upload(t, randArray(t.size, 25)); // garbage: (=), not (+=)
      gpu.attentionBackward(dq, dk, dv, scratch, await put(gpu, 'dout', dout), await put(gpu, 'q', q), await put(gpu, 'k', k),
        await put(gpu, 'v', v), await put(gpu, 'att', att), B, T, NH, NKV, HS);
      const want = { dq: new Float64Array(nq), dk: new Float64Array(nk), dv: new Float64Array(nk), scratch: new Float64Array(na) };
      attRef.attentionBackward(want.dq, want.dk, want.dv, want.scratch, Float64Array.from(dout), Float64Array.from(q),
        Float64Array.from(k), Float64Array.from(v), Float64Array.from(att), B, T, NH, NKV, HS);
      expect(relErr(await gpu.read(scratch), want.scratch)).toBeLessThan(TOL);
      expect(relErr(await gpu.read(dq), want.dq)).toBeLessThan(TOL);
      expect(relErr(await gpu.read(dk), want.dk)).toBeLessThan(TOL);
      expect(relErr(await gpu.read(dv), want.dv)).toBeLessThan(TOL);
    });
  }
});

describe('webgpu attention decode and kvWrite', () => {
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
      const kcache = await put(gpu, 'kcache', randArray(B * Tmax * W, 34));
      const vcache = await put(gpu, 'vcache', randArray(B * Tmax * W, 35));
      const got = new Float32Array(B * T * Wq);
      const steps: [number, number][] = [[0, prefill]];
      for (let t = prefill; t < T; t++) steps.push([t, t + 1]);
      for (const [t0, t1] of steps) {
        const Tq = t1 - t0;
        gpu.kvWrite(kcache, await put(gpu, 'k-new', sliceT(k, B, T, W, t0, t1)), B, Tq, t0, Tmax, W);
        gpu.kvWrite(vcache, await put(gpu, 'v-new', sliceT(v, B, T, W, t0, t1)), B, Tq, t0, Tmax, W);
        const out = gpu.alloc('out', B * Tq * Wq);
        gpu.attentionDecode(out, await put(gpu, 'q-new', sliceT(q, B, T, Wq, t0, t1)), kcache, vcache, B, Tq, t0, Tmax, NH, NKV, HS);
        const o = await gpu.read(out);
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
      gpu.attentionForward(fout, gpu.alloc('fwd-att', B * NH * T * T), await put(gpu, 'q', q), await put(gpu, 'k', k),
        await put(gpu, 'v', v), B, T, NH, NKV, HS);
      expect(got).toEqual(await gpu.read(fout));
    });
  }

  it('decode of three queries mid-sequence (Tq = 3, pos0 = 2) matches the reference decode', async () => {
    const TOL_DEC = 1e-5;
    const gpu = await testGpu();
    const B = 2, Tq = 3, pos0 = 2, Tmax = 6, NH = 2, NKV = 1, HS = 10;
    const W = NKV * HS;
    const q = randArray(B * Tq * NH * HS, 41);
    const kc = randArray(B * Tmax * W, 42), vc = randArray(B * Tmax * W, 43);
    const out = gpu.alloc('out', q.length);
    gpu.attentionDecode(out, await put(gpu, 'q', q), await put(gpu, 'kc', kc), await put(gpu, 'vc', vc), B, Tq, pos0, Tmax, NH, NKV, HS);
    const want = new Float64Array(q.length);
    attRef.attentionDecode(want, Float64Array.from(q), Float64Array.from(kc), Float64Array.from(vc), B, Tq, pos0, Tmax, NH, NKV, HS);
    expect(relErr(await gpu.read(out), want)).toBeLessThan(TOL_DEC);
  });
});
