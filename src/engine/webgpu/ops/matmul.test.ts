// The linear-layer kernels on the GPU (Dawn; SwiftShader in CI) against the CPU references in
// float64, on odd small shapes, with and without bias, = and += semantics (outputs pre-filled with
// random values), through each kernel path: the default dispatch, each shape of the tiled kernel
// forced, the one-per-output kernel forced, with row-split reductions forced. Then the optional
// `scale` (≠ 1) and forward `accumulate` on LoRA-like skinny shapes, and a whole LoRA chain.
import { afterEach, describe, expect, it } from 'vitest';
import type { Tensor } from '../../backend.ts';
import * as ref from '../../ref/matmul.ref.ts';
import { randArray, relErr, sub } from '../../ref/testutil.ts';
import type { WebGpuBackend } from '../backend.ts';
import { testGpu } from '../testing.ts';
import { tuning } from './matmul.ts';

// Relative L2 error against a float64 reference: float32 sums of ≤ a few hundred unit-scale terms
// stay near 1e-7·√K; 1e-5 leaves room without hiding a wrong index.
const TOL = 1e-5;

type Shape = [N: number, C: number, OC: number];
const SHAPES: Shape[] = [[10, 12, 7], [1, 1, 1], [67, 33, 129], [5, 64, 3], [300, 2, 65], [200, 20, 70], [9, 17, 130]];

const DEFAULTS = { ...tuning };
// Each kernel path forced on every shape (minSplitRows lowered so the row reductions split too).
const PATHS: Record<string, Partial<typeof tuning>> = {
  default: {},
  'tiled 64×64': { smallDim: 0, forceTM: 16, minSplitRows: 16 },
  'tiled 256×16': { smallDim: 0, forceTM: 64, minSplitRows: 16 },
  'tiled 128×32': { smallDim: 0, forceTM: 32, minSplitRows: 16 },
  'tiled 32×128': { smallDim: 0, forceTM: 8, minSplitRows: 16 },
  'tiled 16×256': { smallDim: 0, forceTM: 4, minSplitRows: 16 },
  'one per output': { smallDim: Number.MAX_SAFE_INTEGER, minSplitRows: 16 },
};

afterEach(() => {
  Object.assign(tuning, DEFAULTS);
});

let seed = 1;
const data = (n: number): Float32Array => randArray(n, seed++);
const f64 = (x: Float32Array): Float64Array => Float64Array.from(x);

function put(gpu: WebGpuBackend, label: string, x: Float32Array): Tensor {
  const t = gpu.alloc(label, x.length);
  gpu.upload(t, x);
  return t;
}

describe.each(Object.entries(PATHS))('matmul kernels, %s path', (_name, path) => {
  for (const [N, C, OC] of SHAPES) {
    const shape = `N=${N} C=${C} OC=${OC}`;

    for (const withBias of [false, true]) {
      it(`forward ${shape}${withBias ? ' + bias' : ''}`, async () => {
        Object.assign(tuning, path);
        const gpu = await testGpu();
        const inp = data(N * C), w = data(OC * C), bias = data(OC), prior = data(N * OC);
        const tOut = put(gpu, 'out', prior);
        gpu.matmulForward(tOut, put(gpu, 'inp', inp), put(gpu, 'w', w), withBias ? put(gpu, 'bias', bias) : null, N, C, OC);
        const want = new Float64Array(N * OC);
        ref.matmulForward(want, f64(inp), f64(w), withBias ? f64(bias) : null, N, C, OC);
        expect(relErr(await gpu.read(tOut), want)).toBeLessThan(TOL);
      });
    }

    for (const accumulate of [false, true]) {
      it(`backward input ${shape}, ${accumulate ? '+=' : '='}`, async () => {
        Object.assign(tuning, path);
        const gpu = await testGpu();
        const dout = data(N * OC), w = data(OC * C), prior = data(N * C);
        const tDinp = put(gpu, 'dinp', prior);
        gpu.matmulBackwardInput(tDinp, put(gpu, 'dout', dout), put(gpu, 'w', w), N, C, OC, accumulate);
        const want = f64(prior);
        ref.matmulBackwardInput(want, f64(dout), f64(w), N, C, OC, accumulate);
        expect(relErr(await gpu.read(tDinp), want)).toBeLessThan(TOL);
      });
    }

    it(`backward weight ${shape}, +=`, async () => {
      Object.assign(tuning, path);
      const gpu = await testGpu();
      const dout = data(N * OC), inp = data(N * C), prior = data(OC * C);
      const tDw = put(gpu, 'dw', prior);
      gpu.matmulBackwardWeight(tDw, put(gpu, 'dout', dout), put(gpu, 'inp', inp), N, C, OC);
      const want = f64(prior);
      ref.matmulBackwardWeight(want, f64(dout), f64(inp), N, C, OC);
      expect(relErr(await gpu.read(tDw), want)).toBeLessThan(TOL);
    });

    it(`bias backward ${shape}, +=`, async () => {
      Object.assign(tuning, path);
      const gpu = await testGpu();
      const dout = data(N * OC), prior = data(OC);
      const tDb = put(gpu, 'dbias', prior);
      gpu.biasBackward(tDb, put(gpu, 'dout', dout), N, OC);
      const want = f64(prior);
      ref.biasBackward(want, f64(dout), N, OC);
      expect(relErr(await gpu.read(tDb), want)).toBeLessThan(TOL);
    });
  }
});

describe('matmul kernels, tall inputs (row reductions split many ways)', () => {
  const TALL: Shape[] = [[20000, 5, 3], [4096, 16, 16], [3000, 70, 1], [1000, 40, 24]];
  for (const [N, C, OC] of TALL) {
    it(`all four ops, N=${N} C=${C} OC=${OC}`, async () => {
      const gpu = await testGpu();
      const inp = data(N * C), w = data(OC * C), bias = data(OC), dout = data(N * OC);
      const dwPrior = data(OC * C), dbPrior = data(OC);
      const tInp = put(gpu, 'inp', inp), tW = put(gpu, 'w', w), tDout = put(gpu, 'dout', dout);
      const tOut = gpu.alloc('out', N * OC), tDinp = gpu.alloc('dinp', N * C);
      const tDw = put(gpu, 'dw', dwPrior), tDb = put(gpu, 'dbias', dbPrior);
      gpu.matmulForward(tOut, tInp, tW, put(gpu, 'bias', bias), N, C, OC);
      gpu.matmulBackwardInput(tDinp, tDout, tW, N, C, OC, false);
      gpu.matmulBackwardWeight(tDw, tDout, tInp, N, C, OC);
      gpu.biasBackward(tDb, tDout, N, OC);

      const out = new Float64Array(N * OC), dinp = new Float64Array(N * C), dw = f64(dwPrior), db = f64(dbPrior);
      ref.matmulForward(out, f64(inp), f64(w), f64(bias), N, C, OC);
      ref.matmulBackwardInput(dinp, f64(dout), f64(w), N, C, OC, false);
      ref.matmulBackwardWeight(dw, f64(dout), f64(inp), N, C, OC);
      ref.biasBackward(db, f64(dout), N, OC);
      expect(relErr(await gpu.read(tOut), out)).toBeLessThan(TOL);
      expect(relErr(await gpu.read(tDinp), dinp)).toBeLessThan(TOL);
      expect(relErr(await gpu.read(tDw), dw)).toBeLessThan(TOL);
      expect(relErr(await gpu.read(tDb), db)).toBeLessThan(TOL);
    });
  }

  it('weight gradient whose split scratch outgrows the one made so far', async () => {
    const gpu = await testGpu();
    const N = 2000, C = 128, OC = 130; // ~25 splits of 80 rows × 16640 outputs
    const dout = data(N * OC), inp = data(N * C), prior = data(OC * C);
    const tDw = put(gpu, 'dw', prior);
    gpu.matmulBackwardWeight(tDw, put(gpu, 'dout', dout), put(gpu, 'inp', inp), N, C, OC);
    const want = f64(prior);
    ref.matmulBackwardWeight(want, f64(dout), f64(inp), N, C, OC);
    expect(relErr(await gpu.read(tDw), want)).toBeLessThan(TOL);
  });

  it('split reductions are bitwise reproducible', async () => {
    const gpu = await testGpu();
    const N = 5000, C = 24, OC = 20;
    const tDout = put(gpu, 'dout', data(N * OC)), tInp = put(gpu, 'inp', data(N * C));
    const runs: Float32Array[] = [];
    for (let r = 0; r < 2; r++) {
      const tDw = gpu.alloc('dw', OC * C), tDb = gpu.alloc('dbias', OC);
      gpu.zero(tDw);
      gpu.zero(tDb);
      gpu.matmulBackwardWeight(tDw, tDout, tInp, N, C, OC);
      gpu.biasBackward(tDb, tDout, N, OC);
      runs.push(new Float32Array([...(await gpu.read(tDw)), ...(await gpu.read(tDb))]));
    }
    expect(runs[1]).toEqual(runs[0]);
  });
});

// LoRA's shapes in miniature: the down-projection x·Aᵀ (OC = R), the up-projection xa·Bᵀ (C = R),
// and a rank-16 one that takes the skinny tiles by default.
const LORA_SHAPES: Shape[] = [[300, 13, 3], [300, 3, 13], [10, 7, 1], [67, 33, 16], [200, 16, 70]];

describe.each(Object.entries(PATHS))('matmul kernels with scale and forward accumulate, %s path', (_name, path) => {
  for (const [N, C, OC] of LORA_SHAPES) {
    it(`N=${N} C=${C} OC=${OC}: forward (= + bias, +=), backward input (=, +=), backward weight`, async () => {
      Object.assign(tuning, path);
      const gpu = await testGpu();
      const scale = -1.75;
      const inp = data(N * C), w = data(OC * C), bias = data(OC), dout = data(N * OC);
      const outPrior = data(N * OC), dinpPrior = data(N * C), dwPrior = data(OC * C);
      const tInp = put(gpu, 'inp', inp), tW = put(gpu, 'w', w), tBias = put(gpu, 'bias', bias), tDout = put(gpu, 'dout', dout);
      const tOutSet = put(gpu, 'out=', outPrior), tOutAcc = put(gpu, 'out+=', outPrior);
      const tDinpSet = put(gpu, 'dinp=', dinpPrior), tDinpAcc = put(gpu, 'dinp+=', dinpPrior), tDw = put(gpu, 'dw', dwPrior);
      gpu.matmulForward(tOutSet, tInp, tW, tBias, N, C, OC, false, scale);
      gpu.matmulForward(tOutAcc, tInp, tW, tBias, N, C, OC, true, scale);
      gpu.matmulBackwardInput(tDinpSet, tDout, tW, N, C, OC, false, scale);
      gpu.matmulBackwardInput(tDinpAcc, tDout, tW, N, C, OC, true, scale);
      gpu.matmulBackwardWeight(tDw, tDout, tInp, N, C, OC, scale);

      const outSet = new Float64Array(N * OC), outAcc = f64(outPrior);
      ref.matmulForward(outSet, f64(inp), f64(w), f64(bias), N, C, OC, false, scale);
      ref.matmulForward(outAcc, f64(inp), f64(w), f64(bias), N, C, OC, true, scale);
      const dinpSet = new Float64Array(N * C), dinpAcc = f64(dinpPrior), dw = f64(dwPrior);
      ref.matmulBackwardInput(dinpSet, f64(dout), f64(w), N, C, OC, false, scale);
      ref.matmulBackwardInput(dinpAcc, f64(dout), f64(w), N, C, OC, true, scale);
      ref.matmulBackwardWeight(dw, f64(dout), f64(inp), N, C, OC, scale);
      expect(relErr(await gpu.read(tOutSet), outSet)).toBeLessThan(TOL);
      expect(relErr(await gpu.read(tOutAcc), outAcc)).toBeLessThan(TOL);
      expect(relErr(await gpu.read(tDinpSet), dinpSet)).toBeLessThan(TOL);
      expect(relErr(await gpu.read(tDinpAcc), dinpAcc)).toBeLessThan(TOL);
      expect(relErr(await gpu.read(tDw), dw)).toBeLessThan(TOL);
    });
  }
});

describe('LoRA chain on the default paths', () => {
  // xa = x·Aᵀ; out += s·xa·Bᵀ; dB += s·doutᵀ·xa; dxa = s·dout·B; dA += dxaᵀ·x; dx += dxa·A.
  const N = 700, C = 40, OC = 24;
  for (const R of [1, 3, 8, 16]) {
    it(`R=${R} N=${N} C=${C} OC=${OC}`, async () => {
      const gpu = await testGpu();
      const s = 0.5 / R;
      const x = data(N * C), A = data(R * C), B = data(OC * R), dout = data(N * OC);
      const outPrior = data(N * OC), dxPrior = data(N * C), dAPrior = data(R * C), dBPrior = data(OC * R);
      const tX = put(gpu, 'x', x), tA = put(gpu, 'A', A), tB = put(gpu, 'B', B), tDout = put(gpu, 'dout', dout);
      const tXa = gpu.alloc('xa', N * R), tDxa = gpu.alloc('dxa', N * R);
      const tOut = put(gpu, 'out', outPrior), tDx = put(gpu, 'dx', dxPrior), tDA = put(gpu, 'dA', dAPrior), tDB = put(gpu, 'dB', dBPrior);
      gpu.matmulForward(tXa, tX, tA, null, N, C, R);
      gpu.matmulForward(tOut, tXa, tB, null, N, R, OC, true, s);
      gpu.matmulBackwardWeight(tDB, tDout, tXa, N, R, OC, s);
      gpu.matmulBackwardInput(tDxa, tDout, tB, N, R, OC, false, s);
      gpu.matmulBackwardWeight(tDA, tDxa, tX, N, C, R);
      gpu.matmulBackwardInput(tDx, tDxa, tA, N, C, R, true);

      const xa = new Float64Array(N * R), dxa = new Float64Array(N * R);
      const out = f64(outPrior), dx = f64(dxPrior), dA = f64(dAPrior), dB = f64(dBPrior);
      ref.matmulForward(xa, f64(x), f64(A), null, N, C, R);
      ref.matmulForward(out, xa, f64(B), null, N, R, OC, true, s);
      ref.matmulBackwardWeight(dB, f64(dout), xa, N, R, OC, s);
      ref.matmulBackwardInput(dxa, f64(dout), f64(B), N, R, OC, false, s);
      ref.matmulBackwardWeight(dA, dxa, f64(x), N, C, R);
      ref.matmulBackwardInput(dx, dxa, f64(A), N, C, R, true);
      // What each step added, and the totals (relative to float64 run on the same float32 inputs).
      expect(relErr(sub(await gpu.read(tOut), outPrior), sub(out, outPrior))).toBeLessThan(TOL);
      expect(relErr(await gpu.read(tXa), xa)).toBeLessThan(TOL);
      expect(relErr(await gpu.read(tDxa), dxa)).toBeLessThan(TOL);
      expect(relErr(sub(await gpu.read(tDB), dBPrior), sub(dB, dBPrior))).toBeLessThan(TOL);
      expect(relErr(sub(await gpu.read(tDA), dAPrior), sub(dA, dAPrior))).toBeLessThan(TOL);
      expect(relErr(sub(await gpu.read(tDx), dxPrior), sub(dx, dxPrior))).toBeLessThan(TOL);
    });
  }
});

describe('low-rank fusion (linearLowRank, linearLowRankBackwardInput)', () => {
  // Against the reference matmuls they replace, = and += (outputs pre-filled), with and without
  // bias, ranks 1 to 64, through the tiled kernel's shapes and the separate-GEMM fallback; ranks 40 and
  // 64 take the backward's dxa in several chunks of the staging memory.
  const put = (gpu: WebGpuBackend, x: Float32Array): Tensor => {
    const t = gpu.alloc('t', x.length);
    gpu.upload(t, x);
    return t;
  };
  const cases: [N: number, C: number, OC: number, R: number][] = [[37, 20, 19, 3], [67, 33, 129, 16], [200, 20, 70, 1], [3, 9, 5, 2], [300, 70, 50, 40], [130, 24, 96, 64]];
  for (const [path, opts] of Object.entries({ default: {}, 'tiled 256×16': { forceTM: 64 }, 'tiled 16×256': { forceTM: 4 } })) {
    for (const [N, C, OC, R] of cases) {
      for (const accumulate of [false, true]) {
        it(`${path}: N=${N} C=${C} OC=${OC} R=${R}${accumulate ? ' +=' : ''}`, async () => {
          Object.assign(tuning, opts);
          const gpu = await testGpu();
          const s2 = 1.7;
          const x = data(N * C), w = data(OC * C), bias = data(OC), xa = data(N * R), b = data(OC * R), out0 = data(N * OC);
          const out = put(gpu, out0);
          gpu.linearLowRank(out, put(gpu, x), put(gpu, w), put(gpu, bias), put(gpu, xa), put(gpu, b), N, C, OC, R, s2, accumulate);
          const want = f64(out0);
          ref.matmulForward(want, f64(x), f64(w), f64(bias), N, C, OC, accumulate);
          ref.matmulForward(want, f64(xa), f64(b), null, N, R, OC, true, s2);
          expect(relErr(await gpu.read(out), want)).toBeLessThan(TOL);

          // dxa = s2·dout·b and dinp (=|+=) dout·w + dxa·a against three reference matmuls.
          const dout = data(N * OC), a = data(R * C), dinp0 = data(N * C);
          const dinp = put(gpu, dinp0), dxa = put(gpu, data(N * R));
          gpu.linearLowRankBackwardInput(dinp, dxa, put(gpu, dout), put(gpu, w), put(gpu, b), put(gpu, a), N, C, OC, R, s2, accumulate);
          const wantDxa = new Float64Array(N * R), wantD = f64(dinp0);
          ref.matmulBackwardInput(wantDxa, f64(dout), f64(b), N, R, OC, false, s2);
          ref.matmulBackwardInput(wantD, f64(dout), f64(w), N, C, OC, accumulate);
          ref.matmulBackwardInput(wantD, wantDxa, f64(a), N, C, R, true);
          expect(relErr(await gpu.read(dxa), wantDxa)).toBeLessThan(TOL);
          expect(relErr(await gpu.read(dinp), wantD)).toBeLessThan(TOL);
        });
      }
    }
  }

  it('without bias equals the bias-free pair of matmuls', async () => {
    const gpu = await testGpu();
    const [N, C, OC, R] = [20, 12, 40, 4];
    const x = data(N * C), w = data(OC * C), xa = data(N * R), b = data(OC * R);
    const out = put(gpu, new Float32Array(N * OC));
    gpu.linearLowRank(out, put(gpu, x), put(gpu, w), null, put(gpu, xa), put(gpu, b), N, C, OC, R, 0.5, false);
    const want = new Float64Array(N * OC);
    ref.matmulForward(want, f64(x), f64(w), null, N, C, OC);
    ref.matmulForward(want, f64(xa), f64(b), null, N, R, OC, true, 0.5);
    expect(relErr(await gpu.read(out), want)).toBeLessThan(TOL);
  });
});
