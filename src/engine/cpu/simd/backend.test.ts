// The SIMD CPU backend's matmuls:
// - against the float64 references (matmul.ref.ts) on odd shapes that reach every tile and tail
//   path, within float32 rounding of a K-term sum;
// - bit for bit against a plain float32 loop that states the arithmetic the kernels promise (one
//   sequential float32 sum per output, separate multiply and add, then scale, bias, accumulate);
// - bit-identical with 1, 2 and 3 threads, per op and for a whole model's forward and backward.
import { describe, expect, it } from 'vitest';
import { matmulBackwardInput, matmulBackwardWeight, matmulForward } from '../../ref/matmul.ref.ts';
import { randArray, relErr } from '../../ref/testutil.ts';
import { namedConfig, randomWeights } from '../../../model/init.ts';
import { Model } from '../../../model/model.ts';
import { CpuBackend } from '../backend.ts';
import { SimdCpuBackend } from './backend.ts';

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

// Shapes: tails in every dimension (rows mod 4, columns mod 8 and mod 4), K = 0, one row, and K long
// enough (> 512) for the blocked path with partial sums.
const shapes: [number, number, number][] = [[1, 1, 1], [3, 5, 7], [2, 8, 4], [7, 13, 6], [9, 16, 33], [16, 64, 99], [5, 0, 3], [37, 600, 21], [130, 19, 70]];

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

  it('gives the same bits with 1, 2 and 3 threads', async () => {
    const N = 301, C = 96, OC = 200; // large enough to be split into tasks
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
    const cfg = namedConfig('tiny', 99, 64);
    const B = 3, T = 11;
    const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % 99), targets = Int32Array.from({ length: B * T }, (_, i) => (i % 5 === 0 ? -1 : (i * 13) % 99));
    const run = async (be: CpuBackend) => {
      const m = new Model(be, cfg, randomWeights(cfg, 3));
      m.zeroGrads();
      const logp = await be.read(m.forward(ids, targets, B, T).logp);
      m.backward(Float32Array.from({ length: B * T }, (_, i) => (i % 3) - 1));
      return [logp, ...(await Promise.all([...m.grads.values()].map((g) => be.read(g))))];
    };
    const runs: Float32Array[][] = [];
    for (const threads of [1, 2, 3]) runs.push(await run(await SimdCpuBackend.create({ threads })));
    for (const r of runs.slice(1)) r.forEach((x, i) => expect(same(x, runs[0][i])).toBe(true));
    const ref = await run(new CpuBackend());
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
    const b = be.alloc('b', 1000);
    expect(be.rt.reservedBytes).toBe(before);
    expect((await be.read(b)).every((x) => x === 0)).toBe(true);
  });
});
