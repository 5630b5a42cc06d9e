// The SIMD CPU backend's decode fusions (Backend.normMatmul, Backend.qkvRope):
// - on odd shapes, against the float64 references composed (rmsnorm, matmul, SwiGLU, RoPE, kvWrite);
// - bit for bit against this backend's separate ops, and a whole generation (sampled and greedy) with the
//   fusions equal to one without them, for a model with q/k/v biases (Qwen2) and one without (Llama);
// - the same bits with 1, 2 and 3 threads.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../backend.ts';
import { kvWrite } from '../../ref/kv_write.ref.ts';
import { matmulForward } from '../../ref/matmul.ref.ts';
import { rmsnormForward } from '../../ref/rmsnorm.ref.ts';
import { rope } from '../../ref/rope.ref.ts';
import { swigluForward } from '../../ref/swiglu.ref.ts';
import { randArray, relErr } from '../../ref/testutil.ts';
import { parseHfConfig } from '../../../model/config.ts';
import { Model } from '../../../model/model.ts';
import { loadWeights } from '../../../model/parity.ts';
import { SimdCpuBackend } from './backend.ts';

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
const f64 = (a: Float32Array) => Float64Array.from(a);

async function withData(be: SimdCpuBackend, data: Float32Array) {
  const t = be.alloc('t', data.length);
  be.upload(t, data);
  return t;
}

// A C-term float32 dot after a float32 norm, against float64 throughout (the matmul tests' bound, plus the norm's).
const tol = (C: number) => 2e-6 * (1 + C / 16);

describe('SIMD CPU normMatmul', () => {
  it.each([[1, 5, 3], [7, 13, 9], [33, 64, 70], [300, 128, 384]])('N=%i C=%i OC=%i: within float32 rounding of the references; the separate ops\' bits; threads agree', async (N, C, OC) => {
    const x = randArray(N * C, 1), lnw = randArray(C, 2), w = randArray(OC * C, 3, 0.2), w2 = randArray(OC * C, 4, 0.2);
    const got: Float32Array[][] = [];
    for (const threads of [1, 2, 3]) {
      const be = await SimdCpuBackend.create({ threads });
      const [tx, tl, tw, tw2] = await Promise.all([x, lnw, w, w2].map((d) => withData(be, d)));
      const one = be.alloc('one', N * OC), two = be.alloc('two', N * OC);
      be.normMatmul(one, tx, tl, tw, null, N, C, OC, 1e-6);
      be.normMatmul(two, tx, tl, tw, tw2, N, C, OC, 1e-6);
      // the separate ops
      const ln = be.alloc('ln', N * C), rstd = be.alloc('rstd', N), g = be.alloc('g', N * OC), u = be.alloc('u', N * OC), h = be.alloc('h', N * OC);
      be.rmsnormForward(ln, rstd, tx, tl, N, C, 1e-6);
      be.matmulForward(g, ln, tw, null, N, C, OC);
      be.matmulForward(u, ln, tw2, null, N, C, OC);
      be.swigluForward(h, g, u, N * OC);
      got.push(await Promise.all([one, two, g, h].map((t) => be.read(t))));
    }
    for (const r of got.slice(1)) r.forEach((v, i) => expect(same(v, got[0][i])).toBe(true));
    const [one, two, g, h] = got[0];
    expect(same(one, g)).toBe(true);
    expect(same(two, h)).toBe(true);
    const ln = new Float64Array(N * C), rstd = new Float64Array(N), rg = new Float64Array(N * OC), ru = new Float64Array(N * OC), rh = new Float64Array(N * OC);
    rmsnormForward(ln, rstd, f64(x), f64(lnw), N, C, 1e-6);
    matmulForward(rg, ln, f64(w), null, N, C, OC, false, 1);
    matmulForward(ru, ln, f64(w2), null, N, C, OC, false, 1);
    swigluForward(rh, rg, ru, N * OC);
    expect(relErr(one, rg)).toBeLessThan(tol(C));
    expect(relErr(two, rh)).toBeLessThan(2 * tol(C));
  });
});

describe('SIMD CPU qkvRope', () => {
  it.each([[2, 3, 1, 7, 13, 2, 1, 6, true], [3, 1, 5, 9, 24, 4, 2, 4, false], [64, 1, 30, 40, 128, 4, 2, 32, true]] as const)(
    'B=%i Tq=%i pos0=%i Tmax=%i C=%i NH=%i NKV=%i HS=%i bias=%s: within float32 rounding of the references; the separate ops\' bits; threads agree',
    async (B, Tq, pos0, Tmax, C, NH, NKV, HS, withBias) => {
      const N = B * Tq, QD = NH * HS, KD = NKV * HS, W = QD + 2 * KD, eps = 1e-6, base = 10000;
      const x = randArray(N * C, 5), lnw = randArray(C, 6), w = randArray(W * C, 7, 0.2), bias = randArray(W, 8);
      const kc0 = randArray(B * Tmax * KD, 9), vc0 = randArray(B * Tmax * KD, 10);
      const got: Float32Array[][] = [];
      for (const threads of [1, 2, 3]) {
        const be = await SimdCpuBackend.create({ threads });
        const [tx, tl, tw, tb, kc, vc, kc2, vc2] = await Promise.all([x, lnw, w, bias, kc0, vc0, kc0, vc0].map((d) => withData(be, d)));
        const q = be.alloc('q', N * QD);
        be.qkvRope(q, kc, vc, tx, tl, tw, withBias ? tb : null, B, Tq, pos0, Tmax, C, NH, NKV, HS, eps, base);
        // the separate ops: norm, the three matmuls (weights and bias rows split), rope, kvWrite
        const ln = be.alloc('ln', N * C), rstd = be.alloc('rstd', N);
        be.rmsnormForward(ln, rstd, tx, tl, N, C, eps);
        const part = (off: number, rows: number) => {
          const tw1 = be.alloc('w', rows * C), tb1 = be.alloc('b', rows), out = be.alloc('o', N * rows);
          be.copy(tw1, tw, rows * C, 0, off * C);
          be.copy(tb1, tb, rows, 0, off);
          be.matmulForward(out, ln, tw1, withBias ? tb1 : null, N, C, rows);
          return out;
        };
        const tq = part(0, QD), tk = part(QD, KD), tv = part(QD + KD, KD);
        const qr = be.alloc('qr', N * QD), kr = be.alloc('kr', N * KD);
        be.rope(qr, tq, kr, tk, B, Tq, NH, NKV, HS, base, pos0, false);
        be.kvWrite(kc2, kr, B, Tq, pos0, Tmax, KD);
        be.kvWrite(vc2, tv, B, Tq, pos0, Tmax, KD);
        got.push(await Promise.all([q, kc, vc, qr, kc2, vc2].map((t) => be.read(t))));
      }
      for (const r of got.slice(1)) r.forEach((v, i) => expect(same(v, got[0][i])).toBe(true));
      const [q, kc, vc, qr, kc2, vc2] = got[0];
      expect(same(q, qr)).toBe(true);
      expect(same(kc, kc2)).toBe(true);
      expect(same(vc, vc2)).toBe(true);
      // float64 references
      const ln = new Float64Array(N * C), rstd = new Float64Array(N), qkv = new Float64Array(N * W);
      rmsnormForward(ln, rstd, f64(x), f64(lnw), N, C, eps);
      matmulForward(qkv, ln, f64(w), withBias ? f64(bias) : null, N, C, W, false, 1);
      const rq = new Float64Array(N * QD), rk = new Float64Array(N * KD), rv = new Float64Array(N * KD);
      for (let n = 0; n < N; n++) {
        rq.set(qkv.subarray(n * W, n * W + QD), n * QD);
        rk.set(qkv.subarray(n * W + QD, n * W + QD + KD), n * KD);
        rv.set(qkv.subarray(n * W + QD + KD, (n + 1) * W), n * KD);
      }
      const wq = new Float64Array(N * QD), wk = new Float64Array(N * KD);
      rope(wq, rq, B, Tq, NH, HS, base, pos0, false);
      rope(wk, rk, B, Tq, NKV, HS, base, pos0, false);
      const wkc = f64(kc0), wvc = f64(vc0);
      kvWrite(wkc, wk, B, Tq, pos0, Tmax, KD);
      kvWrite(wvc, rv, B, Tq, pos0, Tmax, KD);
      expect(relErr(q, wq)).toBeLessThan(tol(C));
      expect(relErr(kc, wkc)).toBeLessThan(tol(C));
      expect(relErr(vc, wvc)).toBeLessThan(tol(C));
      expect(() => {
        const be = new SimdCpuBackend({ threads: 1 });
        const t = (n: number) => be.alloc('t', n);
        be.qkvRope(t(N * QD), t(B * Tmax * KD), t(B * Tmax * KD), t(N * C), t(C), t(W * C), null, B, Tq, Tmax, Tmax, C, NH, NKV, HS, eps, base);
      }).toThrow(/outside/);
    });
});

function fixture(name: string) {
  const dir = new URL(`../../../../tests/fixtures/${name}/`, import.meta.url);
  const buf = readFileSync(new URL('model.safetensors', dir));
  return {
    cfg: parseHfConfig(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8'))),
    weights: () => loadWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, 'model.safetensors'),
  };
}

/** The same backend without the decode fusions: the model runs the separate ops. */
const unfused = (be: Backend): Backend => Object.create(be, { normMatmul: { value: undefined }, qkvRope: { value: undefined } }) as Backend;

/** The Qwen2 fixture on the SIMD backend (a) and on the same backend presented as another kind (b),
 * for which the decoder takes none of its CPU-only shortcuts. */
async function cpuAndOtherKind() {
  const be = await SimdCpuBackend.create({ threads: 2 });
  const { cfg, weights } = fixture('hf-qwen2-tiny');
  const other = Object.create(be, { name: { value: 'webgpu' } }) as Backend;
  return { cfg, a: new Model(be, cfg, weights()), b: new Model(other, cfg, weights()) };
}

describe('SIMD CPU prompt step over distinct prompts', () => {
  it('a generation whose prompts repeat (a group\'s samples) equals one that runs every prompt row, bit for bit', async () => {
    // The decoder runs the prompt step once per distinct prompt on a CPU backend (Decoder.repeatRows);
    // the same backend presented as another kind runs every row.
    const { cfg, a, b } = await cpuAndOtherKind();
    const P = 6, rows = [0, 0, 1, 0, 2, 1, 1, 2, 3];
    const distinct = [0, 1, 2, 3].map((r) => Int32Array.from({ length: P }, (_, i) => (r * 11 + i * 5 + 1) % cfg.vocabSize));
    const prompt = new Int32Array(rows.length * P);
    rows.forEach((r, i) => prompt.set(distinct[r], i * P));
    for (const model of [a, b]) expect(model.backend.name).toBe(model === a ? 'cpu' : 'webgpu');
    for (const opts of [{ temperature: 1.2, topP: 1, seed: 5 }, { temperature: 0, topP: 1, seed: 0 }]) {
      const x = await a.generate(prompt, rows.length, 7, opts), y = await b.generate(prompt, rows.length, 7, opts);
      expect(Array.from(x.tokens)).toEqual(Array.from(y.tokens));
      expect(same(x.logp, y.logp)).toBe(true);
      expect(same(x.entropy, y.entropy)).toBe(true);
    }
  });
});

describe('SIMD CPU decoding without finished rows', () => {
  it('a generation that drops rows at their <eos> equals one that runs every row, up to each row\'s <eos>, bit for bit', async () => {
    // The decoder drops finished rows at each check on a CPU backend (Decoder.dropFinished); the same
    // backend presented as another kind runs every row to the end.
    const { cfg, a, b } = await cpuAndOtherKind();
    const B = 9, P = 4, steps = 40, checkEvery = 4;
    const prompt = Int32Array.from({ length: B * P }, (_, i) => (i * 13 + 5) % cfg.vocabSize);
    const sampling = { temperature: 1.5, topP: 1, seed: 21 };
    // An <eos> that some rows produce early and others late or never: the token whose first
    // occurrences, over the rows of a run without one, are the most spread.
    const free = await b.generate(prompt, B, steps, sampling);
    const T = P + steps;
    const first = (v: number) => Array.from({ length: B }, (_, r) => {
      for (let s = 0; s < steps; s++) if (free.tokens[r * T + P + s] === v) return s;
      return steps;
    });
    let eosId = 0, spread = -1;
    for (let v = 0; v < cfg.vocabSize; v++) {
      const f = first(v), early = f.filter((s) => s < steps / 2).length;
      if (early > 0 && early < B && new Set(f).size > spread) [eosId, spread] = [v, new Set(f).size];
    }
    const opts = { ...sampling, eosId, checkEvery };
    const x = await a.generate(prompt, B, steps, opts), y = await b.generate(prompt, B, steps, opts);
    expect(x.steps).toBe(y.steps);
    let dropped = 0;
    for (let r = 0; r < B; r++) {
      const f = first(eosId)[r];
      const n = Math.min(f + 1, x.steps); // through the <eos>
      expect(Array.from(x.tokens.subarray(r * T, r * T + P + n))).toEqual(Array.from(y.tokens.subarray(r * T, r * T + P + n)));
      expect(same(x.logp.subarray(r * steps, r * steps + n), y.logp.subarray(r * steps, r * steps + n))).toBe(true);
      expect(same(x.entropy.subarray(r * steps, r * steps + n), y.entropy.subarray(r * steps, r * steps + n))).toBe(true);
      // a row that finished before a check left the batch there: nothing written after that check
      const left = Math.ceil(n / checkEvery) * checkEvery;
      if (left < x.steps) {
        dropped++;
        expect(x.tokens.subarray(r * T + P + left, r * T + P + x.steps).every((t) => t === 0)).toBe(true);
        expect(x.logp.subarray(r * steps + left, r * steps + x.steps).every((t) => t === 0)).toBe(true);
      }
    }
    expect(dropped).toBeGreaterThan(0);
  });
});

describe('SIMD CPU fused decode step', () => {
  for (const name of ['hf-qwen2-tiny', 'hf-llama-tiny']) {
    it(`${name}: a generation with the fusions equals one with the separate ops, bit for bit`, async () => {
      const be = await SimdCpuBackend.create({ threads: 2 });
      const { cfg, weights } = fixture(name);
      const fused = new Model(be, cfg, weights()), plain = new Model(unfused(be), cfg, weights());
      const B = 5, P = 4, steps = 9;
      const prompt = Int32Array.from({ length: B * P }, (_, i) => (i * 7 + 3) % cfg.vocabSize);
      for (const opts of [{ temperature: 0.9, topP: 1, seed: 11 }, { temperature: 0, topP: 1, seed: 0 }, { temperature: 1.5, topP: 0.8, seed: 3 }]) {
        const a = await fused.generate(prompt, B, steps, opts), b = await plain.generate(prompt, B, steps, opts);
        expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
        expect(same(a.logp, b.logp)).toBe(true);
        expect(same(a.entropy, b.entropy)).toBe(true);
      }
    });
  }
});
