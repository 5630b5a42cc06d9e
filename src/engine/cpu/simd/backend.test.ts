// The SIMD CPU backend's matmuls:
// - against the float64 references (matmul.ref.ts) on odd shapes that reach every tile and tail
//   path, within float32 rounding of a K-term sum;
// - bit for bit against a plain float32 loop that states the arithmetic the kernels promise (one
//   sequential float32 sum per output, separate multiply and add, then scale, bias, accumulate);
// - bit-identical with 1, 2 and 3 threads, per op and for a whole model's forward and backward;
// - attention (forward, backward, KV-cache decode), SwiGLU and RMSNorm against the float64 references;
//   rope and add bit for bit.
import { describe, expect, it } from 'vitest';
import { attentionBackward, attentionDecode, attentionForward } from '../../ref/attention.ref.ts';
import { matmulBackwardInput, matmulBackwardWeight, matmulForward } from '../../ref/matmul.ref.ts';
import { rmsnormBackwardInput, rmsnormBackwardWeight, rmsnormForward } from '../../ref/rmsnorm.ref.ts';
import { kvWrite } from '../../ref/kv_write.ref.ts';
import { sample } from '../../ref/sample.ref.ts';
import { add } from '../../ref/add.ref.ts';
import { rope } from '../../ref/rope.ref.ts';
import { swigluBackward, swigluForward } from '../../ref/swiglu.ref.ts';
import { randArray, relErr } from '../../ref/testutil.ts';
import { CpuBackend } from '../backend.ts';
import { SimdCpuBackend } from './backend.ts';
import { tinyModelStep } from '../testing.ts';
import { SimdRuntime, sizeClass } from './runtime.ts';

const f = Math.fround;
const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

/** out = scale·(Σ_k A(i,k)·B(k,j)) + bias (or +=), every operation rounded to float32, k ascending. */
function f32Gemm(out: Float32Array, M: number, N: number, K: number, A: (i: number, k: number) => number, B: (k: number, j: number) => number,
  bias: Float32Array | null, accumulate: boolean, scale: number): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s = f(s + f(A(i, k) * B(k, j)));
      let v = f(f(scale) * s);
      if (bias) v = f(v + bias[j]);
      out[i * N + j] = accumulate ? f(out[i * N + j] + v) : v;
    }
  }
}

async function withData(be: SimdCpuBackend, data: Float32Array) {
  const t = be.alloc('t', data.length);
  be.upload(t, data);
  return t;
}

// Shapes: tails in every dimension (rows mod 8 and mod 4, columns mod 8 and mod 4, K mod 4), K = 0, one
// row; a B too large to pack for broadcast (3×1100×500: the forward transposes W for the direct scheme);
// and A long enough for the transposed scheme (≥ 4096 rows: the forward and the input gradient).
const shapes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [2, 8, 4], [7, 13, 6], [9, 16, 33], [16, 64, 99], [5, 0, 3], [37, 600, 21], [130, 19, 70], [3, 1100, 500], [4099, 19, 70], [4103, 37, 13]];

describe('SIMD CPU matmuls', () => {
  it.each(shapes)('N=%i C=%i OC=%i: float32 sums in order, bit for bit; within float32 rounding of the float64 reference', async (N, C, OC) => {
    const be = await SimdCpuBackend.create({ threads: 2 });
    const seed = N * 1000 + C * 10 + OC;
    const inp = randArray(N * C, seed), w = randArray(OC * C, seed + 1), bias = randArray(OC, seed + 2), dout = randArray(N * OC, seed + 3);
    const [tInp, tW, tBias, tDout] = await Promise.all([inp, w, bias, dout].map((d) => withData(be, d)));
    // Tolerance: a K-term float32 sum of products of normal values is within ~K·2⁻²⁴ of the exact sum,
    // relative to Σ|terms|; 1e-6·(1 + K/16) bounds that for these sizes with room for cancellation.
    const tol = (K: number) => 1e-6 * (1 + K / 16);
    for (const [accumulate, scale, b] of [[false, 1, null], [true, 0.37, bias], [false, -2.5, bias]] as const) {
      const start = randArray(N * OC, seed + 4);
      const out = await withData(be, start);
      be.matmulForward(out, tInp, tW, b ? tBias : null, N, C, OC, accumulate, scale);
      const got = await be.read(out);
      const exact = start.slice();
      f32Gemm(exact, N, OC, C, (i, k) => inp[i * C + k], (k, j) => w[j * C + k], b, accumulate, scale);
      expect(same(got, exact)).toBe(true);
      const ref = Float64Array.from(start);
      matmulForward(ref, Float64Array.from(inp), Float64Array.from(w), b ? Float64Array.from(b) : null, N, C, OC, accumulate, scale);
      expect(relErr(got, ref)).toBeLessThan(tol(C));

      const startIn = randArray(N * C, seed + 5);
      const dinp = await withData(be, startIn);
      be.matmulBackwardInput(dinp, tDout, tW, N, C, OC, accumulate, scale);
      const gotIn = await be.read(dinp);
      const exactIn = startIn.slice();
      f32Gemm(exactIn, N, C, OC, (i, k) => dout[i * OC + k], (k, j) => w[k * C + j], null, accumulate, scale);
      expect(same(gotIn, exactIn)).toBe(true);
      const refIn = Float64Array.from(startIn);
      matmulBackwardInput(refIn, Float64Array.from(dout), Float64Array.from(w), N, C, OC, accumulate, scale);
      expect(relErr(gotIn, refIn)).toBeLessThan(tol(OC));

      const startW = randArray(OC * C, seed + 6);
      const dw = await withData(be, startW);
      be.matmulBackwardWeight(dw, tDout, tInp, N, C, OC, scale);
      const gotW = await be.read(dw);
      const exactW = startW.slice();
      f32Gemm(exactW, OC, C, N, (i, k) => dout[k * OC + i], (k, j) => inp[k * C + j], null, true, scale);
      expect(same(gotW, exactW)).toBe(true);
      const refW = Float64Array.from(startW);
      matmulBackwardWeight(refW, Float64Array.from(dout), Float64Array.from(inp), N, C, OC, scale);
      expect(relErr(gotW, refW)).toBeLessThan(tol(N));
    }
  });

  // large enough to be split into tasks; 4099 rows: the forward and the input gradient take the transposed scheme
  it.each([[301, 96, 200], [4099, 96, 70]])('gives the same bits with 1, 2 and 3 threads (N=%i C=%i OC=%i)', async (N, C, OC) => {
    const results: Float32Array[][] = [];
    for (const threads of [1, 2, 3]) {
      const be = await SimdCpuBackend.create({ threads });
      expect(be.threadsReady).toBe(threads);
      const inp = await withData(be, randArray(N * C, 1)), w = await withData(be, randArray(OC * C, 2)), dout = await withData(be, randArray(N * OC, 3));
      const out = be.alloc('out', N * OC), dinp = be.alloc('dinp', N * C), dw = be.alloc('dw', OC * C);
      be.matmulForward(out, inp, w, null, N, C, OC);
      be.matmulBackwardInput(dinp, dout, w, N, C, OC, false, 0.5);
      be.matmulBackwardWeight(dw, dout, inp, N, C, OC, 0.25);
      results.push([await be.read(out), await be.read(dinp), await be.read(dw)]);
    }
    for (const r of results.slice(1)) r.forEach((x, i) => expect(same(x, results[0][i])).toBe(true));
  });

  it('a whole model forward and backward gives the same bits with 1, 2 and 3 threads, and matches the reference backend', async () => {
    const runs: Float32Array[][] = [];
    for (const threads of [1, 2, 3]) runs.push(await tinyModelStep(await SimdCpuBackend.create({ threads })));
    for (const r of runs.slice(1)) r.forEach((x, i) => expect(same(x, runs[0][i])).toBe(true));
    const ref = await tinyModelStep(new CpuBackend());
    // float32 sums against the reference's float64 sums, through a whole model: logp and every gradient
    ref.forEach((x, i) => expect(relErr(runs[0][i], x)).toBeLessThan(1e-5));
  });

  it('rejects foreign tensors, aliasing, short tensors and a non-finite scale', async () => {
    const be = await SimdCpuBackend.create({ threads: 1 });
    const t = be.alloc('x', 4), u = be.alloc('y', 4);
    const foreign = { label: 'gpu', size: 4, dtype: 'f32' as const };
    expect(() => be.matmulForward(t, foreign, u, null, 2, 2, 2)).toThrow(/does not belong to the SIMD CPU backend/);
    expect(() => be.matmulForward(t, t, u, null, 2, 2, 2)).toThrow(/may not alias/);
    expect(() => be.matmulForward(t, u, be.alloc('z', 4), null, 3, 2, 2)).toThrow(/has 4 elements, op needs 6/);
    expect(() => be.matmulBackwardWeight(t, u, be.alloc('z', 4), 2, 2, 2, Number.NaN)).toThrow(/scale must be finite/);
    be.free(u);
    expect(() => be.matmulForward(t, u, be.alloc('z', 4), null, 2, 2, 2)).toThrow(/used after free/);
  });

  it('reuses freed memory and keeps tensors zeroed on allocation', async () => {
    const be = await SimdCpuBackend.create({ threads: 1 });
    const a = be.alloc('a', 1000);
    be.upload(a, new Float32Array(1000).fill(3));
    be.free(a);
    const before = be.rt.reservedBytes;
    const b = be.alloc('b', 900); // a smaller request of the same size class takes the freed block
    expect(be.rt.reservedBytes).toBe(before);
    expect((await be.read(b)).every((x) => x === 0)).toBe(true);
    expect([1, 64, 65, 100, 1000, 4096, 4097].map(sizeClass)).toEqual([64, 64, 128, 128, 1024, 4096, 5120]);
  });

  it('reuses a freed block of a larger class up to twice the request, zeroed; not a larger one', () => {
    const rt = new SimdRuntime(); // its own memory and free lists (no workers started)
    const live0 = rt.liveBytes; // its control block
    const big = rt.alloc(120000), huge = rt.alloc(400000);
    rt.f32(big, 30000).fill(5);
    rt.free(big, 120000);
    rt.free(huge, 400000);
    const top = rt.reservedBytes;
    const t = rt.alloc(80000); // the 120 KB block (≤ 2×) serves it, not the 400 KB one
    expect(t).toBe(big);
    expect(rt.reservedBytes).toBe(top);
    expect(rt.f32(t, 20000).every((x) => x === 0)).toBe(true);
    expect(rt.liveBytes - live0).toBe(sizeClass(120000));
    const small = rt.alloc(4000); // nothing free within 2×: new memory
    expect(rt.reservedBytes).toBe(top + sizeClass(4000));
    rt.free(t, 80000);
    rt.free(small, 4000);
    expect(rt.liveBytes).toBe(live0);
    expect(rt.alloc(110000)).toBe(big); // freed back to its own class
  });
});

describe('SIMD CPU attention', () => {
  const f64 = (a: Float32Array) => Float64Array.from(a);
  // Shapes: head sizes that are and are not multiples of 4, grouped and ungrouped heads.
  // HS = 32, 12 and 20 reach the weighted sum's 16-, 8- and 4-float register blocks (and 6, 5 their tails);
  // T = 9, 13 leave 1 and 3 keys past a group of four.
  const cases: [number, number, number, number, number][] = [[2, 5, 4, 2, 6], [3, 7, 2, 2, 8], [1, 9, 6, 3, 4], [2, 4, 3, 1, 5],
    [2, 13, 4, 2, 32], [3, 9, 2, 1, 12], [1, 6, 3, 3, 20]];
  // Tolerance: float32 sums of ≤ T·HS terms and float32 exp against float64 throughout.
  const TOL = 1e-5;

  it.each(cases)('B=%i T=%i NH=%i NKV=%i HS=%i: forward, backward and decode match the references; 1 and 3 threads agree', async (B, T, NH, NKV, HS) => {
    const nq = B * T * NH * HS, nkv = B * T * NKV * HS, na = B * NH * T * T;
    const seed = B * 10000 + T * 1000 + NH * 100 + NKV * 10 + HS;
    const q = randArray(nq, seed), k = randArray(nkv, seed + 1), v = randArray(nkv, seed + 2), dout = randArray(nq, seed + 3);
    const outs: Float32Array[][] = [];
    for (const threads of [1, 3]) {
      const be = await SimdCpuBackend.create({ threads });
      const [tq, tk, tv, tdout] = await Promise.all([q, k, v, dout].map((d) => withData(be, d)));
      const out = be.alloc('out', nq), att = be.alloc('att', na);
      be.attentionForward(out, att, tq, tk, tv, B, T, NH, NKV, HS);
      const dq = be.alloc('dq', nq), dk = be.alloc('dk', nkv), dv = be.alloc('dv', nkv), scratch = be.alloc('scratch', na);
      be.attentionBackward(dq, dk, dv, scratch, tdout, tq, tk, tv, att, B, T, NH, NKV, HS);
      // decode: the last Tq = 2 positions against a cache of Tmax = T + 3 rows holding the first T
      const Tq = 2, Tmax = T + 3, pos0 = T - Tq;
      const kc = be.alloc('kc', B * Tmax * NKV * HS), vc = be.alloc('vc', B * Tmax * NKV * HS);
      be.kvWrite(kc, tk, B, T, 0, Tmax, NKV * HS);
      be.kvWrite(vc, tv, B, T, 0, Tmax, NKV * HS);
      const qd = be.alloc('qd', B * Tq * NH * HS), od = be.alloc('od', B * Tq * NH * HS);
      const qLast = new Float32Array(B * Tq * NH * HS);
      for (let b = 0; b < B; b++) qLast.set(q.subarray((b * T + pos0) * NH * HS, (b * T + T) * NH * HS), b * Tq * NH * HS);
      be.upload(qd, qLast);
      be.attentionDecode(od, qd, kc, vc, B, Tq, pos0, Tmax, NH, NKV, HS);
      outs.push(await Promise.all([out, att, dq, dk, dv, scratch, od].map((t) => be.read(t))));
    }
    outs[1].forEach((x, i) => expect(same(x, outs[0][i])).toBe(true));
    const [out, att, dq, dk, dv, scratch, od] = outs[0];
    const rOut = new Float64Array(nq), rAtt = new Float64Array(na);
    attentionForward(rOut, rAtt, f64(q), f64(k), f64(v), B, T, NH, NKV, HS);
    expect(relErr(out, rOut)).toBeLessThan(TOL);
    expect(relErr(att, rAtt)).toBeLessThan(TOL);
    const rdq = new Float64Array(nq), rdk = new Float64Array(nkv), rdv = new Float64Array(nkv), rs = new Float64Array(na);
    attentionBackward(rdq, rdk, rdv, rs, f64(dout), f64(q), f64(k), f64(v), rAtt, B, T, NH, NKV, HS);
    for (const [got, want] of [[dq, rdq], [dk, rdk], [dv, rdv], [scratch, rs]] as const) expect(relErr(got, want)).toBeLessThan(TOL);
    // decode of the last Tq positions equals the forward's rows for them
    const Tq = 2, pos0 = T - Tq, wantD = new Float64Array(B * Tq * NH * HS);
    for (let b = 0; b < B; b++) wantD.set(rOut.subarray((b * T + pos0) * NH * HS, (b * T + T) * NH * HS), b * Tq * NH * HS);
    expect(relErr(od, wantD)).toBeLessThan(TOL);
    const rd = new Float64Array(B * Tq * NH * HS), Tmax = T + 3;
    const kc = new Float64Array(B * Tmax * NKV * HS), vc = new Float64Array(B * Tmax * NKV * HS);
    for (let b = 0; b < B; b++) {
      kc.set(k.subarray(b * T * NKV * HS, (b + 1) * T * NKV * HS), b * Tmax * NKV * HS);
      vc.set(v.subarray(b * T * NKV * HS, (b + 1) * T * NKV * HS), b * Tmax * NKV * HS);
    }
    const qLast = new Float64Array(B * Tq * NH * HS);
    for (let b = 0; b < B; b++) qLast.set(q.subarray((b * T + pos0) * NH * HS, (b * T + T) * NH * HS), b * Tq * NH * HS);
    attentionDecode(rd, qLast, kc, vc, B, Tq, pos0, Tmax, NH, NKV, HS);
    expect(relErr(od, rd)).toBeLessThan(TOL);
  });

  it.each([[2, 5, 3, 1, 8, 1], [40, 37, 4, 2, 32, 2]])('rope equals the reference bit for bit, queries and keys, both directions (B=%i T=%i NH=%i NKV=%i HS=%i, %i threads)', async (B, T, NH, NKV, HS, threads) => {
    const be = await SimdCpuBackend.create({ threads });
    const nq = B * T * NH * HS, nk = B * T * NKV * HS;
    const q = randArray(nq, 7), k = randArray(nk, 8);
    const tq = await withData(be, q), tk = await withData(be, k), qo = be.alloc('qo', nq), ko = be.alloc('ko', nk);
    for (const inverse of [false, true]) {
      be.rope(qo, tq, ko, tk, B, T, NH, NKV, HS, 10000, 3, inverse);
      const wq = new Float32Array(nq), wk = new Float32Array(nk);
      rope(wq, q, B, T, NH, HS, 10000, 3, inverse);
      rope(wk, k, B, T, NKV, HS, 10000, 3, inverse);
      expect(same(await be.read(qo), wq)).toBe(true);
      expect(same(await be.read(ko), wk)).toBe(true);
    }
  });

  it('kvWrite equals the reference bit for bit', async () => {
    const be = await SimdCpuBackend.create({ threads: 1 });
    const B = 3, Tq = 2, Tmax = 7, W = 5, pos0 = 4;
    const x = randArray(B * Tq * W, 9), start = randArray(B * Tmax * W, 10);
    const tc = await withData(be, start), tx = await withData(be, x);
    be.kvWrite(tc, tx, B, Tq, pos0, Tmax, W);
    const want = start.slice();
    kvWrite(want, x, B, Tq, pos0, Tmax, W);
    expect(same(await be.read(tc), want)).toBe(true);
    expect(() => be.kvWrite(tc, tx, B, Tq, 6, Tmax, W)).toThrow(/outside/);
  });

  it('rejects heads that do not group and a decode past the cache', async () => {
    const be = await SimdCpuBackend.create({ threads: 1 });
    const t = () => be.alloc('t', 64);
    expect(() => be.attentionForward(t(), t(), t(), t(), t(), 1, 2, 3, 2, 4)).toThrow(/not a multiple/);
    expect(() => be.attentionDecode(t(), t(), t(), t(), 1, 2, 3, 4, 2, 2, 4)).toThrow(/exceeds Tmax/);
  });
});

describe('SIMD CPU sampler', () => {
  it.each([[0.7, 1], [1.5, 1], [1, 0.9], [0.3, 0.5]])('temperature %f, top-p %f: ids, log-probs and entropies equal the reference bit for bit', async (temperature, topP) => {
    const be = await SimdCpuBackend.create({ threads: 1 });
    const B = 37, V = 99, steps = 3, offset = 1, Tmax = 9;
    const logits = randArray(B * V, 21, 4);
    logits[5] = 60; logits[V + 7] = -60; // a peaked row and a tiny probability
    const tl = await withData(be, logits), ids = be.alloc('ids', B, 'i32'), lp = be.alloc('lp', B * steps), en = be.alloc('en', B * steps);
    const col = be.alloc('col', B * Tmax, 'i32');
    be.sample(ids, lp, en, tl, B, V, temperature, topP, 12345, offset, steps, { tokens: col, offset: 4, stride: Tmax });
    const wIds = new Int32Array(B), wLp = new Float32Array(B * steps), wEn = new Float32Array(B * steps);
    sample(wIds, wLp, wEn, logits, B, V, temperature, topP, 12345, offset, steps);
    expect(Array.from(await be.readInt(ids))).toEqual(Array.from(wIds));
    expect(same(await be.read(lp), wLp)).toBe(true);
    expect(same(await be.read(en), wEn)).toBe(true);
    const c = await be.readInt(col);
    for (let b = 0; b < B; b++) expect(c[b * Tmax + 4]).toBe(wIds[b]);
    expect(() => be.sample(ids, lp, en, tl, B, V, 0, 1, 1, 0, steps, { tokens: col, offset: 0, stride: Tmax })).toThrow(/temperature/);
  });
});

describe('SIMD CPU exp (expf.ts, used by SwiGLU and the softmax)', () => {
  it('is within 2 ulp of e^x over the float32 range; overflow, underflow and NaN as expf', async () => {
    const be = await SimdCpuBackend.create({ threads: 1 });
    const xs: number[] = [];
    for (let x = -104; x <= 88.7; x += 0.00731) xs.push(x);
    xs.push(0, -0, 1e-30, -1e-30, 88.72, 88.7228, -87.3, -87.34, -100, -103.9, 0.5, -0.5, Math.LN2, 20 * Math.LN2);
    const n = xs.length + 3; // n % 4 ≠ 0: a tail
    const src = new Float32Array(n);
    src.set(xs);
    src[n - 3] = 89; src[n - 2] = -105; src[n - 1] = Number.NaN;
    const ts = await withData(be, src), td = be.alloc('d', n);
    const addr = (t: object) => (t as { addr: number }).addr; // a SimdTensor's byte address in the kernels' memory
    be.rt.kernels.exps(addr(td), addr(ts), n);
    const got = await be.read(td);
    const ulp = (y: number) => { // float32 spacing at |y| (subnormals: 2^-149)
      const e = Math.max(Math.floor(Math.log2(Math.abs(y))), -126);
      return 2 ** (e - 23);
    };
    let worst = 0;
    for (let i = 0; i < n - 3; i++) {
      const want = Math.exp(src[i]);
      if (want > 3.4028234663852886e38) { expect(got[i]).toBe(Infinity); continue; }
      worst = Math.max(worst, Math.abs(got[i] - want) / ulp(want));
    }
    expect(worst).toBeLessThanOrEqual(2);
    expect(got[n - 3]).toBe(Infinity);
    expect(got[n - 2]).toBe(0);
    expect(Number.isNaN(got[n - 1])).toBe(true);
  });
});

describe('SIMD CPU SwiGLU', () => {
  it.each([5, 70001])('n=%i: forward and backward within float32 rounding of the reference; 1 and 2 threads agree', async (n) => {
    const gate = randArray(n, 1, 3), up = randArray(n, 2), dout = randArray(n, 3);
    gate[0] = 95; gate[n - 1] = -95; // e^±95 overflows float32: σ saturates to 1 and 0
    const got: Float32Array[][] = [];
    for (const threads of [1, 2]) {
      const be = await SimdCpuBackend.create({ threads });
      const [g, u, d] = await Promise.all([gate, up, dout].map((x) => withData(be, x)));
      const out = be.alloc('out', n), dg = be.alloc('dg', n), du = be.alloc('du', n);
      be.swigluForward(out, g, u, n);
      be.swigluBackward(dg, du, d, g, u, n);
      got.push(await Promise.all([out, dg, du].map((t) => be.read(t))));
    }
    got[1].forEach((x, i) => expect(same(x, got[0][i])).toBe(true));
    const out = new Float64Array(n), dg = new Float64Array(n), du = new Float64Array(n);
    swigluForward(out, Float64Array.from(gate), Float64Array.from(up), n);
    swigluBackward(dg, du, Float64Array.from(dout), Float64Array.from(gate), Float64Array.from(up), n);
    // a few float32 roundings per entry (expf is within 1 ulp)
    for (const [a, b] of [[got[0][0], out], [got[0][1], dg], [got[0][2], du]] as const) expect(relErr(a, b)).toBeLessThan(1e-6);
  });
});

describe('SIMD CPU rows', () => {
  it.each([[3, 5], [70, 130], [600, 128]])('N=%i C=%i: rmsnorm forward within float32 rounding, add bit for bit; threads agree', async (N, C) => {
    const x = randArray(N * C, 1), w = randArray(C, 2), y = randArray(N * C, 3);
    const got: Float32Array[][] = [];
    for (const threads of [1, 2]) {
      const be = await SimdCpuBackend.create({ threads });
      const [tx, tw, ty] = await Promise.all([x, w, y].map((d) => withData(be, d)));
      const out = be.alloc('out', N * C), rstd = be.alloc('rstd', N), sum = be.alloc('sum', N * C);
      be.rmsnormForward(out, rstd, tx, tw, N, C, 1e-6);
      be.add(sum, tx, ty, N * C);
      be.add(ty, ty, tx, N * C); // out aliasing a
      got.push(await Promise.all([out, rstd, sum, ty].map((t) => be.read(t))));
    }
    got[1].forEach((v, i) => expect(same(v, got[0][i])).toBe(true));
    const out = new Float64Array(N * C), rstd = new Float64Array(N);
    rmsnormForward(out, rstd, Float64Array.from(x), Float64Array.from(w), N, C, 1e-6);
    // a C-term float32 sum of squares (all positive: relative error ≤ C·2⁻²⁴) and two products
    expect(relErr(got[0][0], out)).toBeLessThan(1e-6 * (1 + C / 16));
    expect(relErr(got[0][1], rstd)).toBeLessThan(1e-6 * (1 + C / 16));
    const sum = new Float32Array(N * C);
    add(sum, x, y, N * C);
    expect(same(got[0][2], sum)).toBe(true);
    expect(same(got[0][3], sum)).toBe(true);
  });

  it.each([[3, 5], [70, 130], [600, 128], [1100, 70]])('N=%i C=%i: rmsnorm backward (input and weight) within float32 rounding of the reference; threads agree', async (N, C) => {
    const x = randArray(N * C, 4), w = randArray(C, 5), dout = randArray(N * C, 6), dinp0 = randArray(N * C, 7), dw0 = randArray(C, 8);
    const rstd = new Float32Array(N);
    for (let n = 0; n < N; n++) rstd[n] = 0.5 + (n % 7) / 7;
    const got: Float32Array[][] = [];
    for (const threads of [1, 2, 3]) {
      const be = await SimdCpuBackend.create({ threads });
      const [tx, tw, tg, tr, td, tdw] = await Promise.all([x, w, dout, rstd, dinp0, dw0].map((d) => withData(be, d)));
      be.rmsnormBackwardInput(td, tg, tx, tw, tr, N, C);
      be.rmsnormBackwardWeight(tdw, tg, tx, tr, N, C);
      got.push(await Promise.all([td, tdw].map((t) => be.read(t))));
    }
    for (const g of got.slice(1)) g.forEach((v, i) => expect(same(v, got[0][i])).toBe(true));
    const dinp = Float64Array.from(dinp0), dw = Float64Array.from(dw0);
    rmsnormBackwardInput(dinp, Float64Array.from(dout), Float64Array.from(x), Float64Array.from(w), Float64Array.from(rstd), N, C);
    rmsnormBackwardWeight(dw, Float64Array.from(dout), Float64Array.from(x), Float64Array.from(rstd), N, C);
    // a C-term float32 dot per row (and a few products); an N-term float32 sum per column
    expect(relErr(got[0][0], dinp)).toBeLessThan(1e-6 * (1 + C / 16));
    expect(relErr(got[0][1], dw)).toBeLessThan(1e-6 * (1 + N / 16));
  });

  it('transposes every shape exactly (4×4 blocks and edges), seen through matmulForward', async () => {
    // matmulForward transposes w first; a one-hot input row reads back one column of wᵀ, i.e. w's rows.
    const be = await SimdCpuBackend.create({ threads: 1 });
    for (const [C, OC] of [[1, 1], [3, 5], [4, 4], [7, 9], [12, 17]]) {
      const w = randArray(OC * C, C * 100 + OC);
      const eye = new Float32Array(C * C);
      for (let i = 0; i < C; i++) eye[i * C + i] = 1;
      const tw = await withData(be, w), tx = await withData(be, eye), out = be.alloc('out', C * OC);
      be.matmulForward(out, tx, tw, null, C, C, OC);
      const got = await be.read(out), want = new Float32Array(C * OC);
      for (let i = 0; i < C; i++) for (let o = 0; o < OC; o++) want[i * OC + o] = w[o * C + i];
      expect(same(got, want)).toBe(true);
    }
  });
});
