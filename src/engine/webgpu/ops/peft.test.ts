// The PEFT building blocks on the GPU (Dawn; SwiftShader in CI) against the independent CPU
// references in ../../ref/peft.ref.ts, run in float64 on the same float32 inputs, on odd small
// shapes (N=10, OC=7, C=13, R=3; R not dividing C; R=1; R>C; N=300 and N=1000 to cross the
// 256-row chunks of the column reduction). Outputs start pre-filled with random values, so = and +=
// are both checked; reductions are run twice and compared bit for bit; dropout is compared bit
// for bit with the reference (and with the CPU backend). The float ops go through checkOp
// (../op-test.ts); dropout, whose check is bit for bit against a float32 reference and the CPU
// backend, does not (checkOp compares values in float64, where -0 equals 0).
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../backend.ts';
import { CpuBackend } from '../../cpu/backend.ts';
import * as ref from '../../ref/peft.ref.ts';
import { randArray, relErr, sub } from '../../ref/testutil.ts';
import type { WebGpuBackend } from '../backend.ts';
import { acc, bits, checkOp, f64, out } from '../op-test.ts';
import { testGpu } from '../testing.ts';

let seed = 100;
const data = (n: number): Float32Array => randArray(n, seed++);

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
          // += is checked on the total and on what it added.
          await checkOp(await testGpu(), 'scaleCols', ref.scaleCols,
            [accumulate ? acc(data(N * OC)) : out(N * OC), data(N * OC), data(OC), withBias ? data(OC) : null, N, OC, accumulate], TOL);
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
      await checkOp(await testGpu(), 'scaleColsBackward', ref.scaleColsBackward, [acc(data(OC)), data(N * OC), data(N * OC), N, OC], TOL, { repeat: true });
    });
  }

  // Two calls into one output (checkOp runs the op once).
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
      await checkOp(await testGpu(), 'rowNorm', ref.rowNorm, [out(N), data(N * C), N, C], TOL, { repeat: true });
    });
  }
});

describe('div', () => {
  const TOL = 1e-5; // relative L2: WGSL's f32 division is within 2.5 ulp
  for (const n of [10, 1, 1000]) {
    for (const accumulate of [false, true]) {
      it(`n=${n}, ${accumulate ? '+=' : '='}`, async () => {
        const a = data(n), b = data(n).map((v) => (v >= 0 ? v + 0.25 : v - 0.25));
        await checkOp(await testGpu(), 'div', ref.div, [accumulate ? acc(data(n)) : out(n), a, b, n, accumulate], TOL);
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
      const dxbar = data(N * R), dxPrior = data(N * C);
      await checkOp(gpu, 'chunkSum', ref.chunkSum, [out(N * R), data(N * C), N, C, R], TOL, { repeat: true });
      await checkOp(gpu, 'chunkSumBackward', ref.chunkSumBackward, [out(N * C), dxbar, N, C, R, false], 0); // a gather is exact
      await checkOp(gpu, 'chunkSumBackward', ref.chunkSumBackward, [acc(dxPrior), dxbar, N, C, R, true], TOL);
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
