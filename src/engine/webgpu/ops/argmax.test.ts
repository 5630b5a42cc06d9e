// The GPU argmax (ops/argmax.ts) against the CPU reference (src/engine/ref/argmax.ref.ts), exact,
// through checkOp (../op-test.ts); the token column against the sample reference's writeColumn.
import { describe, expect, it } from 'vitest';
import * as ref from '../../ref/argmax.ref.ts';
import * as smpRef from '../../ref/sample.ref.ts';
import { randArray, randInts } from '../../ref/testutil.ts';
import { U } from '../context.ts';
import { checkOp, f64, gpuOnly, out, upload } from '../op-test.ts';
import { testGpu } from '../testing.ts';

describe('argmax', () => {
  const amCases: [number, number][] = [[10, 11], [1, 1], [3, 300]];
  for (const [N, V] of amCases) {
    it(`argmax is exact with ties to the lowest index, N=${N} V=${V}`, async () => {
      const gpu = await testGpu();
      const logits = randArray(N * V, 41);
      // ties across threads (37 and 293 share none; 5 and 261 share thread 5), and at the row start
      if (V === 300) {
        logits[0 * V + 293] = 9; logits[0 * V + 37] = 9;
        logits[1 * V + 261] = 9; logits[1 * V + 5] = 9; logits[1 * V + 6] = 9;
        logits[2 * V + 0] = 9; logits[2 * V + 299] = 9;
      } else if (V > 5) {
        logits[0 * V + 5] = 7; logits[0 * V + 3] = 7;
        for (let i = 0; i < V; i++) logits[1 * V + i] = -2; // a constant row → index 0
      }
      // and into column 1 of an (N, 3) token matrix; the other columns keep their values
      const col0 = randInts(3 * N, 43, -9, -1);
      const tCol = upload(gpu, 'tokens', col0);
      const { got: [got], want: [want] } = await checkOp(gpu, 'argmax', ref.argmax,
        [out(N, 'i32'), logits, N, V, gpuOnly({ tokens: tCol, offset: 1, stride: 3 })], 0);
      const wantCol = Int32Array.from(col0);
      smpRef.writeColumn(wantCol, want as Int32Array, N, 1, 3);
      expect(Array.from(await gpu.readInt(tCol))).toEqual(Array.from(wantCol));
      if (V === 300) expect(Array.from(got)).toEqual([37, 5, 0]);
      if (V === 11) expect(Array.from(got.slice(0, 2))).toEqual([3, 0]);
    });
  }

  // The context folds a 1-D dispatch into (x, y) only past 65535 workgroups, far too many for
  // SwiftShader, so this dispatches a small explicit grid with spare workgroups straight through the
  // context: the shader's folded indexing and bounds checks are what is under test.
  it('argmax on a folded 4×3 grid for 10 rows', async () => {
    const gpu = await testGpu();
    const N = 10, V = 11;
    const logits = randArray(N * V, 103);
    const tAm = gpu.alloc('argmax', N, 'i32'), tCol = gpu.alloc('tokens', N, 'i32');
    gpu.ctx.dispatch('core/argmax', [tAm, tCol, upload(gpu, 'logits', logits)], [U(N), U(V), U(0), U(1)], [4, 3, 1]);
    const want = new Int32Array(N);
    ref.argmax(want, f64(logits), N, V);
    expect(Array.from(await gpu.readInt(tAm))).toEqual(Array.from(want));
    expect(Array.from(await gpu.readInt(tCol))).toEqual(Array.from(want));
  });
});
