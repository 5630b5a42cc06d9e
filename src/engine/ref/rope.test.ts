import { describe, it, expect } from 'vitest';
import { rope } from './rope.ref.ts';
import { dot, fdGrad, randArray64, relErr } from './testutil.ts';

const B = 2, T = 5, H = 4, HS = 6, BASE = 10000;
const n = B * T * H * HS;

describe('rope reference', () => {
  it('matches HF rotate_half by hand at one position', () => {
    const TOL = 1e-14;
    const x = randArray64(HS, 31);
    const out = new Float64Array(HS);
    const pos = 7;
    rope(out, x, 1, 1, 1, HS, BASE, pos, false);
    // HF: q*cos + rotate_half(q)*sin, cos/sin = cat(freqs, freqs), rotate_half(x) = cat(-x2, x1)
    const half = HS / 2;
    for (let j = 0; j < HS; j++) {
      const i = j % half;
      const th = pos / BASE ** ((2 * i) / HS);
      const rot = j < half ? -x[j + half] : x[j - half];
      expect(Math.abs(out[j] - (x[j] * Math.cos(th) + rot * Math.sin(th)))).toBeLessThan(TOL);
    }
  });

  it('position 0 is the identity; inverse undoes rope (with pos0 offset)', () => {
    const TOL = 1e-14;
    const x = randArray64(n, 32);
    const y = new Float64Array(n);
    const back = new Float64Array(n);
    rope(y, x, B, 1, T * H, HS, BASE, 0, false); // T=1 at pos 0, heads folded
    expect(relErr(y, x)).toBeLessThan(TOL);
    rope(y, x, B, T, H, HS, BASE, 3, false);
    expect(relErr(y, x)).toBeGreaterThan(0.01);
    rope(back, y, B, T, H, HS, BASE, 3, true);
    expect(relErr(back, x)).toBeLessThan(TOL);
  });

  it('inverse is the backward pass (FD)', () => {
    const TOL = 1e-8; // float64 FD of a linear map
    const x = randArray64(n, 33);
    const dout = randArray64(n, 34);
    const y = new Float64Array(n);
    const want = fdGrad(x, () => { rope(y, x, B, T, H, HS, BASE, 2, false); return dot(y, dout); });
    const dx = new Float64Array(n);
    rope(dx, dout, B, T, H, HS, BASE, 2, true);
    expect(relErr(dx, want)).toBeLessThan(TOL);
  });
});
