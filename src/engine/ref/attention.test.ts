import { describe, it, expect } from 'vitest';
import { attentionBackward, attentionDecode, attentionForward } from './attention.ref.ts';
import { kvWrite } from './kv_write.ref.ts';
import { dot, fdGrad, randArray64, relErr } from './testutil.ts';

const B = 2, T = 5, NH = 4, NKV = 2, HS = 6;
const nq = B * T * NH * HS, nkv = B * T * NKV * HS, natt = B * NH * T * T;

const q = randArray64(nq, 51);
const k = randArray64(nkv, 52);
const v = randArray64(nkv, 53);
const dout = randArray64(nq, 54);

function forward(): { out: Float64Array; att: Float64Array } {
  const out = new Float64Array(nq);
  const att = new Float64Array(natt);
  attentionForward(out, att, q, k, v, B, T, NH, NKV, HS);
  return { out, att };
}

describe('attention reference: forward', () => {
  it('att is causal and rows sum to 1; first query returns v[0]', () => {
    const TOL = 1e-14;
    const { out, att } = forward();
    for (let r = 0; r < B * NH * T; r++) {
      const t = r % T;
      let s = 0;
      for (let j = 0; j < T; j++) {
        if (j > t) expect(att[r * T + j]).toBe(0);
        s += att[r * T + j];
      }
      expect(Math.abs(s - 1)).toBeLessThan(TOL);
    }
    // b=1, t=0, head 3 reads kv head floor(3 / 2) = 1
    const qo = ((1 * T + 0) * NH + 3) * HS, vo = ((1 * T + 0) * NKV + 1) * HS;
    expect(relErr(out.subarray(qo, qo + HS), v.subarray(vo, vo + HS))).toBeLessThan(TOL);
  });

  it('GQA equals MHA with kv heads repeated (HF repeat_kv)', () => {
    const TOL = 1e-14;
    const G = NH / NKV;
    const kr = new Float64Array(nq), vr = new Float64Array(nq);
    for (let bt = 0; bt < B * T; bt++)
      for (let h = 0; h < NH; h++)
        for (let d = 0; d < HS; d++) {
          kr[(bt * NH + h) * HS + d] = k[(bt * NKV + Math.floor(h / G)) * HS + d];
          vr[(bt * NH + h) * HS + d] = v[(bt * NKV + Math.floor(h / G)) * HS + d];
        }
    const out = new Float64Array(nq);
    attentionForward(out, new Float64Array(natt), q, kr, vr, B, T, NH, NH, HS);
    expect(relErr(out, forward().out)).toBeLessThan(TOL);
  });
});

describe('attention reference: backward vs finite differences', () => {
  const loss = (): number => dot(forward().out, dout);
  const run = () => {
    const { att } = forward();
    const dq = new Float64Array(nq).fill(999), dk = new Float64Array(nkv).fill(999), dv = new Float64Array(nkv).fill(999);
    const scratch = new Float64Array(natt).fill(999);
    attentionBackward(dq, dk, dv, scratch, dout, q, k, v, att, B, T, NH, NKV, HS);
    return { dq, dk, dv, scratch };
  };
  const TOL = 1e-7; // float64 FD, h = 1e-5

  it('dq, dk, dv are assigned (=) and match FD', () => {
    const { dq, dk, dv } = run();
    expect(relErr(dq, fdGrad(q, loss))).toBeLessThan(TOL);
    expect(relErr(dk, fdGrad(k, loss))).toBeLessThan(TOL);
    expect(relErr(dv, fdGrad(v, loss))).toBeLessThan(TOL);
  });

  it('scratch is dL/d(scaled scores), 0 above the diagonal', () => {
    // Independent forward from the scores S = q·kᵀ/sqrt(HS): out = causal_softmax(S) · v.
    const S = new Float64Array(natt);
    const G = NH / NKV;
    for (let b = 0; b < B; b++)
      for (let h = 0; h < NH; h++)
        for (let t = 0; t < T; t++)
          for (let s = 0; s < T; s++) {
            let d = 0;
            for (let i = 0; i < HS; i++) d += q[((b * T + t) * NH + h) * HS + i] * k[((b * T + s) * NKV + Math.floor(h / G)) * HS + i];
            S[((b * NH + h) * T + t) * T + s] = d / Math.sqrt(HS);
          }
    const fromScores = (): number => {
      let L = 0;
      for (let b = 0; b < B; b++)
        for (let h = 0; h < NH; h++)
          for (let t = 0; t < T; t++) {
            const row = ((b * NH + h) * T + t) * T;
            let z = 0;
            for (let s = 0; s <= t; s++) z += Math.exp(S[row + s]);
            for (let s = 0; s <= t; s++)
              for (let i = 0; i < HS; i++)
                L += (Math.exp(S[row + s]) / z) * v[((b * T + s) * NKV + Math.floor(h / G)) * HS + i] * dout[((b * T + t) * NH + h) * HS + i];
          }
      return L;
    };
    expect(Math.abs(fromScores() - loss())).toBeLessThan(1e-12);
    const { scratch } = run();
    expect(relErr(scratch, fdGrad(S, fromScores))).toBeLessThan(TOL);
    for (let r = 0; r < B * NH * T; r++) for (let s = (r % T) + 1; s < T; s++) expect(scratch[r * T + s]).toBe(0);
  });
});

describe('attention reference: KV-cache decode', () => {
  const TMAX = 7, W = NKV * HS;
  const TOL = 1e-14; // same float64 arithmetic in a different loop order
  const { out: want } = forward();
  // rows [t0, t0+n) of x (B,T,rowW) as (B,n,rowW)
  const slice = (x: Float64Array, rowW: number, t0: number, n: number): Float64Array => {
    const r = new Float64Array(B * n * rowW);
    for (let b = 0; b < B; b++) r.set(x.subarray((b * T + t0) * rowW, (b * T + t0 + n) * rowW), b * n * rowW);
    return r;
  };

  it('prefill (Tq=T, pos0=0) equals attentionForward', () => {
    const kc = new Float64Array(B * TMAX * W).fill(NaN), vc = new Float64Array(B * TMAX * W).fill(NaN);
    kvWrite(kc, k, B, T, 0, TMAX, W);
    kvWrite(vc, v, B, T, 0, TMAX, W);
    const out = new Float64Array(nq);
    attentionDecode(out, q, kc, vc, B, T, 0, TMAX, NH, NKV, HS); // NaN past T must never be read
    expect(relErr(out, want)).toBeLessThan(TOL);
  });

  it('prefill of 2 then token by token equals attentionForward', () => {
    const kc = new Float64Array(B * TMAX * W).fill(NaN), vc = new Float64Array(B * TMAX * W).fill(NaN);
    const got = new Float64Array(nq);
    const HQ = NH * HS;
    const steps: Array<[number, number]> = [[0, 2], [2, 1], [3, 1], [4, 1]];
    for (const [t0, n] of steps) {
      kvWrite(kc, slice(k, W, t0, n), B, n, t0, TMAX, W);
      kvWrite(vc, slice(v, W, t0, n), B, n, t0, TMAX, W);
      const o = new Float64Array(B * n * HQ);
      attentionDecode(o, slice(q, HQ, t0, n), kc, vc, B, n, t0, TMAX, NH, NKV, HS);
      for (let b = 0; b < B; b++) got.set(o.subarray(b * n * HQ, (b + 1) * n * HQ), (b * T + t0) * HQ);
    }
    expect(relErr(got, want)).toBeLessThan(TOL);
  });
});
