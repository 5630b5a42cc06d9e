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

describe('matmul reference with scale and forward accumulate', () => {
  const inp = randArray64(N * C, 31);
  const w = randArray64(OC * C, 32);
  const bias = randArray64(OC, 33);
  const dout = randArray64(N * OC, 34);
  const prior = randArray64(N * OC, 35);
  const scale = -0.37;
  const out = new Float64Array(N * OC);
  // out = prior + scale·inp·wᵀ + bias (the bias unscaled)
  const loss = (): number => { out.set(prior); matmulForward(out, inp, w, bias, N, C, OC, true, scale); return dot(out, dout); };
  const TOL = 1e-8; // float64 FD of a function linear in each argument

  it('forward: accumulate adds onto the prior, scale multiplies the product but not the bias', () => {
    loss();
    let s = 0;
    for (let c = 0; c < C; c++) s += inp[3 * C + c] * w[4 * C + c];
    expect(Math.abs(out[3 * OC + 4] - (prior[3 * OC + 4] + scale * s + bias[4]))).toBeLessThan(1e-14);
    const assigned = new Float64Array(N * OC).fill(999);
    matmulForward(assigned, inp, w, null, N, C, OC, false, scale);
    expect(Math.abs(assigned[3 * OC + 4] - scale * s)).toBeLessThan(1e-14);
  });

  it('backward input (= and +=), weight and bias match the FD gradients', () => {
    const wantInp = fdGrad(inp, loss), wantW = fdGrad(w, loss), wantB = fdGrad(bias, loss);
    const dinp = new Float64Array(N * C).fill(999);
    matmulBackwardInput(dinp, dout, w, N, C, OC, false, scale);
    expect(relErr(dinp, wantInp)).toBeLessThan(TOL);
    const before = randArray64(N * C, 36);
    const acc = Float64Array.from(before);
    matmulBackwardInput(acc, dout, w, N, C, OC, true, scale);
    expect(relErr(sub(acc, before), wantInp)).toBeLessThan(TOL);
    const dwBefore = randArray64(OC * C, 37);
    const dw = Float64Array.from(dwBefore);
    matmulBackwardWeight(dw, dout, inp, N, C, OC, scale);
    expect(relErr(sub(dw, dwBefore), wantW)).toBeLessThan(TOL);
    const db = new Float64Array(OC);
    biasBackward(db, dout, N, OC);
    expect(relErr(db, wantB)).toBeLessThan(TOL);
  });

  it('LoRA chain: out += s·(x·Aᵀ)·Bᵀ; dB += s·doutᵀ·xa, dxa = s·dout·B, dA += dxaᵀ·x, dx += dxa·A', () => {
    const R = 3, s = 2.5;
    const A = randArray64(R * C, 38), B = randArray64(OC * R, 39);
    const xa = new Float64Array(N * R);
    const lossL = (): number => {
      out.set(prior);
      matmulForward(xa, inp, A, null, N, C, R);
      matmulForward(out, xa, B, null, N, R, OC, true, s);
      return dot(out, dout);
    };
    const wantA = fdGrad(A, lossL), wantB = fdGrad(B, lossL), wantX = fdGrad(inp, lossL);
    lossL();
    const dB = new Float64Array(OC * R), dxa = new Float64Array(N * R), dA = new Float64Array(R * C);
    const dxBefore = randArray64(N * C, 40);
    const dx = Float64Array.from(dxBefore);
    matmulBackwardWeight(dB, dout, xa, N, R, OC, s);
    matmulBackwardInput(dxa, dout, B, N, R, OC, false, s);
    matmulBackwardWeight(dA, dxa, inp, N, C, R);
    matmulBackwardInput(dx, dxa, A, N, C, R, true);
    expect(relErr(dB, wantB)).toBeLessThan(TOL);
    expect(relErr(dA, wantA)).toBeLessThan(TOL);
    expect(relErr(sub(dx, dxBefore), wantX)).toBeLessThan(TOL);
  });
});
