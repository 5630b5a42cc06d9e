// GPU log-probability kernels (ops/logprob.ts) against the CPU reference (src/engine/ref/logprob.ref.ts)
// on odd tiny shapes, through checkOp (../op-test.ts): references in float64 on the same float32 inputs.
import { describe, expect, it } from 'vitest';
import * as ref from '../../ref/logprob.ref.ts';
import { randArray, randInts, relErr } from '../../ref/testutil.ts';
import { F, U } from '../context.ts';
import { bits, checkOp, f64, out, upload } from '../op-test.ts';
import { testGpu } from '../testing.ts';

describe('logprob', () => {
  const TOL = 1e-5; // relative
  const cases: [number, number][] = [[10, 11], [1, 1], [4, 300]];
  for (const [N, V] of cases) {
    it(`forward (reproducible), backward (=), masked targets, N=${N} V=${V}`, async () => {
      const gpu = await testGpu();
      const logits = randArray(N * V, 31, 4);
      const targets = randInts(N, 32, 0, V);
      if (N > 2) { targets[1] = -1; targets[N - 1] = -100; }
      const { got: [logp, lse] } = await checkOp(gpu, 'logprobForward', ref.logprobForward, [out(N), out(N), logits, targets, N, V], TOL, { repeat: true });
      for (let n = 0; n < N; n++) if (targets[n] < 0) expect(logp[n]).toBe(0);
      // the backward reads the GPU's lse, as it does in the model
      const { got: [dl] } = await checkOp(gpu, 'logprobBackward', ref.logprobBackward, [out(N * V), randArray(N, 33), logits, lse, targets, N, V], TOL);
      for (let n = 0; n < N; n++) if (targets[n] < 0) expect(Array.from(dl.slice(n * V, (n + 1) * V)).every((x) => x === 0)).toBe(true);
    });
  }

  const scaleCases: [number, number, number][] = [[10, 11, 1 / 0.7], [4, 300, 1 / 1.5], [3, 1000, 2.5]];
  for (const [N, V, scale] of scaleCases) {
    it(`with scale (tempered logits): forward, backward (chain factor), N=${N} V=${V} scale=${scale.toFixed(3)}`, async () => {
      const gpu = await testGpu();
      const logits = randArray(N * V, 131, 3);
      const targets = randInts(N, 132, 0, V);
      targets[1] = -1;
      const s32 = Math.fround(scale); // what the shader receives (the op rounds any scale so)
      const { got: [logp, lse], want: [, wantLse] } = await checkOp(gpu, 'logprobForward', ref.logprobForward, [out(N), out(N), logits, targets, N, V, s32], TOL);
      expect(logp[1]).toBe(0);
      const { got: [dl] } = await checkOp(gpu, 'logprobBackward', ref.logprobBackward, [out(N * V), randArray(N, 133), logits, lse, targets, N, V, s32], TOL);
      expect(dl.slice(V, 2 * V).every((x) => x === 0)).toBe(true);
      // the scale really acts: the unscaled op gives other values
      const tLogp = gpu.alloc('logp', N), tLse = gpu.alloc('lse', N);
      gpu.logprobForward(tLogp, tLse, upload(gpu, 'logits', logits), upload(gpu, 'targets', targets), N, V);
      expect(relErr(await gpu.read(tLse), wantLse)).toBeGreaterThan(1e-2);
    });
  }

  it('scale = 1 gives the same bits as no scale (V=300, and a large row)', async () => {
    // (Checked also against the shaders from before `scale` existed, Dawn and wgpu: identical bits.)
    const gpu = await testGpu();
    for (const [N, V] of [[4, 300], [2, 3000]]) {
      const logits = randArray(N * V, 141, 4), targets = randInts(N, 142, -1, V), dlogp = randArray(N, 143);
      const tLogits = upload(gpu, 'logits', logits), tTargets = upload(gpu, 'targets', targets), tDlogp = upload(gpu, 'dlogp', dlogp);
      const outs = async (scale?: number): Promise<Uint32Array[]> => {
        const tLogp = gpu.alloc('logp', N), tLse = gpu.alloc('lse', N), tDl = gpu.alloc('dlogits', N * V);
        gpu.logprobForward(tLogp, tLse, tLogits, tTargets, N, V, scale);
        gpu.logprobBackward(tDl, tDlogp, tLogits, tLse, tTargets, N, V, scale);
        return [bits(await gpu.read(tLogp)), bits(await gpu.read(tLse)), bits(await gpu.read(tDl))];
      };
      const a = await outs(), b = await outs(1);
      for (let i = 0; i < 3; i++) expect(b[i]).toEqual(a[i]);
    }
  });

  it('logsumexp stays finite for large logits (V=300)', async () => {
    const TOL_LARGE = 1e-5; // relative
    const N = 2, V = 300;
    const logits = randArray(N * V, 37, 1);
    for (let i = 0; i < N * V; i++) logits[i] += i < V ? 1000 : -1000;
    // logp is a difference of two ~1000-sized numbers: checked absolutely at float32 resolution below
    const { got: [logp], want: [wantLogp] } = await checkOp(await testGpu(), 'logprobForward', ref.logprobForward,
      [out(N), out(N), logits, Int32Array.from([5, 299]), N, V], [Infinity, TOL_LARGE]);
    for (let n = 0; n < N; n++) expect(Math.abs(logp[n] - wantLogp[n])).toBeLessThan(1e-3);
  });

  // The context folds a 1-D dispatch into (x, y) only past 65535 workgroups, far too many for
  // SwiftShader, so this dispatches a small explicit grid with spare workgroups straight through the
  // context: the shader's folded indexing and bounds checks are what is under test.
  it('logprob_forward on a folded 4×3 grid for 10 rows', async () => {
    const TOL_FOLDED = 1e-5; // relative
    const gpu = await testGpu();
    const N = 10, V = 11;
    const logits = randArray(N * V, 103), targets = randInts(N, 104, -1, V);
    const tLogp = gpu.alloc('logp', N), tLse = gpu.alloc('lse', N);
    gpu.ctx.dispatch('core/logprob_forward', [tLogp, tLse, upload(gpu, 'logits', logits), upload(gpu, 'targets', targets)], [U(N), U(V), F(1)], [4, 3, 1]);
    const wantLogp = new Float64Array(N), wantLse = new Float64Array(N);
    ref.logprobForward(wantLogp, wantLse, f64(logits), targets, N, V);
    expect(relErr(await gpu.read(tLse), wantLse)).toBeLessThan(TOL_FOLDED);
    expect(relErr(await gpu.read(tLogp), wantLogp)).toBeLessThan(TOL_FOLDED);
  });

  it('a tensor shorter than the op needs is an error naming the op and the tensor', async () => {
    const gpu = await testGpu();
    const t = (label: string, n: number, dtype: 'f32' | 'i32' = 'f32') => gpu.alloc(label, n, dtype);
    expect(() => gpu.logprobForward(t('lp', 2), t('lse', 2), t('lg', 9), t('tg', 2, 'i32'), 2, 5)).toThrow(/logprobForward: tensor "lg" has 9 elements, needs 10/);
  });
});
