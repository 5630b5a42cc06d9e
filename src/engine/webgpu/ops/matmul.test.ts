// The linear-layer kernels on the GPU (Dawn; SwiftShader in CI) against the CPU references in
// float64, on odd small shapes, with and without bias, = and += semantics (outputs pre-filled with
// random values), through each kernel path: the default dispatch, each shape of the tiled kernel
// forced, the one-per-output kernel forced, with row-split reductions forced. Then the optional
// `scale` (≠ 1) and forward `accumulate` on LoRA-like skinny shapes, and a whole LoRA chain.
// Each op against its reference through checkOp (../op-test.ts): outputs the op writes start as
// garbage, outputs it adds into (+=) start from random priors and are checked on the total.
import { afterEach, describe, expect, it } from 'vitest';
import type { Tensor } from '../../backend.ts';
import * as ref from '../../ref/matmul.ref.ts';
import { randArray, relErr, sub } from '../../ref/testutil.ts';
import type { WebGpuBackend } from '../backend.ts';
import { acc, checkOp, out } from '../op-test.ts';
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

/** += output starting from `prior`, checked on the total (as these tests always were). */
const into = (prior: Float32Array) => acc(prior, null);

describe.each(Object.entries(PATHS))('matmul kernels, %s path', (_name, path) => {
  for (const [N, C, OC] of SHAPES) {
    const shape = `N=${N} C=${C} OC=${OC}`;

    for (const withBias of [false, true]) {
      it(`forward ${shape}${withBias ? ' + bias' : ''}`, async () => {
        Object.assign(tuning, path);
        await checkOp(await testGpu(), 'matmulForward', ref.matmulForward, [out(N * OC), data(N * C), data(OC * C), withBias ? data(OC) : null, N, C, OC], TOL);
      });
    }

    for (const accumulate of [false, true]) {
      it(`backward input ${shape}, ${accumulate ? '+=' : '='}`, async () => {
        Object.assign(tuning, path);
        const dinp = accumulate ? into(data(N * C)) : out(N * C);
        await checkOp(await testGpu(), 'matmulBackwardInput', ref.matmulBackwardInput, [dinp, data(N * OC), data(OC * C), N, C, OC, accumulate], TOL);
      });
    }

    it(`backward weight ${shape}, +=`, async () => {
      Object.assign(tuning, path);
      await checkOp(await testGpu(), 'matmulBackwardWeight', ref.matmulBackwardWeight, [into(data(OC * C)), data(N * OC), data(N * C), N, C, OC], TOL);
    });

    it(`bias backward ${shape}, +=`, async () => {
      Object.assign(tuning, path);
      await checkOp(await testGpu(), 'biasBackward', ref.biasBackward, [into(data(OC)), data(N * OC), N, OC], TOL);
    });
  }
});

describe('matmul kernels, tall inputs (row reductions split many ways)', () => {
  const TALL: Shape[] = [[20000, 5, 3], [4096, 16, 16], [3000, 70, 1], [1000, 40, 24]];
  for (const [N, C, OC] of TALL) {
    it(`all four ops, N=${N} C=${C} OC=${OC}`, async () => {
      const gpu = await testGpu();
      const inp = data(N * C), w = data(OC * C), dout = data(N * OC);
      await checkOp(gpu, 'matmulForward', ref.matmulForward, [out(N * OC), inp, w, data(OC), N, C, OC], TOL);
      await checkOp(gpu, 'matmulBackwardInput', ref.matmulBackwardInput, [out(N * C), dout, w, N, C, OC, false], TOL);
      await checkOp(gpu, 'matmulBackwardWeight', ref.matmulBackwardWeight, [into(data(OC * C)), dout, inp, N, C, OC], TOL);
      await checkOp(gpu, 'biasBackward', ref.biasBackward, [into(data(OC)), dout, N, OC], TOL);
    });
  }

  it('weight gradient whose split scratch outgrows the one made so far', async () => {
    const N = 2000, C = 128, OC = 130; // ~25 splits of 80 rows × 16640 outputs
    await checkOp(await testGpu(), 'matmulBackwardWeight', ref.matmulBackwardWeight, [into(data(OC * C)), data(N * OC), data(N * C), N, C, OC], TOL);
  });

  it('split reductions are bitwise reproducible', async () => {
    const gpu = await testGpu();
    const N = 5000, C = 24, OC = 20;
    const dout = data(N * OC);
    // Each run twice from zero (repeat): the same bits.
    await checkOp(gpu, 'matmulBackwardWeight', ref.matmulBackwardWeight, [into(new Float32Array(OC * C)), dout, data(N * C), N, C, OC], TOL, { repeat: true });
    await checkOp(gpu, 'biasBackward', ref.biasBackward, [into(new Float32Array(OC)), dout, N, OC], TOL, { repeat: true });
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
      const outPrior = data(N * OC), dinpPrior = data(N * C);
      await checkOp(gpu, 'matmulForward', ref.matmulForward, [out(N * OC), inp, w, bias, N, C, OC, false, scale], TOL);
      await checkOp(gpu, 'matmulForward', ref.matmulForward, [into(outPrior), inp, w, bias, N, C, OC, true, scale], TOL);
      await checkOp(gpu, 'matmulBackwardInput', ref.matmulBackwardInput, [out(N * C), dout, w, N, C, OC, false, scale], TOL);
      await checkOp(gpu, 'matmulBackwardInput', ref.matmulBackwardInput, [into(dinpPrior), dout, w, N, C, OC, true, scale], TOL);
      await checkOp(gpu, 'matmulBackwardWeight', ref.matmulBackwardWeight, [into(data(OC * C)), dout, inp, N, C, OC, scale], TOL);
    });
  }
});

describe('LoRA chain on the default paths', () => {
  // xa = x·Aᵀ; out += s·xa·Bᵀ; dB += s·doutᵀ·xa; dxa = s·dout·B; dA += dxaᵀ·x; dx += dxa·A.
  // Not through checkOp: each GPU step reads the GPU's previous outputs, against a float64 chain.
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

// The fused ops' meaning, for checkOp: the reference matmuls they replace, with the ops' arguments.
type F = Float64Array;
function linearLowRankRef(out: F, x: F, w: F, bias: F | null, xa: F, b: F, N: number, C: number, OC: number, R: number, s2: number, accumulate: boolean): void {
  ref.matmulForward(out, x, w, bias, N, C, OC, accumulate);
  ref.matmulForward(out, xa, b, null, N, R, OC, true, s2);
}
/** dxa = s2·dout·b and dinp (=|+=) dout·w + dxa·a: three reference matmuls. */
function linearLowRankBackwardInputRef(dinp: F, dxa: F, dout: F, w: F, b: F, a: F, N: number, C: number, OC: number, R: number, s2: number, accumulate: boolean): void {
  ref.matmulBackwardInput(dxa, dout, b, N, R, OC, false, s2);
  ref.matmulBackwardInput(dinp, dout, w, N, C, OC, accumulate);
  ref.matmulBackwardInput(dinp, dxa, a, N, C, R, true);
}

describe('low-rank fusion (linearLowRank, linearLowRankBackwardInput)', () => {
  // Against the reference matmuls they replace, = and += (outputs pre-filled), with and without
  // bias, ranks 1 to 64, through the tiled kernel's shapes and the separate-GEMM fallback; ranks 40 and
  // 64 take the backward's dxa in several chunks of the staging memory.
  const cases: [N: number, C: number, OC: number, R: number][] = [[37, 20, 19, 3], [67, 33, 129, 16], [200, 20, 70, 1], [3, 9, 5, 2], [300, 70, 50, 40], [130, 24, 96, 64]];
  for (const [path, opts] of Object.entries({ default: {}, 'tiled 256×16': { forceTM: 64 }, 'tiled 16×256': { forceTM: 4 } })) {
    for (const [N, C, OC, R] of cases) {
      for (const accumulate of [false, true]) {
        it(`${path}: N=${N} C=${C} OC=${OC} R=${R}${accumulate ? ' +=' : ''}`, async () => {
          Object.assign(tuning, opts);
          const gpu = await testGpu();
          const s2 = 1.7;
          const w = data(OC * C), b = data(OC * R);
          const res = (n: number) => (accumulate ? into(data(n)) : out(n));
          await checkOp(gpu, 'linearLowRank', linearLowRankRef, [res(N * OC), data(N * C), w, data(OC), data(N * R), b, N, C, OC, R, s2, accumulate], TOL);
          await checkOp(gpu, 'linearLowRankBackwardInput', linearLowRankBackwardInputRef,
            [res(N * C), out(N * R), data(N * OC), w, b, data(R * C), N, C, OC, R, s2, accumulate], TOL);
        });
      }
    }
  }

  it('without bias equals the bias-free pair of matmuls', async () => {
    const [N, C, OC, R] = [20, 12, 40, 4];
    await checkOp(await testGpu(), 'linearLowRank', linearLowRankRef, [out(N * OC), data(N * C), data(OC * C), null, data(N * R), data(OC * R), N, C, OC, R, 0.5, false], TOL);
  });
});
