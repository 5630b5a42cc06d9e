// GPU embedding kernels (ops/embedding.ts) against the CPU reference (src/engine/ref/embedding.ref.ts)
// on odd tiny shapes, through checkOp (../op-test.ts): references in float64 on the same float32 inputs.
import { describe, expect, it } from 'vitest';
import * as ref from '../../ref/embedding.ref.ts';
import { randArray, randInts, relErr } from '../../ref/testutil.ts';
import { U } from '../context.ts';
import { acc, checkOp, f64, out, upload } from '../op-test.ts';
import { testGpu } from '../testing.ts';

describe('embedding', () => {
  const TOL = 1e-5; // relative, float32 sums of a handful of rows vs float64
  const cases: [number, number, number][] = [[10, 12, 11], [1, 1, 1], [300, 5, 7], [5, 1030, 3]];
  for (const [N, C, V] of cases) {
    it(`forward (exact) and backward (+=, reproducible), repeated ids, N=${N} C=${C} V=${V}`, async () => {
      const gpu = await testGpu();
      const ids = randInts(N, 1 + N, 0, V);
      if (N >= 3) { ids[0] = ids[2]; ids[N - 1] = ids[2]; } // repeats, at both ends of the scan
      await checkOp(gpu, 'embeddingForward', ref.embeddingForward, [out(N * C), ids, randArray(V * C, 2), N, C], 0); // a copy is exact
      await checkOp(gpu, 'embeddingBackward', ref.embeddingBackward, [acc(randArray(V * C, 4)), randArray(N * C, 3), ids, N, C, V], TOL, { repeat: true });
    });
  }

  // The context folds a 1-D dispatch into (x, y) only past 65535 workgroups, far too many for
  // SwiftShader, so this dispatches a small explicit grid with spare workgroups straight through the
  // context: the shader's folded indexing and bounds checks are what is under test.
  it('embedding_backward on a folded 4×3 grid for 10 rows', async () => {
    const TOL_FOLDED = 1e-5; // relative
    const gpu = await testGpu();
    const N = 10, C = 12, V = 11;
    const inp = randArray(N * C, 101), ids = randInts(N, 105, 0, V), dwte0 = randArray(V * C, 106);
    const tDwte = upload(gpu, 'dwte', dwte0);
    gpu.ctx.dispatch('core/embedding_backward', [tDwte, upload(gpu, 'inp', inp), upload(gpu, 'ids', ids)], [U(N), U(C), U(V)], [4, 3, 1]);
    const want = f64(dwte0);
    ref.embeddingBackward(want, f64(inp), ids, N, C, V);
    expect(relErr(await gpu.read(tDwte), want)).toBeLessThan(TOL_FOLDED);
  });

  it('a tensor shorter than the op needs is an error naming the op and the tensor', async () => {
    const gpu = await testGpu();
    expect(() => gpu.embeddingForward(gpu.alloc('e', 8), gpu.alloc('ids', 1, 'i32'), gpu.alloc('wte', 40), 2, 4)).toThrow(/embeddingForward: tensor "ids"/);
  });
});
