// GPU RMSNorm kernels (ops/rmsnorm.ts) against the CPU reference (src/engine/ref/rmsnorm.ref.ts) on odd
// tiny shapes, through checkOp (../op-test.ts): references in float64 on the same float32 inputs.
import { describe, expect, it } from 'vitest';
import * as ref from '../../ref/rmsnorm.ref.ts';
import { randArray, relErr } from '../../ref/testutil.ts';
import { F, U } from '../context.ts';
import { acc, bits, checkOp, f64, out, upload } from '../op-test.ts';
import { testGpu } from '../testing.ts';

describe('rmsnorm', () => {
  const TOL = 1e-5; // relative
  const eps = 1e-6;
  const cases: [number, number][] = [[10, 12], [1, 1], [3, 300], [300, 5]];
  for (const [N, C] of cases) {
    it(`forward, backward input (+=), backward weight (+=), each reproducible, N=${N} C=${C}`, async () => {
      const gpu = await testGpu();
      const inp = randArray(N * C, 11), w = randArray(C, 12), dout = randArray(N * C, 13);
      const { got: [, rstd] } = await checkOp(gpu, 'rmsnormForward', ref.rmsnormForward, [out(N * C), out(N), inp, w, N, C, eps], TOL, { repeat: true });
      // The backward references take the GPU's rstd, so each kernel is checked on its own.
      // dinp's increment is measured against the larger of itself and its first term dout·w·r: at C=1
      // the two terms cancel (dinp ≈ w·r·eps/(x²+eps) ≈ 0) and a plain relative error is noise.
      let termSq = 0;
      for (let i = 0; i < N * C; i++) termSq += (dout[i] * w[i % C] * rstd[Math.floor(i / C)]) ** 2;
      await checkOp(gpu, 'rmsnormBackwardInput', ref.rmsnormBackwardInput, [acc(randArray(N * C, 14), Math.sqrt(termSq)), dout, inp, w, rstd, N, C], TOL, { repeat: true });
      await checkOp(gpu, 'rmsnormBackwardWeight', ref.rmsnormBackwardWeight, [acc(randArray(C, 15)), dout, inp, rstd, N, C], TOL, { repeat: true });
    });
  }

  // The context folds a 1-D dispatch into (x, y) only past 65535 workgroups, far too many for
  // SwiftShader, so this dispatches a small explicit grid with spare workgroups straight through the
  // context: the shader's folded indexing and bounds checks are what is under test.
  it('rmsnorm_forward on a folded 4×3 grid for 10 rows', async () => {
    const TOL_FOLDED = 1e-5; // relative
    const gpu = await testGpu();
    const N = 10, C = 12;
    const inp = randArray(N * C, 101), w = randArray(C, 102);
    const tOut = gpu.alloc('out', N * C), tRstd = gpu.alloc('rstd', N);
    gpu.ctx.dispatch('core/rmsnorm_forward', [tOut, tRstd, upload(gpu, 'inp', inp), upload(gpu, 'w', w)], [U(N), U(C), F(1e-6)], [4, 3, 1]);
    const wantOut = new Float64Array(N * C), wantRstd = new Float64Array(N);
    ref.rmsnormForward(wantOut, wantRstd, f64(inp), f64(w), N, C, 1e-6);
    expect(relErr(await gpu.read(tOut), wantOut)).toBeLessThan(TOL_FOLDED);
    expect(relErr(await gpu.read(tRstd), wantRstd)).toBeLessThan(TOL_FOLDED);
  });

  it('a tensor shorter than the op needs is an error naming the op and the tensor', async () => {
    const gpu = await testGpu();
    const t = (label: string, n: number) => gpu.alloc(label, n);
    expect(() => gpu.rmsnormForward(t('o', 12), t('rstd', 2), t('x', 12), t('w', 5), 2, 6, 1e-6)).toThrow(/rmsnormForward: tensor "w" has 5/);
  });
});

describe('add + rmsnorm (a residual add fused into the next norm)', () => {
  const TOL = 1e-5; // relative
  const eps = 1e-6;
  for (const [N, C] of [[10, 12], [1, 1], [3, 300], [300, 5]] as [number, number][]) {
    it(`sum = x + d exactly as add, out and rstd as rmsnorm of the sum, N=${N} C=${C}`, async () => {
      const gpu = await testGpu();
      const x = randArray(N * C, 31), d = randArray(N * C, 32), w = randArray(C, 33);
      const tSum = upload(gpu, 'sum', randArray(N * C, 34)), tOut = upload(gpu, 'out', randArray(N * C, 35)), tRstd = upload(gpu, 'rstd', randArray(N, 36));
      gpu.addRmsnormForward(tSum, tOut, tRstd, upload(gpu, 'x', x), upload(gpu, 'd', d), upload(gpu, 'w', w), N, C, eps);
      const sum = await gpu.read(tSum);
      // float32 x + d is one rounding, the same on every machine: bit for bit.
      expect(bits(sum)).toEqual(bits(Float32Array.from(x, (v, i) => v + d[i])));
      const wantOut = new Float64Array(N * C), wantRstd = new Float64Array(N);
      ref.rmsnormForward(wantOut, wantRstd, f64(sum), f64(w), N, C, eps);
      expect(relErr(await gpu.read(tOut), wantOut)).toBeLessThan(TOL);
      expect(relErr(await gpu.read(tRstd), wantRstd)).toBeLessThan(TOL);
    });
  }

  it('rejects a sum that aliases an input', async () => {
    const gpu = await testGpu();
    const t = gpu.alloc('x', 4), d = gpu.alloc('d', 4), o = gpu.alloc('o', 4), r = gpu.alloc('r', 1), w = gpu.alloc('w', 4);
    expect(() => gpu.addRmsnormForward(t, o, r, t, d, w, 1, 4, 1e-6)).toThrow(/alias/);
  });
});
