// The spectral probe against updates whose answer is known: an update inside W_0's top-k singular
// subspace has principal share 1, one orthogonal to it 0, a random one about k²/(m·n); on a model
// (the tiny HF fixture, full fine-tuning and LoRA) through the probe as `npm run train` uses it; and
// the same records measured on a worker thread, in order, with a fallback when the thread fails.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../engine/backend.ts';
import { SimdCpuBackend } from '../engine/cpu/simd/backend.ts';
import { testGpu } from '../engine/webgpu/testing.ts';
import { Model } from '../model/model.ts';
import { defaultPeftConfig, getMethod } from './registry.ts';
import { baseOf, effectiveRank, largestAngle, leftSubspace, measure, SpectralProbe, type SpectralRecord } from './spectral.ts';
import { SpectralThread } from './spectral-thread.ts';
import { nodeSpectralThread } from './spectral-thread.node.ts';
import { svd } from './svd.ts';
import { fixtureWeights, mcfg } from './testing.ts';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return ((s >>> 8) / 2 ** 24) * 2 - 1;
  };
}
const randn = (len: number, seed: number) => { const r = rng(seed); return Float32Array.from({ length: len }, () => r()); };

/** Σ_{i∈I, j∈J} c_ij u_i v_jᵀ from W_0's singular vectors (indices below min(m, n)). */
function combo(w0: Float32Array, m: number, n: number, I: number[], J: number[], seed: number): Float32Array {
  const d = svd(w0, m, n), r = rng(seed), out = new Float32Array(m * n);
  for (const i of I) for (const j of J) {
    const c = r();
    for (let a = 0; a < m; a++) for (let b = 0; b < n; b++) out[a * n + b] += c * d.U[a * d.k + i] * d.V[b * d.k + j];
  }
  return out;
}
const plus = (a: Float32Array, b: Float32Array) => a.map((x, i) => x + b[i]);

describe('principal share of a hand-built update', () => {
  const m = 24, n = 40, ks = [2, 6];
  const w0 = randn(m * n, 1);
  const base = baseOf('w', w0, m, n, ks);

  it('inside the top-k subspace: 1; orthogonal to it: 0; to float64 rounding', () => {
    const inside = measure(base, plus(w0, combo(w0, m, n, [0, 1], [0, 1], 2)));
    for (const s of inside.share) expect(Math.abs(s - 1)).toBeLessThan(1e-5); // W_now is stored in float32: ~1e-7 relative
    const outside = measure(base, plus(w0, combo(w0, m, n, [10, 15, 20], [12, 23], 3)));
    for (const s of outside.share) expect(s).toBeLessThan(1e-5);
    // Top-6 but not top-2: counted at k = 6 only.
    const middle = measure(base, plus(w0, combo(w0, m, n, [3, 4], [4, 5], 4)));
    expect(middle.share[0]).toBeLessThan(1e-5);
    expect(Math.abs(middle.share[1] - 1)).toBeLessThan(1e-5);
  });

  it('a random update: about k²/(m·n) (mean over 40 draws within 4 standard errors)', () => {
    for (let ki = 0; ki < ks.length; ki++) {
      const xs = Array.from({ length: 40 }, (_, s) => measure(base, plus(w0, randn(m * n, 100 + s).map((x) => 1e-2 * x))).share[ki]);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const se = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1) / xs.length);
      const want = (ks[ki] * ks[ki]) / (m * n);
      expect(Math.abs(mean - want)).toBeLessThan(4 * se);
    }
  });

  it('effective rank, singular values and principal angles', () => {
    expect(effectiveRank([3, 0, 0])).toBeCloseTo(1, 12);
    expect(effectiveRank([2, 2, 2, 2])).toBeCloseTo(4, 12);
    const rank1 = measure(base, plus(w0, combo(w0, m, n, [5], [7], 5)));
    expect(rank1.effRank).toBeLessThan(1.001);
    expect(rank1.sv[1] / rank1.sv[0]).toBeLessThan(1e-4);
    const { U } = leftSubspace(w0, m, n, 6);
    expect(largestAngle(U, U, m, 6, 6)).toBeLessThan(1e-3);
    // A rotation of the top-2 subspace by 30° towards u_10 moves the largest angle to 30°.
    const d = svd(w0, m, n), c = Math.cos(Math.PI / 6), s = Math.sin(Math.PI / 6);
    const R = new Float64Array(m * 2);
    for (let a = 0; a < m; a++) { R[a * 2] = c * d.U[a * d.k] + s * d.U[a * d.k + 10]; R[a * 2 + 1] = d.U[a * d.k + 1]; }
    const U2 = new Float64Array(m * 2);
    for (let a = 0; a < m; a++) { U2[a * 2] = d.U[a * d.k]; U2[a * 2 + 1] = d.U[a * d.k + 1]; }
    expect(largestAngle(U2, R, m, 2, 2)).toBeCloseTo(30, 6);
  });
});

describe('principal angles on both sides', () => {
  // measure() takes the cosines U₀ᵀU_now from V_now when m > n (no m×n×K product for U_now): the
  // angles agree with largestAngle on U_now from leftSubspace, for a wide and a tall weight.
  for (const [m, n] of [[24, 40], [40, 24]]) it(`${m}×${n}`, () => {
    const ks = [2, 6], w0 = randn(m * n, 11), base = baseOf('w', w0, m, n, ks);
    const wNow = plus(w0, randn(m * n, 12).map((x) => 0.05 * x));
    const got = measure(base, wNow), { U } = leftSubspace(wNow, m, n, 6);
    for (let i = 0; i < ks.length; i++) {
      const want = largestAngle(base.U, U, m, 6, ks[i]);
      expect(want).toBeGreaterThan(0.1);
      expect(Math.abs(got.angle[i] - want)).toBeLessThan(1e-6);
    }
  });
});

// The same cases on both backends: the probe reads the weights (merged on the backend for adapters),
// so the numbers must agree wherever the model runs.
const BACKENDS: [string, () => Promise<Backend>][] = [
  ['the CPU backend', () => SimdCpuBackend.create({ threads: 1 })],
  ['WebGPU (Dawn)', testGpu],
];

for (const [where, makeBackend] of BACKENDS) describe(`the probe on a model, on ${where}`, () => {
  const weights = fixtureWeights();

  it('full fine-tuning: a weight moved inside its top-k subspace reads 1, another moved off it reads 0, the rest 0 change', async () => {
    const be = await makeBackend();
    const model = new Model(be, mcfg, weights);
    const inst = await getMethod('full').attach(model, defaultPeftConfig('full'));
    const probe = await SpectralProbe.create(inst, mcfg);
    expect(probe.layerCount).toBe(7 * mcfg.layers);
    const q = 'model.layers.0.self_attn.q_proj.weight', up = 'model.layers.1.mlp.up_proj.weight';
    const [qm, qn] = [mcfg.heads * mcfg.headDim, mcfg.hidden], [um, un] = [mcfg.intermediate, mcfg.hidden];
    const wq = weights.get(q)!, wu = weights.get(up)!;
    const before = await probe.record(0);
    const kq = before.layers.find((l) => l.name === q)!.ks;
    be.upload(model.p(q), plus(wq, combo(wq, qm, qn, [0], [0], 7).map((x) => 0.05 * x)));
    be.upload(model.p(up), plus(wu, combo(wu, um, un, [kq[kq.length - 1] + 3], [kq[kq.length - 1] + 5], 8).map((x) => 0.05 * x)));
    const r = await probe.record(1);
    const lq = r.layers.find((l) => l.name === q)!, lu = r.layers.find((l) => l.name === up)!;
    for (const s of lq.share) expect(Math.abs(s - 1)).toBeLessThan(1e-3); // float32 weights: the update is ~1e-3 of W
    for (const s of lu.share) expect(s).toBeLessThan(1e-3);
    expect(r.layers.filter((l) => l.norm > 0).map((l) => l.name).sort()).toEqual([up, q].sort());
    expect(r.mean.share.length).toBe(lq.ks.length);
    inst.detach();
    model.free();
  });

  it('LN tuning has nothing to measure (norm vectors only); LoRA and IA³ do', async () => {
    const model = new Model(await makeBackend(), mcfg, weights);
    for (const [method, measures] of [['ln_tuning', false], ['lora', true], ['ia3', true]] as const) {
      const inst = await getMethod(method).attach(model, defaultPeftConfig(method));
      const probe = await SpectralProbe.create(inst, mcfg);
      expect(probe.measures, method).toBe(measures);
      inst.detach();
    }
    model.free();
  });

  it('LoRA: B = 0 at init reads no update; after a perturbation of B, an update of rank ≤ r', async () => {
    const be = await makeBackend();
    const model = new Model(be, mcfg, weights);
    const inst = await getMethod('lora').attach(model, { ...defaultPeftConfig('lora'), r: 2, alpha: 4 });
    const probe = await SpectralProbe.create(inst, mcfg);
    expect((await probe.record(0)).layers.every((l) => l.norm === 0)).toBe(true);
    const snap = await inst.snapshot();
    inst.load(new Map([...snap].map(([name, d]) => [name, name.includes('lora_B') ? d.map((_, i) => 0.01 * Math.sin(i)) : d])));
    const r = await probe.record(1);
    for (const l of r.layers) {
      expect(l.norm).toBeGreaterThan(0);
      expect(l.effRank).toBeLessThanOrEqual(2 + 1e-6);
    }
    inst.detach();
    model.free();
  });
});

describe('the probe agrees across backends', () => {
  it('a LoRA update merged on WebGPU reads the same shares as on the CPU backend', async () => {
    const weights = fixtureWeights();
    const shares: number[][] = [];
    for (const [, makeBackend] of BACKENDS) {
      const model = new Model(await makeBackend(), mcfg, weights);
      const inst = await getMethod('lora').attach(model, { ...defaultPeftConfig('lora'), r: 2, alpha: 4, seed: 3 });
      const probe = await SpectralProbe.create(inst, mcfg);
      const snap = await inst.snapshot();
      inst.load(new Map([...snap].map(([name, d]) => [name, name.includes('lora_B') ? d.map((_, i) => 0.01 * Math.cos(3 * i)) : d])));
      shares.push((await probe.record(1)).layers.flatMap((l) => l.share));
      inst.detach();
      model.free();
    }
    expect(shares[0].length).toBeGreaterThan(0);
    // Here they agree to the bit; a float32 merge summed in another order on another GPU could move
    // W_now by ~1e-7 relative, far below this bound.
    for (let i = 0; i < shares[0].length; i++) expect(Math.abs(shares[0][i] - shares[1][i])).toBeLessThan(1e-6);
    expect(new Set(shares[0].map((x) => x.toFixed(3))).size).toBeGreaterThan(1); // not a constant
  });
});

describe('records measured on a worker thread (as npm run train and the page take them)', () => {
  const weights = fixtureWeights();
  /** A LoRA model whose B moves by `scale`·sin per capture: three captures, three different updates. */
  async function lora() {
    const model = new Model(await SimdCpuBackend.create({ threads: 1 }), mcfg, weights);
    const inst = await getMethod('lora').attach(model, { ...defaultPeftConfig('lora'), r: 2, alpha: 4, seed: 5 });
    const snap = await inst.snapshot();
    const move = (scale: number) => inst.load(new Map([...snap].map(([name, d]) => [name, name.includes('lora_B') ? d.map((_, i) => scale * Math.sin(i)) : d])));
    return { model, inst, move };
  }
  /** Captures at steps 1, 2, 3, moving the weights right after each capture resolves (as training does). */
  async function takeThree(probe: SpectralProbe, move: (s: number) => void): Promise<SpectralRecord[]> {
    const pending: Promise<SpectralRecord>[] = [];
    for (const step of [1, 2, 3]) {
      move(0.01 * step);
      pending.push((await probe.capture(step)).record);
    }
    move(0.5); // after the last capture: must not reach its record
    return Promise.all(pending);
  }
  const strip = (r: SpectralRecord) => ({ ...r, seconds: 0, waitSeconds: 0, offThread: false });

  /** The three records measured on the training thread: what a worker must reproduce. */
  async function inPlace(): Promise<SpectralRecord[]> {
    const a = await lora();
    const records = await takeThree(await SpectralProbe.create(a.inst, mcfg), a.move);
    a.inst.detach();
    a.model.free();
    return records;
  }

  it('the same records, bit for bit, as measured on the training thread, in capture order', async () => {
    const here = await inPlace();
    const b = await lora();
    const thread = nodeSpectralThread();
    expect(thread).not.toBeNull();
    const probe = await SpectralProbe.create(b.inst, mcfg, { thread });
    expect(probe.offThread).toBe(true);
    const there = await takeThree(probe, b.move);
    probe.close();
    b.inst.detach();
    b.model.free();
    expect(there.map((r) => r.step)).toEqual([1, 2, 3]);
    for (const r of there) {
      expect(r.offThread).toBe(true);
      expect(r.waitSeconds).toBeLessThan(r.seconds);
    }
    expect(new Set(here.map((r) => r.layers[0].norm)).size).toBe(3); // three different updates
    expect(there.map(strip)).toEqual(here.map(strip));
  });

  it('a thread that fails: the records are measured on the training thread instead, none lost', async () => {
    const ref = await inPlace();
    const b = await lora();
    let fail: (e: Error) => void = () => {};
    const broken = new SpectralThread({ post: () => {}, listen: (_m, onError) => (fail = onError), hold: () => {}, terminate: () => {} });
    const probe = await SpectralProbe.create(b.inst, mcfg, { thread: broken });
    const warn = console.warn;
    const warned: unknown[] = [];
    console.warn = (...xs: unknown[]) => void warned.push(xs);
    try {
      const pending: Promise<SpectralRecord>[] = [];
      b.move(0.01);
      pending.push((await probe.capture(1)).record);
      fail(new Error('worker crashed'));
      for (const step of [2, 3]) {
        b.move(0.01 * step);
        pending.push((await probe.capture(step)).record);
      }
      const got = await Promise.all(pending);
      expect(got.map((r) => r.offThread)).toEqual([false, false, false]);
      expect(got.map(strip)).toEqual(ref.map(strip));
      expect(probe.offThread).toBe(false);
      expect(warned.length).toBe(1);
    } finally {
      console.warn = warn;
      b.inst.detach();
      b.model.free();
    }
  });
});
