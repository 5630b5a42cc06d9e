// GPU kernels of ops/nn.ts against the independent CPU references in src/engine/ref, on odd tiny
// shapes (SwiftShader is slow). References run in float64 on the same float32 inputs.
// Accumulating ops (+=) start from random outputs and are checked on what they added and in total.
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../backend.ts';
import * as amRef from '../../ref/argmax.ref.ts';
import * as embRef from '../../ref/embedding.ref.ts';
import * as lpRef from '../../ref/logprob.ref.ts';
import * as rmsRef from '../../ref/rmsnorm.ref.ts';
import * as smpRef from '../../ref/sample.ref.ts';
import * as swiRef from '../../ref/swiglu.ref.ts';
import { randArray, randInts, relErr, sub } from '../../ref/testutil.ts';
import type { WebGpuBackend } from '../backend.ts';
import { F, U } from '../context.ts';
import { testGpu } from '../testing.ts';

const f64 = (a: Float32Array): Float64Array => Float64Array.from(a);
const norm = (a: ArrayLike<number>): number => Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));

function put(gpu: WebGpuBackend, label: string, data: Float32Array | Int32Array): Tensor {
  const t = gpu.alloc(label, data.length, data instanceof Int32Array ? 'i32' : 'f32');
  gpu.upload(t, data);
  return t;
}

/** Bit patterns, so reproducibility checks see -0 vs 0 and NaN payloads. */
const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer.slice(0));

describe('embedding', () => {
  const TOL = 1e-5; // relative, float32 sums of a handful of rows vs float64
  const cases: [number, number, number][] = [[10, 12, 11], [1, 1, 1], [300, 5, 7], [5, 1030, 3]];
  for (const [N, C, V] of cases) {
    it(`forward and backward (+=), repeated ids, N=${N} C=${C} V=${V}`, async () => {
      const gpu = await testGpu();
      const ids = randInts(N, 1 + N, 0, V);
      if (N >= 3) { ids[0] = ids[2]; ids[N - 1] = ids[2]; } // repeats, at both ends of the scan
      const wte = randArray(V * C, 2);
      const dout = randArray(N * C, 3);
      const dwte0 = randArray(V * C, 4);
      const tIds = put(gpu, 'ids', ids), tWte = put(gpu, 'wte', wte), tDout = put(gpu, 'dout', dout);
      const tOut = put(gpu, 'out', randArray(N * C, 5)), tDwte = put(gpu, 'dwte', dwte0);
      gpu.embeddingForward(tOut, tIds, tWte, N, C);
      gpu.embeddingBackward(tDwte, tDout, tIds, N, C, V);
      const out = await gpu.read(tOut), dwte = await gpu.read(tDwte);

      const wantOut = new Float64Array(N * C);
      embRef.embeddingForward(wantOut, ids, f64(wte), N, C);
      expect(relErr(out, wantOut)).toBe(0); // a copy is exact
      const wantDwte = f64(dwte0);
      embRef.embeddingBackward(wantDwte, f64(dout), ids, N, C, V);
      expect(relErr(sub(dwte, dwte0), sub(wantDwte, dwte0))).toBeLessThan(TOL);
      expect(relErr(dwte, wantDwte)).toBeLessThan(TOL);

      // the same backward again from the same start is bit-identical
      gpu.upload(tDwte, dwte0);
      gpu.embeddingBackward(tDwte, tDout, tIds, N, C, V);
      expect(bits(await gpu.read(tDwte))).toEqual(bits(dwte));
    });
  }
});

describe('rmsnorm', () => {
  const TOL = 1e-5; // relative
  const eps = 1e-6;
  const cases: [number, number][] = [[10, 12], [1, 1], [3, 300], [300, 5]];
  for (const [N, C] of cases) {
    it(`forward, backward input (+=), backward weight (+=), N=${N} C=${C}`, async () => {
      const gpu = await testGpu();
      const inp = randArray(N * C, 11), w = randArray(C, 12), dout = randArray(N * C, 13);
      const dinp0 = randArray(N * C, 14), dw0 = randArray(C, 15);
      const tInp = put(gpu, 'inp', inp), tW = put(gpu, 'w', w), tDout = put(gpu, 'dout', dout);
      const tOut = put(gpu, 'out', randArray(N * C, 16)), tRstd = put(gpu, 'rstd', randArray(N, 17));
      const tDinp = put(gpu, 'dinp', dinp0), tDw = put(gpu, 'dw', dw0);
      gpu.rmsnormForward(tOut, tRstd, tInp, tW, N, C, eps);
      gpu.rmsnormBackwardInput(tDinp, tDout, tInp, tW, tRstd, N, C);
      gpu.rmsnormBackwardWeight(tDw, tDout, tInp, tRstd, N, C);
      const out = await gpu.read(tOut), rstd = await gpu.read(tRstd);
      const dinp = await gpu.read(tDinp), dw = await gpu.read(tDw);

      const wantOut = new Float64Array(N * C), wantRstd = new Float64Array(N);
      rmsRef.rmsnormForward(wantOut, wantRstd, f64(inp), f64(w), N, C, eps);
      expect(relErr(out, wantOut)).toBeLessThan(TOL);
      expect(relErr(rstd, wantRstd)).toBeLessThan(TOL);
      // the backward references take the GPU's rstd, so each kernel is checked on its own
      const wantDinp = f64(dinp0);
      rmsRef.rmsnormBackwardInput(wantDinp, f64(dout), f64(inp), f64(w), f64(rstd), N, C);
      // The increment's error is measured against the larger of itself and its first term dout·w·r:
      // at C=1 the two terms cancel (dinp ≈ w·r·eps/(x²+eps) ≈ 0) and a plain relative error is noise.
      let termSq = 0;
      for (let i = 0; i < N * C; i++) termSq += (dout[i] * w[i % C] * rstd[Math.floor(i / C)]) ** 2;
      const dWant = sub(wantDinp, dinp0);
      const dScale = Math.max(Math.sqrt(termSq), norm(dWant));
      expect(norm(sub(sub(dinp, dinp0), dWant)) / dScale).toBeLessThan(TOL);
      expect(relErr(dinp, wantDinp)).toBeLessThan(TOL);
      const wantDw = f64(dw0);
      rmsRef.rmsnormBackwardWeight(wantDw, f64(dout), f64(inp), f64(rstd), N, C);
      expect(relErr(sub(dw, dw0), sub(wantDw, dw0))).toBeLessThan(TOL);
      expect(relErr(dw, wantDw)).toBeLessThan(TOL);

      // reproducibility: run all three again from the same start
      gpu.upload(tDinp, dinp0);
      gpu.upload(tDw, dw0);
      gpu.rmsnormForward(tOut, tRstd, tInp, tW, N, C, eps);
      gpu.rmsnormBackwardInput(tDinp, tDout, tInp, tW, tRstd, N, C);
      gpu.rmsnormBackwardWeight(tDw, tDout, tInp, tRstd, N, C);
      expect(bits(await gpu.read(tOut))).toEqual(bits(out));
      expect(bits(await gpu.read(tRstd))).toEqual(bits(rstd));
      expect(bits(await gpu.read(tDinp))).toEqual(bits(dinp));
      expect(bits(await gpu.read(tDw))).toEqual(bits(dw));
    });
  }
});

describe('add + rmsnorm (a residual add fused into the next norm)', () => {
  const TOL = 1e-5; // relative
  const eps = 1e-6;
  for (const [N, C] of [[10, 12], [1, 1], [3, 300], [300, 5]] as [number, number][]) {
    it(`sum = x + d exactly as add, out and rstd as rmsnorm of the sum, N=${N} C=${C}`, async () => {
      const gpu = await testGpu();
      const x = randArray(N * C, 31), d = randArray(N * C, 32), w = randArray(C, 33);
      const tSum = put(gpu, 'sum', randArray(N * C, 34)), tOut = put(gpu, 'out', randArray(N * C, 35)), tRstd = put(gpu, 'rstd', randArray(N, 36));
      gpu.addRmsnormForward(tSum, tOut, tRstd, put(gpu, 'x', x), put(gpu, 'd', d), put(gpu, 'w', w), N, C, eps);
      const sum = await gpu.read(tSum);
      // float32 x + d is one rounding, the same on every machine: bit for bit.
      expect(bits(sum)).toEqual(bits(Float32Array.from(x, (v, i) => v + d[i])));
      const wantOut = new Float64Array(N * C), wantRstd = new Float64Array(N);
      rmsRef.rmsnormForward(wantOut, wantRstd, f64(sum), f64(w), N, C, eps);
      expect(relErr(await gpu.read(tOut), wantOut)).toBeLessThan(TOL);
      expect(relErr(await gpu.read(tRstd), wantRstd)).toBeLessThan(TOL);
    });
  }

  it('rejects a sum that aliases an input', async () => {
    const gpu = await testGpu();
    const t = gpu.alloc('x', 4), d = gpu.alloc('d', 4), o = gpu.alloc('o', 4), r = gpu.alloc('r', 1), w = gpu.alloc('w', 4);
    expect(() => gpu.addRmsnormForward(t, o, r, t, d, w, 1, 4, 1e-6)).toThrow(/alias/);
  });
});

describe('swiglu', () => {
  const TOL = 1e-5; // relative
  for (const n of [1000, 1]) {
    it(`forward and backward, n=${n}`, async () => {
      const gpu = await testGpu();
      const gate = randArray(n, 21, 3), up = randArray(n, 22), dout = randArray(n, 23);
      if (n > 2) { gate[0] = 100; gate[1] = -100; } // saturated sigmoid both ways
      const tGate = put(gpu, 'gate', gate), tUp = put(gpu, 'up', up), tDout = put(gpu, 'dout', dout);
      const tOut = put(gpu, 'out', randArray(n, 24));
      const tDg = put(gpu, 'dgate', randArray(n, 25)), tDu = put(gpu, 'dup', randArray(n, 26));
      gpu.swigluForward(tOut, tGate, tUp, n);
      gpu.swigluBackward(tDg, tDu, tDout, tGate, tUp, n);
      const out = await gpu.read(tOut), dg = await gpu.read(tDg), du = await gpu.read(tDu);
      const wantOut = new Float64Array(n), wantDg = new Float64Array(n), wantDu = new Float64Array(n);
      swiRef.swigluForward(wantOut, f64(gate), f64(up), n);
      swiRef.swigluBackward(wantDg, wantDu, f64(dout), f64(gate), f64(up), n);
      expect(relErr(out, wantOut)).toBeLessThan(TOL);
      expect(relErr(dg, wantDg)).toBeLessThan(TOL);
      expect(relErr(du, wantDu)).toBeLessThan(TOL);
    });
  }
});

describe('logprob and argmax', () => {
  const TOL = 1e-5; // relative
  const cases: [number, number][] = [[10, 11], [1, 1], [4, 300]];
  for (const [N, V] of cases) {
    it(`forward, backward (=), masked targets, N=${N} V=${V}`, async () => {
      const gpu = await testGpu();
      const logits = randArray(N * V, 31, 4);
      const targets = randInts(N, 32, 0, V);
      if (N > 2) { targets[1] = -1; targets[N - 1] = -100; }
      const dlogp = randArray(N, 33);
      const tLogits = put(gpu, 'logits', logits), tTargets = put(gpu, 'targets', targets), tDlogp = put(gpu, 'dlogp', dlogp);
      const tLogp = put(gpu, 'logp', randArray(N, 34)), tLse = put(gpu, 'lse', randArray(N, 35));
      const tDl = put(gpu, 'dlogits', randArray(N * V, 36));
      gpu.logprobForward(tLogp, tLse, tLogits, tTargets, N, V);
      gpu.logprobBackward(tDl, tDlogp, tLogits, tLse, tTargets, N, V);
      const logp = await gpu.read(tLogp), lse = await gpu.read(tLse), dl = await gpu.read(tDl);

      const wantLogp = new Float64Array(N), wantLse = new Float64Array(N);
      lpRef.logprobForward(wantLogp, wantLse, f64(logits), targets, N, V);
      expect(relErr(lse, wantLse)).toBeLessThan(TOL);
      expect(relErr(logp, wantLogp)).toBeLessThan(TOL);
      for (let n = 0; n < N; n++) if (targets[n] < 0) expect(logp[n]).toBe(0);
      const wantDl = new Float64Array(N * V);
      lpRef.logprobBackward(wantDl, f64(dlogp), f64(logits), f64(lse), targets, N, V);
      expect(relErr(dl, wantDl)).toBeLessThan(TOL);
      for (let n = 0; n < N; n++) if (targets[n] < 0) expect(Array.from(dl.slice(n * V, (n + 1) * V)).every((x) => x === 0)).toBe(true);

      gpu.logprobForward(tLogp, tLse, tLogits, tTargets, N, V);
      expect(bits(await gpu.read(tLse))).toEqual(bits(lse));
      expect(bits(await gpu.read(tLogp))).toEqual(bits(logp));
    });
  }

  const scaleCases: [number, number, number][] = [[10, 11, 1 / 0.7], [4, 300, 1 / 1.5], [3, 1000, 2.5]];
  for (const [N, V, scale] of scaleCases) {
    it(`with scale (tempered logits): forward, backward (chain factor), N=${N} V=${V} scale=${scale.toFixed(3)}`, async () => {
      const gpu = await testGpu();
      const logits = randArray(N * V, 131, 3);
      const targets = randInts(N, 132, 0, V);
      targets[1] = -1;
      const dlogp = randArray(N, 133);
      const tLogits = put(gpu, 'logits', logits), tTargets = put(gpu, 'targets', targets), tDlogp = put(gpu, 'dlogp', dlogp);
      const tLogp = put(gpu, 'logp', randArray(N, 134)), tLse = put(gpu, 'lse', randArray(N, 135));
      const tDl = put(gpu, 'dlogits', randArray(N * V, 136));
      gpu.logprobForward(tLogp, tLse, tLogits, tTargets, N, V, scale);
      gpu.logprobBackward(tDl, tDlogp, tLogits, tLse, tTargets, N, V, scale);
      const logp = await gpu.read(tLogp), lse = await gpu.read(tLse), dl = await gpu.read(tDl);
      const s32 = Math.fround(scale); // what the shader receives
      const wantLogp = new Float64Array(N), wantLse = new Float64Array(N);
      lpRef.logprobForward(wantLogp, wantLse, f64(logits), targets, N, V, s32);
      expect(relErr(lse, wantLse)).toBeLessThan(TOL);
      expect(relErr(logp, wantLogp)).toBeLessThan(TOL);
      expect(logp[1]).toBe(0);
      const wantDl = new Float64Array(N * V);
      lpRef.logprobBackward(wantDl, f64(dlogp), f64(logits), f64(lse), targets, N, V, s32);
      expect(relErr(dl, wantDl)).toBeLessThan(TOL);
      expect(dl.slice(V, 2 * V).every((x) => x === 0)).toBe(true);
      // the scale really acts: the unscaled op gives other values
      gpu.logprobForward(tLogp, tLse, tLogits, tTargets, N, V);
      expect(relErr(await gpu.read(tLse), wantLse)).toBeGreaterThan(1e-2);
    });
  }

  it('scale = 1 gives the same bits as no scale (V=300, and a large row)', async () => {
    // (Checked also against the shaders from before `scale` existed, Dawn and wgpu: identical bits.)
    const gpu = await testGpu();
    for (const [N, V] of [[4, 300], [2, 3000]]) {
      const logits = randArray(N * V, 141, 4), targets = randInts(N, 142, -1, V), dlogp = randArray(N, 143);
      const tLogits = put(gpu, 'logits', logits), tTargets = put(gpu, 'targets', targets), tDlogp = put(gpu, 'dlogp', dlogp);
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
    const gpu = await testGpu();
    const N = 2, V = 300;
    const logits = randArray(N * V, 37, 1);
    for (let i = 0; i < N * V; i++) logits[i] += i < V ? 1000 : -1000;
    const targets = Int32Array.from([5, 299]);
    const tLogp = gpu.alloc('logp', N), tLse = gpu.alloc('lse', N);
    gpu.logprobForward(tLogp, tLse, put(gpu, 'logits', logits), put(gpu, 'targets', targets), N, V);
    const wantLogp = new Float64Array(N), wantLse = new Float64Array(N);
    lpRef.logprobForward(wantLogp, wantLse, f64(logits), targets, N, V);
    expect(relErr(await gpu.read(tLse), wantLse)).toBeLessThan(TOL_LARGE);
    // logp is a difference of two ~1000-sized numbers: compare absolutely at float32 resolution there
    const logp = await gpu.read(tLogp);
    for (let n = 0; n < N; n++) expect(Math.abs(logp[n] - wantLogp[n])).toBeLessThan(1e-3);
  });

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
      const tOut = put(gpu, 'argmax', randInts(N, 42, -5, 5));
      // and into column 1 of an (N, 3) token matrix; the other columns keep their values
      const col0 = randInts(3 * N, 43, -9, -1);
      const tCol = put(gpu, 'tokens', col0);
      gpu.argmax(tOut, put(gpu, 'logits', logits), N, V, { tokens: tCol, offset: 1, stride: 3 });
      const got = await gpu.readInt(tOut);
      const want = new Int32Array(N);
      amRef.argmax(want, f64(logits), N, V);
      expect(Array.from(got)).toEqual(Array.from(want));
      const wantCol = Int32Array.from(col0);
      smpRef.writeColumn(wantCol, want, N, 1, 3);
      expect(Array.from(await gpu.readInt(tCol))).toEqual(Array.from(wantCol));
      if (V === 300) expect(Array.from(got)).toEqual([37, 5, 0]);
      if (V === 11) expect(Array.from(got.slice(0, 2))).toEqual([3, 0]);
    });
  }
});

// The context folds a 1-D dispatch into (x, y) only past 65535 workgroups, far too many for
// SwiftShader here (> 2 min), so these dispatch small explicit 2-D grids with spare workgroups
// straight through the context: the shaders' `wid.x + wid.y * nwg.x` indexing and bounds checks
// are what is under test (the params repeat ops/nn.ts).
describe('folded (x, y) grids', () => {
  it('row kernels: rmsnorm_forward, argmax, logprob_forward, embedding_backward on a 4×3 grid for 10 rows', async () => {
    const TOL = 1e-5; // relative
    const gpu = await testGpu();
    const N = 10, C = 12, V = 11;
    const inp = randArray(N * C, 101), w = randArray(C, 102), logits = randArray(N * V, 103);
    const targets = randInts(N, 104, -1, V), ids = randInts(N, 105, 0, V);
    const tOut = gpu.alloc('out', N * C), tRstd = gpu.alloc('rstd', N), tAm = gpu.alloc('argmax', N, 'i32'), tCol = gpu.alloc('tokens', N, 'i32');
    const tLogp = gpu.alloc('logp', N), tLse = gpu.alloc('lse', N);
    const dwte0 = randArray(V * C, 106);
    const tInp = put(gpu, 'inp', inp), tLogits = put(gpu, 'logits', logits), tDwte = put(gpu, 'dwte', dwte0);
    const grid: [number, number, number] = [4, 3, 1];
    gpu.ctx.dispatch('core/rmsnorm_forward', [tOut, tRstd, tInp, put(gpu, 'w', w)], [U(N), U(C), F(1e-6)], grid);
    gpu.ctx.dispatch('core/argmax', [tAm, tCol, tLogits], [U(N), U(V), U(0), U(1)], grid);
    gpu.ctx.dispatch('core/logprob_forward', [tLogp, tLse, tLogits, put(gpu, 'targets', targets)], [U(N), U(V), F(1)], grid);
    gpu.ctx.dispatch('core/embedding_backward', [tDwte, tInp, put(gpu, 'ids', ids)], [U(N), U(C), U(V)], grid);
    const wantOut = new Float64Array(N * C), wantRstd = new Float64Array(N);
    rmsRef.rmsnormForward(wantOut, wantRstd, f64(inp), f64(w), N, C, 1e-6);
    expect(relErr(await gpu.read(tOut), wantOut)).toBeLessThan(TOL);
    expect(relErr(await gpu.read(tRstd), wantRstd)).toBeLessThan(TOL);
    const wantAm = new Int32Array(N);
    amRef.argmax(wantAm, f64(logits), N, V);
    expect(Array.from(await gpu.readInt(tAm))).toEqual(Array.from(wantAm));
    expect(Array.from(await gpu.readInt(tCol))).toEqual(Array.from(wantAm));
    const wantLogp = new Float64Array(N), wantLse = new Float64Array(N);
    lpRef.logprobForward(wantLogp, wantLse, f64(logits), targets, N, V);
    expect(relErr(await gpu.read(tLse), wantLse)).toBeLessThan(TOL);
    expect(relErr(await gpu.read(tLogp), wantLogp)).toBeLessThan(TOL);
    const wantDwte = f64(dwte0);
    embRef.embeddingBackward(wantDwte, f64(inp), ids, N, C, V);
    expect(relErr(await gpu.read(tDwte), wantDwte)).toBeLessThan(TOL);
  });

  it('elementwise kernels: swiglu_forward on a 2×3 grid of 256 for n=1000', async () => {
    const TOL = 1e-5; // relative
    const gpu = await testGpu();
    const n = 1000;
    const gate = randArray(n, 111), up = randArray(n, 112);
    const tOut = gpu.alloc('out', n);
    const grid: [number, number, number] = [2, 3, 1];
    gpu.ctx.dispatch('core/swiglu_forward', [tOut, put(gpu, 'gate', gate), put(gpu, 'up', up)], [U(n)], grid);
    const want = new Float64Array(n);
    swiRef.swigluForward(want, f64(gate), f64(up), n);
    expect(relErr(await gpu.read(tOut), want)).toBeLessThan(TOL);
  });
});

describe('size checks', () => {
  it('a tensor shorter than the op needs is an error naming the op and the tensor, not a silent clamp', async () => {
    const gpu = await testGpu();
    const t = (label: string, n: number, dtype: 'f32' | 'i32' = 'f32') => gpu.alloc(label, n, dtype);
    expect(() => gpu.add(t('out', 5), t('a', 6), t('b', 6), 6)).toThrow(/add: tensor "out" has 5 elements, needs 6/);
    expect(() => gpu.rmsnormForward(t('o', 12), t('rstd', 2), t('x', 12), t('w', 5), 2, 6, 1e-6)).toThrow(/rmsnormForward: tensor "w" has 5/);
    expect(() => gpu.swigluBackward(t('dg', 4), t('du', 4), t('d', 4), t('g', 3), t('u', 4), 4)).toThrow(/swigluBackward: tensor "g"/);
    expect(() => gpu.logprobForward(t('lp', 2), t('lse', 2), t('lg', 9), t('tg', 2, 'i32'), 2, 5)).toThrow(/logprobForward: tensor "lg" has 9 elements, needs 10/);
    expect(() => gpu.embeddingForward(t('e', 8), t('ids', 1, 'i32'), t('wte', 40), 2, 4)).toThrow(/embeddingForward: tensor "ids"/);
  });
});
