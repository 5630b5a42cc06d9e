// The sampling kernel (shaders/core/sample.wgsl) against the independent float64 reference in
// ../../ref/sample.ref.ts, on odd vocabularies (11, 99, 300, 1000, and one 50257-wide row), every
// top-p regime (1 keeps all; 0.9, 0.5; 0.05 usually keeps one token) and temperatures 0.7, 1, 1.5.
//  - ids must equal the reference's. The GPU decides in float32, so a draw whose u · M or topP lies
//    within DELTA (relative) of a decision boundary could legitimately round the other way on some
//    GPU: such a draw must still pick a token the reference picks for a nudged u or topP, and at
//    most 1% of draws may need it (on SwiftShader and lavapipe none do).
//  - logp and entropy within 1e-5 relative, per element.
//  - ties at the threshold all kept, also across threads' chunks; nothing outside top-p is drawn.
//  - the empirical distribution over many draws matches p restricted and renormalised (χ²; the
//    draws come from the counter hash with fixed seeds, so the bound is deterministic, no flake).
//  - same seed → the same bits; offset/stride land where told and nothing else is written; the token
//    column (tokens[b·stride + offset], the decoder's output matrix) gets the ids, nothing else.
// Not through checkOp (../op-test.ts): its exact i32 match and relative L2 norm are not this contract
// (ids with a boundary allowance, logp and entropy per element).
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../backend.ts';
import { CpuBackend } from '../../cpu/backend.ts';
import * as ref from '../../ref/sample.ref.ts';
import { randArray } from '../../ref/testutil.ts';
import type { WebGpuBackend } from '../backend.ts';
import { F, U } from '../context.ts';
import { testGpu } from '../testing.ts';

/** Relative width of a decision boundary the float32 kernel may resolve either way. */
const DELTA = 1e-5;

function put(gpu: WebGpuBackend, label: string, data: Float32Array | Int32Array): Tensor {
  const t = gpu.alloc(label, data.length, data instanceof Int32Array ? 'i32' : 'f32');
  gpu.upload(t, data);
  return t;
}

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer.slice(0));

/** The ids the reference draws for row b when u and topP are nudged by ±DELTA. */
function nearIds(row: Float32Array, T: number, topP: number, u: number): Set<number> {
  const { p } = ref.temperedSoftmax(row, T);
  const out = new Set<number>();
  for (const tp of [topP * (1 - DELTA), topP, Math.min(1, topP * (1 + DELTA))]) {
    const tau = ref.topPThreshold(p, tp);
    for (const uu of [u * (1 - DELTA), u, Math.min(1 - 2 ** -24, u * (1 + DELTA) + DELTA * 1e-3)]) out.add(ref.pickToken(p, tau, uu));
  }
  return out;
}

interface Draw { ids: Int32Array; logp: Float32Array; entropy: Float32Array }

async function gpuSample(gpu: WebGpuBackend, logits: Float32Array, B: number, V: number, T: number, topP: number, seed: number): Promise<Draw> {
  const tIds = gpu.alloc('ids', B, 'i32'), tLp = gpu.alloc('logp', B), tEnt = gpu.alloc('entropy', B);
  const tL = put(gpu, 'logits', logits);
  // the token column: every other entry from 1 of a (B, 2) + 1 matrix prefilled with −7
  const tCol = put(gpu, 'column', new Int32Array(2 * B + 1).fill(-7));
  gpu.sample(tIds, tLp, tEnt, tL, B, V, T, topP, seed, 0, 1, { tokens: tCol, offset: 1, stride: 2 });
  const out = { ids: await gpu.readInt(tIds), logp: await gpu.read(tLp), entropy: await gpu.read(tEnt) };
  const col = await gpu.readInt(tCol);
  expect(Array.from(col)).toEqual(Array.from(col, (_, i) => (i % 2 === 1 ? out.ids[(i - 1) / 2] : -7)));
  for (const t of [tIds, tLp, tEnt, tL, tCol]) gpu.free(t);
  return out;
}

/** Checks one batch against the reference; returns how many draws needed the boundary allowance. */
function check(got: Draw, logits: Float32Array, B: number, V: number, T: number, topP: number, seed: number): number {
  const TOL = 1e-5; // relative, per element: float32 exp/log sums against float64
  const ids = new Int32Array(B), logp = new Float64Array(B), ent = new Float64Array(B);
  ref.sample(ids, logp, ent, logits, B, V, T, topP, seed, 0, 1);
  let nudged = 0;
  for (let b = 0; b < B; b++) {
    const row = logits.subarray(b * V, (b + 1) * V);
    if (got.ids[b] !== ids[b]) {
      nudged++;
      expect(nearIds(row, T, topP, ref.sampleUniform(seed, b)).has(got.ids[b]), `row ${b}: GPU id ${got.ids[b]}, reference ${ids[b]}`).toBe(true);
    }
    const wantLogp = ref.temperedSoftmax(row, T).logp[got.ids[b]];
    expect(Math.abs(got.logp[b] - wantLogp)).toBeLessThanOrEqual(TOL * Math.abs(wantLogp) + 1e-30);
    expect(Math.abs(got.entropy[b] - ent[b])).toBeLessThanOrEqual(TOL * ent[b] + 1e-30);
  }
  return nudged;
}

describe('sample: ids equal the reference; logp and entropy to 1e-5', () => {
  const B = 16;
  for (const V of [11, 99, 300, 1000]) {
    it(`V=${V}: T ∈ {0.7, 1, 1.5} × topP ∈ {1, 0.9, 0.5, 0.05} × 3 seeds, ${B} rows each`, async () => {
      const gpu = await testGpu();
      let draws = 0, nudged = 0, kept1 = 0;
      for (const T of [0.7, 1, 1.5]) {
        for (const topP of [1, 0.9, 0.5, 0.05]) {
          const logits = randArray(B * V, 7 * V + Math.round(10 * T) + Math.round(100 * topP), 3);
          for (const seed of [1, 0xdeadbeef, 31337 + V]) {
            const got = await gpuSample(gpu, logits, B, V, T, topP, seed);
            nudged += check(got, logits, B, V, T, topP, seed);
            draws += B;
            if (topP === 0.05) kept1 += B;
          }
        }
      }
      expect(kept1).toBeGreaterThan(0);
      expect(nudged).toBeLessThanOrEqual(Math.floor(draws / 100));
    });
  }

  it('one 50257-wide row and V=1', async () => {
    const gpu = await testGpu();
    const V = 50257, B = 2;
    const logits = randArray(B * V, 11, 2);
    for (const [T, topP] of [[1, 0.9], [0.7, 1]]) {
      const got = await gpuSample(gpu, logits, B, V, T, topP, 99);
      expect(check(got, logits, B, V, T, topP, 99)).toBe(0);
    }
    const one = await gpuSample(gpu, Float32Array.from([0.3, -2]), 2, 1, 1, 0.5, 3);
    expect(Array.from(one.ids)).toEqual([0, 0]);
    expect(Array.from(one.logp)).toEqual([0, 0]);
    expect(Array.from(one.entropy)).toEqual([0, 0]);
  });

  it('a confident row keeps relative precision in logp ≈ −R and entropy', async () => {
    const gpu = await testGpu();
    const V = 300;
    const logits = randArray(V, 12, 1);
    logits[123] = 20; // p ≈ 1 − 1e-7·V
    const got = await gpuSample(gpu, logits, 1, V, 1, 1, 5);
    expect(got.ids[0]).toBe(123);
    expect(check(got, logits, 1, V, 1, 1, 5)).toBe(0);
    expect(got.logp[0]).toBeLessThan(0);
  });
});

describe('sample: top-p set', () => {
  it('ties at τ are all kept, also across threads, and nothing else is drawn', async () => {
    const gpu = await testGpu();
    // V=1000: four tokens share the top logit, in different threads' chunks (chunk = 4 columns);
    // each has p ≈ 0.2, so topP 0.3 needs two of them and τ keeps all four.
    const V = 1000, n = 512;
    const row = randArray(V, 21, 0.5);
    const top = [3, 250, 251, 998];
    for (const v of top) row[v] = 8;
    const logits = new Float32Array(n * V);
    for (let b = 0; b < n; b++) logits.set(row, b * V);
    const got = await gpuSample(gpu, logits, n, V, 1, 0.3, 4242);
    expect(check(got, logits, n, V, 1, 0.3, 4242)).toBe(0);
    const seen = new Set(got.ids);
    expect([...seen].sort((a, b) => a - b)).toEqual(top);
  });
});

/** Pearson's χ² of counts against probabilities q (Σq = 1) over the entries with q > 0. */
function chiSquare(counts: ArrayLike<number>, q: ArrayLike<number>, n: number): number {
  let x2 = 0;
  for (let v = 0; v < q.length; v++) if (q[v] > 0) x2 += (counts[v] - n * q[v]) ** 2 / (n * q[v]);
  return x2;
}

describe('sample: empirical distribution over many draws', () => {
  // 1024 rows with the same logits are 1024 draws per dispatch (the hash counter is the row); two
  // seeds. (SwiftShader runs ~10 ms per workgroup; the reference's own test draws 40000.)
  const cases: [number, number, number, number][] = [[11, 1, 1, 5], [99, 0.7, 0.9, 6], [300, 1.5, 0.5, 7]];
  for (const [V, T, topP, seed] of cases) {
    it(`matches p restricted to top-p and renormalised (χ²), V=${V} T=${T} topP=${topP}`, async () => {
      const gpu = await testGpu();
      const n = 1024;
      const row = randArray(V, 60 + V, 1.5);
      const logits = new Float32Array(n * V);
      for (let b = 0; b < n; b++) logits.set(row, b * V);
      const { p } = ref.temperedSoftmax(row, T);
      const tau = ref.topPThreshold(p, topP);
      let mass = 0;
      for (const x of p) if (x >= tau) mass += x;
      const q = Array.from(p, (x) => (x >= tau ? x / mass : 0));
      const counts = new Array<number>(V).fill(0);
      let draws = 0;
      for (const s of [seed, seed + 1000]) {
        const got = await gpuSample(gpu, logits, n, V, T, topP, s);
        for (const id of got.ids) counts[id]++;
        draws += n;
      }
      for (let v = 0; v < V; v++) if (q[v] === 0) expect(counts[v]).toBe(0);
      const kept = q.filter((x) => x > 0).length;
      if (topP < 1) expect(kept).toBeLessThan(V);
      // χ² with kept − 1 degrees of freedom (mean df, sd √(2df)); bound df + 6√(2df) + 6, a p-value far
      // below 1e-6 for a correct sampler. Deterministic draws: it cannot flake.
      const df = Math.max(kept - 1, 1);
      expect(chiSquare(counts, q, draws)).toBeLessThan(df + 6 * Math.sqrt(2 * df) + 6);
    });
  }
});

describe('sample: determinism, where it writes, folded grids, CPU backend, validation', () => {
  it('the same seed gives the same bits; another seed changes the draws', async () => {
    const gpu = await testGpu();
    const B = 64, V = 300;
    const logits = randArray(B * V, 71, 2);
    const a = await gpuSample(gpu, logits, B, V, 1, 0.9, 123);
    const b = await gpuSample(gpu, logits, B, V, 1, 0.9, 123);
    const c = await gpuSample(gpu, logits, B, V, 1, 0.9, 124);
    expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
    expect(bits(b.logp)).toEqual(bits(a.logp));
    expect(bits(b.entropy)).toEqual(bits(a.entropy));
    expect(Array.from(c.ids)).not.toEqual(Array.from(a.ids));
    expect(bits(c.entropy)).toEqual(bits(a.entropy)); // entropy does not depend on the draw
  });

  it('offset/stride and the token column: writes land at b·stride + offset; nothing else is touched; the CPU backend agrees', async () => {
    const gpu = await testGpu();
    const cpu = new CpuBackend();
    const B = 3, V = 99, stride = 5, offset = 2, T = 0.7, topP = 0.9, seed = 77;
    const logits = randArray(B * V, 81, 2);
    const ids0 = Int32Array.from({ length: B + 2 }, (_, i) => -10 - i);
    const lp0 = Float32Array.from({ length: B * stride + 1 }, (_, i) => 1000 + i);
    const ent0 = Float32Array.from({ length: B * stride + 1 }, (_, i) => 2000 + i);
    const colOffset = 3, colStride = 4; // column 3 of a (B, 4) matrix with a spare row
    const col0 = Int32Array.from({ length: (B + 1) * colStride }, (_, i) => -100 - i);
    const run = async (be: WebGpuBackend | CpuBackend): Promise<[Int32Array, Float32Array, Float32Array, Int32Array]> => {
      const tIds = be.alloc('ids', ids0.length, 'i32'), tLp = be.alloc('logp', lp0.length), tEnt = be.alloc('ent', ent0.length);
      const tCol = be.alloc('col', col0.length, 'i32');
      be.upload(tIds, ids0);
      be.upload(tLp, lp0);
      be.upload(tEnt, ent0);
      be.upload(tCol, col0);
      const tL = be.alloc('logits', logits.length);
      be.upload(tL, logits);
      be.sample(tIds, tLp, tEnt, tL, B, V, T, topP, seed, offset, stride, { tokens: tCol, offset: colOffset, stride: colStride });
      return [await be.readInt(tIds), await be.read(tLp), await be.read(tEnt), await be.readInt(tCol)];
    };
    const [ids, lp, ent, col] = await run(gpu);
    const [cIds, cLp, cEnt, cCol] = await run(cpu);
    expect(Array.from(ids.slice(B))).toEqual(Array.from(ids0.slice(B)));
    expect(Array.from(cIds)).toEqual(Array.from(ids));
    const wantCol = Int32Array.from(col0);
    ref.writeColumn(wantCol, ids, B, colOffset, colStride);
    expect(Array.from(col)).toEqual(Array.from(wantCol));
    expect(Array.from(cCol)).toEqual(Array.from(wantCol));
    const want = new Int32Array(B), wantLp = new Float64Array(B * stride + 1), wantEnt = new Float64Array(B * stride + 1);
    ref.sample(want, wantLp, wantEnt, logits, B, V, T, topP, seed, offset, stride);
    expect(Array.from(ids.slice(0, B))).toEqual(Array.from(want));
    for (let i = 0; i < lp0.length; i++) {
      const b = (i - offset) / stride;
      if (Number.isInteger(b) && b >= 0 && b < B) {
        expect(Math.abs(lp[i] - wantLp[i])).toBeLessThan(1e-5 * Math.abs(wantLp[i]));
        expect(Math.abs(ent[i] - wantEnt[i])).toBeLessThan(1e-5 * wantEnt[i]);
        expect(cLp[i]).toBe(Math.fround(wantLp[i]));
        expect(cEnt[i]).toBe(Math.fround(wantEnt[i]));
      } else {
        expect([lp[i], ent[i], cLp[i], cEnt[i]]).toEqual([lp0[i], ent0[i], lp0[i], ent0[i]]);
      }
    }
  });

  // The context folds a 1-D dispatch past 65535 workgroups only, too many for SwiftShader: dispatch a
  // 4×3 grid for 10 rows directly (two spare workgroups), as ops/sample.ts would encode it.
  it('a folded 4×3 grid for B=10 rows', async () => {
    const gpu = await testGpu();
    const B = 10, V = 99, T = 1.5, topP = 0.5, seed = 9;
    const logits = randArray(B * V, 91, 3);
    const tIds = put(gpu, 'ids', new Int32Array(B + 1).fill(-1)), tCol = put(gpu, 'col', new Int32Array(B + 1).fill(-1));
    const tLp = gpu.alloc('logp', B + 1), tEnt = gpu.alloc('ent', B + 1);
    gpu.ctx.dispatch('core/sample', [tIds, tCol, tLp, tEnt, put(gpu, 'logits', logits)],
      [U(B), U(V), F(1 / T), F(topP), U(seed), U(0), U(1), U(1), U(1)], [4, 3, 1]);
    const got: Draw = { ids: (await gpu.readInt(tIds)).slice(0, B), logp: (await gpu.read(tLp)).slice(0, B), entropy: (await gpu.read(tEnt)).slice(0, B) };
    expect(check(got, logits, B, V, T, topP, seed)).toBe(0);
    expect((await gpu.readInt(tIds))[B]).toBe(-1);
    expect(Array.from(await gpu.readInt(tCol))).toEqual([-1, ...got.ids]);
  });

  it('rejects bad settings, aliasing and short tensors', async () => {
    const gpu = await testGpu();
    const ids = gpu.alloc('ids', 2, 'i32'), lp = gpu.alloc('lp', 4), ent = gpu.alloc('ent', 4), l = gpu.alloc('l', 6);
    const c = { tokens: gpu.alloc('col', 4, 'i32'), offset: 1, stride: 2 };
    expect(() => gpu.sample(ids, lp, ent, l, 2, 3, 0, 1, 0, 0, 1, c)).toThrow(/temperature/);
    expect(() => gpu.sample(ids, lp, ent, l, 2, 3, 1, 0, 0, 0, 1, c)).toThrow(/topP/);
    expect(() => gpu.sample(ids, lp, ent, l, 2, 3, 1, 1.5, 0, 0, 1, c)).toThrow(/topP/);
    expect(() => gpu.sample(ids, lp, lp, l, 2, 3, 1, 1, 0, 0, 1, c)).toThrow(/distinct/);
    expect(() => gpu.sample(ids, lp, ent, l, 2, 3, 1, 1, 0, 2, 3, c)).toThrow(/lp/); // index 5 ≥ 4
    expect(() => gpu.sample(ids, lp, ent, l, 2, 4, 1, 1, 0, 0, 1, c)).toThrow(/"l"/);
    expect(() => gpu.sample(ids, lp, ent, l, 2, 3, 1, 1, 0.5, 0, 1, c)).toThrow(/seed/);
    expect(() => gpu.sample(ids, lp, ent, l, 2, 3, 1, 1, 0, 0, 1, { ...c, offset: 2 })).toThrow(/"col" has 4 elements, needs 5/);
    expect(() => gpu.sample(ids, lp, ent, l, 2, 3, 1, 1, 0, 0, 1, { ...c, stride: 0 })).toThrow(/column stride 0/);
    expect(() => gpu.sample(ids, lp, ent, l, 2, 3, 1, 1, 0, 0, 1, { ...c, tokens: ids })).toThrow(/distinct/);
    expect(() => gpu.sample(ids, lp, ent, l, 2, 3, 1, 1, 0, 0, 1, { ...c, tokens: lp })).toThrow(/i32/);
    expect(() => gpu.sample(ids, lp, ent, l, 2, 3, 1, 1, 0, 0, 1, { ...c, rows: Int32Array.from([1, 0]) })).toThrow(/row map/);
  });
});
