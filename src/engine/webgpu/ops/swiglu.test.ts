// GPU SwiGLU kernels (ops/swiglu.ts) against the CPU reference (src/engine/ref/swiglu.ref.ts), through
// checkOp (../op-test.ts): references in float64 on the same float32 inputs.
import { describe, expect, it } from 'vitest';
import * as ref from '../../ref/swiglu.ref.ts';
import { randArray, relErr } from '../../ref/testutil.ts';
import { U } from '../context.ts';
import { checkOp, f64, out, upload } from '../op-test.ts';
import { testGpu } from '../testing.ts';

describe('swiglu', () => {
  const TOL = 1e-5; // relative
  for (const n of [1000, 1]) {
    it(`forward and backward, n=${n}`, async () => {
      const gpu = await testGpu();
      const gate = randArray(n, 21, 3), up = randArray(n, 22), dout = randArray(n, 23);
      if (n > 2) { gate[0] = 100; gate[1] = -100; } // saturated sigmoid both ways
      await checkOp(gpu, 'swigluForward', ref.swigluForward, [out(n), gate, up, n], TOL);
      await checkOp(gpu, 'swigluBackward', ref.swigluBackward, [out(n), out(n), dout, gate, up, n], TOL);
    });
  }

  // The context folds a 1-D dispatch into (x, y) only past 65535 workgroups, far too many for
  // SwiftShader, so this dispatches a small explicit grid with spare workgroups straight through the
  // context: the shader's folded indexing and bounds checks are what is under test.
  it('swiglu_forward on a folded 2×3 grid of 256 for n=1000', async () => {
    const TOL_FOLDED = 1e-5; // relative
    const gpu = await testGpu();
    const n = 1000;
    const gate = randArray(n, 111), up = randArray(n, 112);
    const tOut = gpu.alloc('out', n);
    gpu.ctx.dispatch('core/swiglu_forward', [tOut, upload(gpu, 'gate', gate), upload(gpu, 'up', up)], [U(n)], [2, 3, 1]);
    const want = new Float64Array(n);
    ref.swigluForward(want, f64(gate), f64(up), n);
    expect(relErr(await gpu.read(tOut), want)).toBeLessThan(TOL_FOLDED);
  });

  it('a tensor shorter than the op needs is an error naming the op and the tensor', async () => {
    const gpu = await testGpu();
    const t = (label: string, n: number) => gpu.alloc(label, n);
    expect(() => gpu.swigluBackward(t('dg', 4), t('du', 4), t('d', 4), t('g', 3), t('u', 4), 4)).toThrow(/swigluBackward: tensor "g"/);
  });
});
