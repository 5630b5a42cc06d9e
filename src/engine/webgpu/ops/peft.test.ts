// The PEFT building blocks on the GPU (Dawn; SwiftShader in CI) against the independent CPU
// references in ../../ref/peft.ref.ts, run in float64 on the same float32 inputs, on odd small
// shapes (N=10, OC=7, C=13, R=3; R not dividing C; R=1; R>C; N=300 and N=1000 to cross the
// 256-row chunks of the column reduction). Outputs start pre-filled with random values, so = and +=
// are both checked; reductions are run twice and compared bit for bit; dropout is compared bit
// for bit with the reference (and with the CPU backend).
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../backend.ts';
import { CpuBackend } from '../../cpu/backend.ts';
import * as ref from '../../ref/peft.ref.ts';
import { randArray, relErr, sub } from '../../ref/testutil.ts';
import type { WebGpuBackend } from '../backend.ts';
import { testGpu } from '../testing.ts';

let seed = 100;
const data = (n: number): Float32Array => randArray(n, seed++);
const f64 = (x: Float32Array): Float64Array => Float64Array.from(x);
/** Bit patterns, so exactness checks see -0 vs 0 and NaN payloads. */
const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

function put(gpu: WebGpuBackend, label: string, x: Float32Array): Tensor {
  const t = gpu.alloc(label, x.length);
  gpu.upload(t, x);
  return t;
}

describe('scaleCols', () => {
  // Relative L2 against float64: one multiply and one or two adds per element, ~1e-7.
  const TOL = 1e-5;
  const shapes: [number, number][] = [[10, 7], [1, 1], [300, 13], [5, 300]];
  for (const [N, OC] of shapes) {
    for (const withBias of [false, true]) {
      for (const accumulate of [false, true]) {
        it(`N=${N} OC=${OC}${withBias ? ' + bias' : ''}, ${accumulate ? '+=' : '='}`, async () => {
          const gpu = await testGpu();
          const inp = data(N * OC), s = data(OC), bias = data(OC), prior = data(N * OC);
          const tOut = put(gpu, 'out', prior);
          gpu.scaleCols(tOut, put(gpu, 'inp', inp), put(gpu, 's', s), withBias ? put(gpu, 'bias', bias) : null, N, OC, accumulate);
          const want = f64(prior);
          ref.scaleCols(want, f64(inp), f64(s), withBias ? f64(bias) : null, N, OC, accumulate);
          const got = await gpu.read(tOut);
          expect(relErr(got, want)).toBeLessThan(TOL);
          if (accumulate) expect(relErr(sub(got, prior), sub(want, prior))).toBeLessThan(TOL);
        });
      }
    }
  }

  it('rejects out aliasing inp', async () => {
    const gpu = await testGpu();
    const t = put(gpu, 'x', data(6)), s = put(gpu, 's', data(3));
    expect(() => gpu.scaleCols(t, t, s, null, 2, 3, false)).toThrow(/alias/);
  });
});

describe('scaleColsBackward (column reduction over rows)', () => {
  // Relative L2 of what was added: float32 sums of ≤ 1000 unit-scale products, ~1e-7·√N.
  const TOL = 1e-5;
  const shapes: [number, number][] = [[10, 7], [1, 1], [256, 5], [300, 13], [1000, 70], [2000, 3]];
  for (const [N, OC] of shapes) {
    it(`N=${N} OC=${OC}: ds += Σ_n dout·inp, bitwise reproducible`, async () => {
      const gpu = await testGpu();
      const dout = data(N * OC), inp = data(N * OC), prior = data(OC);
      const tDout = put(gpu, 'dout', dout), tInp = put(gpu, 'inp', inp);
      const tDs = put(gpu, 'ds', prior);
      gpu.scaleColsBackward(tDs, tDout, tInp, N, OC);
      const got = await gpu.read(tDs);
      const want = f64(prior);
      ref.scaleColsBackward(want, f64(dout), f64(inp), N, OC);
      expect(relErr(sub(got, prior), sub(want, prior))).toBeLessThan(TOL);
      expect(relErr(got, want)).toBeLessThan(TOL);

      gpu.upload(tDs, prior);
      gpu.scaleColsBackward(tDs, tDout, tInp, N, OC);
      expect(bits(await gpu.read(tDs))).toEqual(bits(got));
    });
  }

  it('two calls accumulate twice (the scratch reused across calls)', async () => {
    const gpu = await testGpu();
    const N = 600, OC = 9;
    const dout = data(N * OC), inp = data(N * OC), prior = data(OC);
    const tDs = put(gpu, 'ds', prior), tDout = put(gpu, 'dout', dout), tInp = put(gpu, 'inp', inp);
    gpu.scaleColsBackward(tDs, tDout, tInp, N, OC);
    gpu.scaleColsBackward(tDs, tDout, tInp, N, OC);
    const want = f64(prior);
    ref.scaleColsBackward(want, f64(dout), f64(inp), N, OC);
    ref.scaleColsBackward(want, f64(dout), f64(inp), N, OC);
    expect(relErr(sub(await gpu.read(tDs), prior), sub(want, prior))).toBeLessThan(TOL);
  });
});

describe('rowNorm', () => {
  const TOL = 1e-5; // relative L2: a float32 sum of ≤ 300 squares and a square root
  const shapes: [number, number][] = [[10, 13], [1, 1], [7, 300], [300, 7], [3, 0]];
  for (const [N, C] of shapes) {
    it(`N=${N} C=${C}, = (bitwise reproducible)`, async () => {
      const gpu = await testGpu();
      const x = data(N * C);
      const tOut = put(gpu, 'out', data(N)), tX = put(gpu, 'x', x);
      gpu.rowNorm(tOut, tX, N, C);
      const got = await gpu.read(tOut);
      const want = new Float64Array(N);
      ref.rowNorm(want, f64(x), N, C);
      expect(relErr(got, want)).toBeLessThan(TOL);
      gpu.rowNorm(tOut, tX, N, C);
      expect(bits(await gpu.read(tOut))).toEqual(bits(got));
    });
  }
});

describe('div', () => {
  const TOL = 1e-5; // relative L2: WGSL's f32 division is within 2.5 ulp
  for (const n of [10, 1, 1000]) {
    for (const accumulate of [false, true]) {
      it(`n=${n}, ${accumulate ? '+=' : '='}`, async () => {
        const gpu = await testGpu();
        const a = data(n), b = data(n).map((v) => (v >= 0 ? v + 0.25 : v - 0.25)), prior = data(n);
        const tOut = put(gpu, 'out', prior);
        gpu.div(tOut, put(gpu, 'a', a), put(gpu, 'b', b), n, accumulate);
        const want = f64(prior);
        ref.div(want, f64(a), f64(b), n, accumulate);
        const got = await gpu.read(tOut);
        expect(relErr(got, want)).toBeLessThan(TOL);
        if (accumulate) expect(relErr(sub(got, prior), sub(want, prior))).toBeLessThan(TOL);
      });
    }
  }
});

describe('chunkSum and chunkSumBackward (MiSS)', () => {
  const TOL = 1e-5; // relative L2: float32 sums of ≤ 13 terms; the backward is a gather (exact)
  const shapes: [number, number, number][] = [[10, 13, 3], [10, 12, 4], [10, 13, 1], [3, 5, 8], [2, 6, 6], [300, 13, 3], [1, 1, 1]];
  for (const [N, C, R] of shapes) {
    it(`N=${N} C=${C} R=${R}: forward =, backward = and +=`, async () => {
      const gpu = await testGpu();
      const x = data(N * C), dxbar = data(N * R), dxPrior = data(N * C);
      const tXbar = put(gpu, 'xbar', data(N * R)), tX = put(gpu, 'x', x), tDxbar = put(gpu, 'dxbar', dxbar);
      const tDxSet = put(gpu, 'dx=', dxPrior), tDxAcc = put(gpu, 'dx+=', dxPrior);
      gpu.chunkSum(tXbar, tX, N, C, R);
      gpu.chunkSumBackward(tDxSet, tDxbar, N, C, R, false);
      gpu.chunkSumBackward(tDxAcc, tDxbar, N, C, R, true);
      const xbar = await gpu.read(tXbar);

      const wantXbar = new Float64Array(N * R);
      ref.chunkSum(wantXbar, f64(x), N, C, R);
      expect(relErr(xbar, wantXbar)).toBeLessThan(TOL);
      const wantSet = f64(dxPrior), wantAcc = f64(dxPrior);
      ref.chunkSumBackward(wantSet, f64(dxbar), N, C, R, false);
      ref.chunkSumBackward(wantAcc, f64(dxbar), N, C, R, true);
      expect(relErr(await gpu.read(tDxSet), wantSet)).toBe(0); // a gather is exact
      const acc = await gpu.read(tDxAcc);
      expect(relErr(acc, wantAcc)).toBeLessThan(TOL);
      expect(relErr(sub(acc, dxPrior), sub(wantAcc, dxPrior))).toBeLessThan(TOL);

      gpu.chunkSum(tXbar, tX, N, C, R);
      expect(bits(await gpu.read(tXbar))).toEqual(bits(xbar));
    });
  }
});

describe('dropout (exact: the GPU and the CPU share one integer hash)', () => {
  const cases: [n: number, p: number, seed: number][] = [
    [10, 0.5, 1], [1, 0.1, 0], [1000, 0.1, 42], [1000, 1 / 3, 0xffffffff], [70000, 0.9, 12345], [777, 0.9999999, 7],
    [300, 0.5, -5], [64, 1, 3],
  ];
  for (const [n, p, s] of cases) {
    it(`n=${n} p=${p} seed=${s}: bit-identical to the reference and the CPU backend`, async () => {
      const gpu = await testGpu();
      const inp = data(n);
      const tOut = put(gpu, 'out', data(n));
      gpu.dropout(tOut, put(gpu, 'inp', inp), n, p, s);
      const got = await gpu.read(tOut);
      const want = new Float32Array(n);
      ref.dropout(want, inp, n, p, s);
      expect(bits(got)).toEqual(bits(want));

      const cpu = new CpuBackend();
      const cIn = cpu.alloc('inp', n), cOut = cpu.alloc('out', n);
      cpu.upload(cIn, inp);
      cpu.dropout(cOut, cIn, n, p, s);
      expect(bits(await cpu.read(cOut))).toEqual(bits(got));
    });
  }

  it('p = 0 copies; in place equals out of place; the mask follows the seed', async () => {
    const gpu = await testGpu();
    const n = 500;
    const inp = data(n);
    const tIn = put(gpu, 'inp', inp), tOut = put(gpu, 'out', data(n));
    gpu.dropout(tOut, tIn, n, 0, 9);
    expect(bits(await gpu.read(tOut))).toEqual(bits(inp));

    gpu.dropout(tOut, tIn, n, 0.4, 9);
    const outOfPlace = await gpu.read(tOut);
    const tInPlace = put(gpu, 'x', inp);
    gpu.dropout(tInPlace, tInPlace, n, 0.4, 9);
    expect(bits(await gpu.read(tInPlace))).toEqual(bits(outOfPlace));
    gpu.dropout(tInPlace, tInPlace, n, 0, 9); // p = 0 in place: nothing to do
    expect(bits(await gpu.read(tInPlace))).toEqual(bits(outOfPlace));

    gpu.dropout(tOut, tIn, n, 0.4, 10);
    expect(bits(await gpu.read(tOut))).not.toEqual(bits(outOfPlace));
    expect(() => gpu.dropout(tOut, tIn, n, 1.5, 9)).toThrow(RangeError);
    expect(() => gpu.dropout(tOut, tIn, n, 0.5, 1.5)).toThrow(RangeError);
  });

  it('p exactly at an element\'s draw keeps it; p a hair above (closer than float32 resolves) drops it', async () => {
    const gpu = await testGpu();
    const n = 64, s = 5;
    const x = data(n);
    const tX = put(gpu, 'x', x), tY = gpu.alloc('y', n);
    for (let i = 0; i < 4; i++) {
      const u = ref.pcgHash((i ^ ref.pcgHash(s)) >>> 0) >>> 8; // element i's 24-bit draw
      for (const p of [u / 16777216, (u + 1 / 4096) / 16777216]) {
        if (p >= 1) continue;
        gpu.dropout(tY, tX, n, p, s);
        const got = await gpu.read(tY);
        const want = new Float32Array(n);
        ref.dropout(want, x, n, p, s);
        expect(bits(got)).toEqual(bits(want));
        expect(got[i] !== 0).toBe(p === u / 16777216 && x[i] !== 0);
      }
    }
  });

  it('backward is the same call on the gradient: dinp = dout where kept, scaled, else 0', async () => {
    const gpu = await testGpu();
    const n = 333, p = 0.25, s = 77;
    const x = data(n), dout = data(n);
    const tX = put(gpu, 'x', x), tY = gpu.alloc('y', n), tDout = put(gpu, 'dout', dout), tDx = gpu.alloc('dx', n);
    gpu.dropout(tY, tX, n, p, s);
    gpu.dropout(tDx, tDout, n, p, s);
    const y = await gpu.read(tY), dx = await gpu.read(tDx);
    const k = Math.fround(1 / (1 - p));
    for (let i = 0; i < n; i++) {
      const kept = ref.dropoutKeep(s, i, p);
      expect(y[i]).toBe(kept ? Math.fround(x[i] * k) : 0);
      expect(dx[i]).toBe(kept ? Math.fround(dout[i] * k) : 0);
    }
  });
});
