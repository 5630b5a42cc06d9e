import { describe, it, expect } from 'vitest';
import { rmsnormBackwardInput, rmsnormBackwardWeight, rmsnormForward } from './rmsnorm.ref.ts';
import { dot, fdGrad, randArray64, relErr, sub } from './testutil.ts';

const N = 10, C = 12, EPS = 1e-6;

describe('rmsnorm reference', () => {
  const inp = randArray64(N * C, 11);
  const w = randArray64(C, 12, 0.5).map((x) => 1 + x);
  const dout = randArray64(N * C, 13);
  const out = new Float64Array(N * C);
  const rstd = new Float64Array(N);
  const loss = (): number => { rmsnormForward(out, rstd, inp, w, N, C, EPS); return dot(out, dout); };

  it('forward matches the formula on one row', () => {
    const TOL = 1e-14;
    rmsnormForward(out, rstd, inp, w, N, C, EPS);
    let ms = 0;
    for (let c = 0; c < C; c++) ms += inp[2 * C + c] ** 2 / C;
    expect(Math.abs(rstd[2] - 1 / Math.sqrt(ms + EPS))).toBeLessThan(TOL);
    expect(Math.abs(out[2 * C + 5] - inp[2 * C + 5] * w[5] / Math.sqrt(ms + EPS))).toBeLessThan(TOL);
  });

  it('backward input accumulates (+=) the FD gradient', () => {
    const TOL = 1e-7; // float64 FD, h = 1e-5
    const want = fdGrad(inp, loss);
    loss();
    const before = randArray64(N * C, 14);
    const dinp = Float64Array.from(before);
    rmsnormBackwardInput(dinp, dout, inp, w, rstd, N, C);
    expect(relErr(sub(dinp, before), want)).toBeLessThan(TOL);
  });

  it('backward weight accumulates (+=) the FD gradient', () => {
    const TOL = 1e-8; // linear in w
    const want = fdGrad(w, loss);
    loss();
    const before = randArray64(C, 15);
    const dw = Float64Array.from(before);
    rmsnormBackwardWeight(dw, dout, inp, rstd, N, C);
    expect(relErr(sub(dw, before), want)).toBeLessThan(TOL);
  });
});
