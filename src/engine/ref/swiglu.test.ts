import { describe, it, expect } from 'vitest';
import { add } from './add.ref.ts';
import { swigluBackward, swigluForward } from './swiglu.ref.ts';
import { dot, fdGrad, randArray64, relErr } from './testutil.ts';

const n = 2 * 5 * 7;

describe('swiglu reference', () => {
  it('forward at known points: silu(0) = 0, silu(1) = 1/(1+e^-1)', () => {
    const out = new Float64Array(2);
    swigluForward(out, Float64Array.from([0, 1]), Float64Array.from([3, 2]), 2);
    expect(out[0]).toBe(0);
    expect(Math.abs(out[1] - 2 / (1 + Math.exp(-1)))).toBeLessThan(1e-15);
  });

  it('backward assigns (=) the FD gradients of gate and up', () => {
    const TOL = 1e-7; // float64 FD, h = 1e-5
    const gate = randArray64(n, 41, 2);
    const up = randArray64(n, 42);
    const dout = randArray64(n, 43);
    const out = new Float64Array(n);
    const loss = (): number => { swigluForward(out, gate, up, n); return dot(out, dout); };
    const wantG = fdGrad(gate, loss);
    const wantU = fdGrad(up, loss);
    const dg = new Float64Array(n).fill(999);
    const du = new Float64Array(n).fill(999);
    swigluBackward(dg, du, dout, gate, up, n);
    expect(relErr(dg, wantG)).toBeLessThan(TOL);
    expect(relErr(du, wantU)).toBeLessThan(TOL);
  });

  it('is finite for large |gate|', () => {
    const gate = Float64Array.from([-1000, 1000]);
    const out = new Float64Array(2);
    const dg = new Float64Array(2);
    const du = new Float64Array(2);
    swigluForward(out, gate, Float64Array.from([1, 1]), 2);
    swigluBackward(dg, du, Float64Array.from([1, 1]), gate, Float64Array.from([1, 1]), 2);
    expect(Array.from(out).map((x) => x + 0)).toEqual([0, 1000]); // + 0 folds −0
    expect(Array.from(dg).map((x) => x + 0)).toEqual([0, 1]);
  });
});

describe('add reference', () => {
  it('adds, also in place (out aliases a)', () => {
    const a = Float32Array.from([1, 2, 3]);
    const b = Float32Array.from([10, 20, 30]);
    add(a, a, b, 3);
    expect(Array.from(a)).toEqual([11, 22, 33]);
  });
});
