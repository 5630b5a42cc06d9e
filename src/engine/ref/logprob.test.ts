import { describe, it, expect } from 'vitest';
import { logprobBackward, logprobForward } from './logprob.ref.ts';
import { dot, fdGrad, randArray64, relErr } from './testutil.ts';

const N = 10, V = 11;

describe('logprob reference', () => {
  const logits = randArray64(N * V, 61, 3);
  const targets = Int32Array.from([0, 10, 5, -1, 3, 3, -100, 7, 1, 2]); // rows 3 and 6 masked
  const dlogp = randArray64(N, 62);
  const logp = new Float64Array(N), lse = new Float64Array(N);
  const loss = (): number => { logprobForward(logp, lse, logits, targets, N, V); return dot(logp, dlogp); };

  it('forward: log softmax at the target, 0 on masked rows, lse on every row', () => {
    const TOL = 1e-13;
    loss();
    for (let n = 0; n < N; n++) {
      let z = 0;
      for (let i = 0; i < V; i++) z += Math.exp(logits[n * V + i]);
      expect(Math.abs(lse[n] - Math.log(z))).toBeLessThan(TOL);
      const t = targets[n];
      expect(logp[n]).toBe(t < 0 ? 0 : logits[n * V + t] - lse[n]);
    }
  });

  it('is stable for large logits', () => {
    const big = Float64Array.from([1000, 1000, 999]);
    const lp = new Float64Array(1), l = new Float64Array(1);
    logprobForward(lp, l, big, Int32Array.from([2]), 1, 3);
    expect(Math.abs(lp[0] - (-1 - Math.log(2 + Math.exp(-1))))).toBeLessThan(1e-12);
  });

  it('backward assigns (=) the FD gradient; masked rows are 0', () => {
    const TOL = 1e-7; // float64 FD, h = 1e-5
    const want = fdGrad(logits, loss);
    loss();
    const dlogits = new Float64Array(N * V).fill(999);
    logprobBackward(dlogits, dlogp, logits, lse, targets, N, V);
    expect(relErr(dlogits, want)).toBeLessThan(TOL);
    for (const n of [3, 6]) for (let i = 0; i < V; i++) expect(dlogits[n * V + i]).toBe(0);
  });
});

describe('logprob reference with scale (tempered logits)', () => {
  const logits = randArray64(N * V, 63, 3);
  const targets = Int32Array.from([4, 0, -1, 10, 2, 2, 9, -7, 6, 1]); // rows 2 and 7 masked
  const dlogp = randArray64(N, 64);
  for (const scale of [1 / 0.7, 0.5, -1.3]) {
    const logp = new Float64Array(N), lse = new Float64Array(N);
    const loss = (): number => { logprobForward(logp, lse, logits, targets, N, V, scale); return dot(logp, dlogp); };

    it(`forward is the log softmax of scale · logits, scale=${scale.toFixed(3)}`, () => {
      const TOL = 1e-12;
      loss();
      const z = logits.map((x) => scale * x);
      const wantLogp = new Float64Array(N), wantLse = new Float64Array(N);
      logprobForward(wantLogp, wantLse, z, targets, N, V);
      for (let n = 0; n < N; n++) {
        expect(Math.abs(lse[n] - wantLse[n])).toBeLessThan(TOL);
        expect(Math.abs(logp[n] - wantLogp[n])).toBeLessThan(TOL);
      }
    });

    it(`backward assigns the FD gradient (chain factor scale), scale=${scale.toFixed(3)}`, () => {
      const TOL = 1e-7; // float64 FD, h = 1e-5
      const want = fdGrad(logits, loss);
      loss();
      const dlogits = new Float64Array(N * V).fill(999);
      logprobBackward(dlogits, dlogp, logits, lse, targets, N, V, scale);
      expect(relErr(dlogits, want)).toBeLessThan(TOL);
      for (const n of [2, 7]) for (let i = 0; i < V; i++) expect(dlogits[n * V + i]).toBe(0);
    });
  }

  it('scale = 1 gives exactly the unscaled results', () => {
    const a = [new Float64Array(N), new Float64Array(N), new Float64Array(N * V)];
    const b = [new Float64Array(N), new Float64Array(N), new Float64Array(N * V)];
    logprobForward(a[0], a[1], logits, targets, N, V);
    logprobBackward(a[2], dlogp, logits, a[1], targets, N, V);
    logprobForward(b[0], b[1], logits, targets, N, V, 1);
    logprobBackward(b[2], dlogp, logits, b[1], targets, N, V, 1);
    for (let i = 0; i < 3; i++) expect(Array.from(b[i])).toEqual(Array.from(a[i]));
  });
});
