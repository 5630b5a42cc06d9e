import { describe, it, expect } from 'vitest';
import { biasBackward, matmulBackwardInput, matmulBackwardWeight, matmulForward } from './matmul.ref.ts';
import { dot, fdGrad, randArray64, relErr, sub } from './testutil.ts';

const N = 10, C = 12, OC = 7;

describe('matmul reference', () => {
  const inp = randArray64(N * C, 21);
  const w = randArray64(OC * C, 22);
  const bias = randArray64(OC, 23);
  const dout = randArray64(N * OC, 24);
  const out = new Float64Array(N * OC);
  const loss = (): number => { matmulForward(out, inp, w, bias, N, C, OC); return dot(out, dout); };
  const TOL = 1e-8; // float64 FD of a function linear in each argument

  it('forward: out = inp·wᵀ + bias, and bias = null means no bias', () => {
    const noBias = new Float64Array(N * OC);
    matmulForward(noBias, inp, w, null, N, C, OC);
    matmulForward(out, inp, w, bias, N, C, OC);
    let s = 0;
    for (let c = 0; c < C; c++) s += inp[3 * C + c] * w[4 * C + c];
    expect(Math.abs(noBias[3 * OC + 4] - s)).toBeLessThan(1e-14);
    expect(Math.abs(out[3 * OC + 4] - s - bias[4])).toBeLessThan(1e-14);
  });

  it('backward input assigns (=) or accumulates (+=) the FD gradient', () => {
    const want = fdGrad(inp, loss);
    const dinp = new Float64Array(N * C).fill(999);
    matmulBackwardInput(dinp, dout, w, N, C, OC, false);
    expect(relErr(dinp, want)).toBeLessThan(TOL);
    const before = randArray64(N * C, 25);
    const acc = Float64Array.from(before);
    matmulBackwardInput(acc, dout, w, N, C, OC, true);
    expect(relErr(sub(acc, before), want)).toBeLessThan(TOL);
  });

  it('backward weight accumulates (+=) the FD gradient', () => {
    const want = fdGrad(w, loss);
    const before = randArray64(OC * C, 26);
    const dw = Float64Array.from(before);
    matmulBackwardWeight(dw, dout, inp, N, C, OC);
    expect(relErr(sub(dw, before), want)).toBeLessThan(TOL);
  });

  it('bias backward accumulates (+=) the FD gradient', () => {
    const want = fdGrad(bias, loss);
    const before = randArray64(OC, 27);
    const db = Float64Array.from(before);
    biasBackward(db, dout, N, OC);
    expect(relErr(sub(db, before), want)).toBeLessThan(TOL);
  });
});
