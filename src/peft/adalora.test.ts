// AdaLoRA: the rank allocator against hand-computed scores and budgets, the orthogonality
// regulariser against a float64 recomputation of PEFT's formula (value and gradient), settings,
// counts; and the input dropout shared with VeRA and MiSS (the backward replays the forward's mask).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { parseHfConfig } from '../model/config.ts';
import { Model } from '../model/model.ts';
import { loadWeights } from '../model/parity.ts';
import { parseSafetensors } from '../model/safetensors.ts';
import { adalora } from './adalora.ts';
import { budgetSchedule, RankAllocator, type AllocSettings, type TripletState } from './adalora_alloc.ts';
import { miss } from './miss.ts';
import { defaultPeftConfig } from './registry.ts';
import type { MethodSpec, PeftConfig } from './types.ts';
import { vera } from './vera.ts';

const dir = new URL('../../tests/fixtures/hf-qwen2-tiny/', import.meta.url);
const ab = (f: string) => {
  const b = readFileSync(new URL(f, dir));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};
const mcfg = parseHfConfig(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')));
const newModel = () => new Model(new CpuBackend(), mcfg, loadWeights(ab('model.safetensors'), 'model.safetensors'));
const golden = parseSafetensors(ab('golden_peft.safetensors'), 'golden_peft').tensors;

function adaCfg(over: Partial<PeftConfig> = {}): PeftConfig {
  const c = defaultPeftConfig('adalora');
  return { ...c, r: 6, alpha: 8, dropout: 0, ...over, adalora: { ...c.adalora, targetR: 4, tInit: 10, tFinal: 20, deltaT: 5, totalStep: 100, orthRegWeight: 0.5, ...over.adalora } };
}

describe('AdaLoRA budget schedule (PEFT budget_schedule)', () => {
  const s: AllocSettings = { initR: 2, targetR: 1, tInit: 0, tFinal: 0, deltaT: 2, beta1: 0.5, beta2: 0.5, totalStep: 10 };
  it('b0 up to t_init, cubic decay truncated to an integer, mask every ΔT, b_T at the end', () => {
    // b0 = 4, bT = 2: b(t) = int(2 (1 − t/10)³ + 2)
    expect(budgetSchedule(s, 4, 2, 0)).toEqual({ budget: 4, mask: false });
    expect(budgetSchedule(s, 4, 2, 1)).toEqual({ budget: 3, mask: false }); // 2·0.729 + 2 = 3.458
    expect(budgetSchedule(s, 4, 2, 2)).toEqual({ budget: 3, mask: true }); // 2·0.512 + 2 = 3.024
    expect(budgetSchedule(s, 4, 2, 3)).toEqual({ budget: 2, mask: false }); // 2.686
    expect(budgetSchedule(s, 4, 2, 10)).toEqual({ budget: 2, mask: true });
    expect(budgetSchedule({ ...s, tInit: 3, tFinal: 2 }, 4, 2, 3)).toEqual({ budget: 4, mask: false });
    // (1 − (4 − 3)/(10 − 2 − 3))³ = 0.512 → int(3.024) = 3; t = 9 > T − t_final: b_T.
    expect(budgetSchedule({ ...s, tInit: 3, tFinal: 2 }, 4, 2, 4)).toEqual({ budget: 3, mask: true });
    expect(budgetSchedule({ ...s, tInit: 3, tFinal: 2 }, 4, 2, 9)).toEqual({ budget: 2, mask: true });
  });
});

describe('AdaLoRA rank allocator (hand-computed)', () => {
  // Two layers, r = in = out = 2. With β1 = β2 = ½ one update gives Ī = I/2, Ū = |I − I/2|/2 = I/4,
  // so every entry scores s = Ī·Ū = I²/8, I = |w·g|.
  const s: AllocSettings = { initR: 2, targetR: 1, tInit: 0, tFinal: 0, deltaT: 2, beta1: 0.5, beta2: 0.5, totalStep: 10 };
  const f = (...v: number[]) => Float32Array.from(v);
  const layers = (): TripletState[] => [
    // I_A = [[1,2],[1.5,2]] → row means of I²/8: 0.3125, 0.390625
    // I_B = [[1,0],[2,2]]   → column means: 0.3125, 0.25
    // I_E = [2,1]           → 0.5, 0.125.   S = [1.125, 0.765625]
    { r: 2, inF: 2, outF: 2, A: f(1, 2, 3, 4), gA: f(1, 1, 0.5, 0.5), B: f(1, 0, 2, 1), gB: f(1, 1, 1, 2), E: f(2, 1), gE: f(1, 1) },
    // only E matters: I_E = [0.5, 3] → S = [0.03125, 1.125]
    { r: 2, inF: 2, outF: 2, A: f(1, 1, 1, 1), gA: f(0, 0, 0, 0), B: f(1, 1, 1, 1), gB: f(0, 0, 0, 0), E: f(1, 3), gE: f(0.5, 1) },
  ];
  it('triplet scores s(E_i) + mean s(A_i·) + mean s(B_·i)', () => {
    const a = new RankAllocator(s, [2, 2]);
    const l = layers();
    a.updateImportance(l);
    const S = a.tripletScores(l);
    expect(Array.from(S[0])).toEqual([1.125, 0.765625]);
    expect(Array.from(S[1])).toEqual([0.03125, 1.125]);
  });
  it('masks the lowest triplets down to the budget; ties at the threshold all go', () => {
    const cases: [number, number[][]][] = [
      [4, [[2, 1], [1, 3]]],
      [3, [[2, 1], [0, 3]]],
      [2, [[2, 0], [0, 3]]],
      [1, [[0, 0], [0, 0]]], // threshold 1.125 is shared by two triplets: both are masked
    ];
    for (const [budget, want] of cases) {
      const a = new RankAllocator(s, [2, 2]);
      const l = layers();
      a.updateImportance(l);
      const { pattern, changed } = a.maskToBudget(l, budget);
      expect(l.map((x) => Array.from(x.E))).toEqual(want);
      expect(pattern).toEqual(want.map((e) => e.map((v) => v !== 0)));
      expect(changed).toEqual(want.map((e, i) => e.some((v, j) => v !== layers()[i].E[j])));
    }
  });
  it('update_and_allocate: importance every step, mask on schedule, fixed mask after T − t_final', () => {
    const a = new RankAllocator(s, [2, 2]);
    expect(a.initBudget).toBe(4);
    expect(a.targetBudget).toBe(2);
    let l = layers();
    expect(a.update(1, l)).toEqual([false, false]); // budget 3 but t = 1 is not a ΔT step
    l = layers();
    const b = new RankAllocator(s, [2, 2]);
    expect(b.update(2, l)).toEqual([false, true]); // budget 3: the lowest triplet (layer 2, i = 0)
    expect(Array.from(l[1].E)).toEqual([0, 3]);
    // t = T − t_final: budget b_T = 2 from the smoothed scores (no new importance), mask kept.
    l = layers();
    expect(b.needs(10)).toBe('E');
    expect(b.update(10, l)).toEqual([true, true]);
    expect(b.rankPattern).toEqual([[true, false], [false, true]]);
    // Afterwards the kept mask is re-applied to whatever E has become.
    l = layers();
    expect(b.needs(11)).toBe('E');
    b.update(11, l);
    expect(l.map((x) => Array.from(x.E))).toEqual([[2, 0], [0, 3]]);
  });
});

describe('AdaLoRA orthogonality regulariser', () => {
  it('matches PEFT\'s formula in float64 on the fixture state, value and gradient', async () => {
    const m = newModel(), be = m.backend;
    const cfg = adaCfg();
    const inst = await adalora.attach(m, cfg);
    const state = new Map<string, Float32Array>();
    for (const [n, t] of golden) if (n.startsWith('adalora/state/')) state.set(n.slice('adalora/state/'.length), t.data as Float32Array);
    inst.load(state);
    inst.zeroGrads();
    const reg = await inst.regularize!();
    // Reference: w · mean over all 28 A and B of ‖PPᵀ − I‖_F / ‖PᵀP − I‖_F, gradient 2MP/‖M‖, 2PM/‖M‖.
    let total = 0, count = 0;
    const grads = new Map<string, Float64Array>();
    for (const p of inst.params) {
      const isA = p.name.includes('.lora_A.'), isB = p.name.includes('.lora_B.');
      if (!isA && !isB) continue;
      const [rows, cols] = p.shape, x = state.get(p.name)!;
      const r = isA ? rows : cols, inner = isA ? cols : rows;
      const at = (k: number, i: number) => (isA ? x[i * cols + k] : x[k * cols + i]); // P as (inner × r) columns
      const M = new Float64Array(r * r);
      for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) {
        let s = 0;
        for (let k = 0; k < inner; k++) s += at(k, i) * at(k, j);
        M[i * r + j] = s - (i === j ? 1 : 0);
      }
      const norm = Math.sqrt(M.reduce((a, v) => a + v * v, 0));
      total += norm;
      count++;
      const g = new Float64Array(rows * cols);
      for (let k = 0; k < inner; k++) for (let i = 0; i < r; i++) {
        let s = 0;
        for (let j = 0; j < r; j++) s += M[i * r + j] * at(k, j);
        g[isA ? i * cols + k : k * cols + i] = (2 * s) / norm;
      }
      grads.set(p.name, g);
    }
    expect(count).toBe(28);
    const w = cfg.adalora.orthRegWeight;
    expect(Math.abs(reg - (w * total) / count) / reg).toBeLessThan(1e-6);
    expect(reg).toBeCloseTo(0.5 * 1.9351107247461585, 5); // numpy on the same state
    for (const p of inst.params) {
      const got = await be.read(p.grad), want = grads.get(p.name);
      let num = 0, den = 0;
      for (let i = 0; i < got.length; i++) {
        const d = got[i] - (want ? (w / count) * want[i] : 0);
        num += d * d;
        den += want ? ((w / count) * want[i]) ** 2 : 0;
      }
      expect(Math.sqrt(num / (den || 1)), p.name).toBeLessThan(1e-5);
    }
    inst.detach();
  });
  it('the analytic gradient of ‖AAᵀ − I‖_F agrees with central differences', () => {
    const A = [0.3, -0.2, 0.5, 0.1, 0.4, -0.6]; // 2 × 3
    const f = (a: number[]) => {
      let s = 0;
      for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) {
        let d = -(i === j ? 1 : 0);
        for (let k = 0; k < 3; k++) d += a[i * 3 + k] * a[j * 3 + k];
        s += d * d;
      }
      return Math.sqrt(s);
    };
    const n = f(A);
    for (let e = 0; e < 6; e++) {
      const [i, k] = [Math.floor(e / 3), e % 3];
      let g = 0;
      for (let j = 0; j < 2; j++) {
        let M = -(i === j ? 1 : 0);
        for (let q = 0; q < 3; q++) M += A[i * 3 + q] * A[j * 3 + q];
        g += (2 * M * A[j * 3 + k]) / n;
      }
      const h = 1e-6, up = [...A], dn = [...A];
      up[e] += h;
      dn[e] -= h;
      expect(g).toBeCloseTo((f(up) - f(dn)) / (2 * h), 7);
    }
  });
});

describe('AdaLoRA allocator wired to the instance', () => {
  it('afterStep masks E on the backend down to the budget (allocate on), and does nothing when off', async () => {
    for (const allocate of [false, true]) {
      const m = newModel(), be = m.backend;
      const cfg = adaCfg({ adalora: { ...adaCfg().adalora, allocate, tInit: 0, tFinal: 0, deltaT: 1, totalStep: 10 } });
      const inst = await adalora.attach(m, cfg);
      const E = new Map<string, Float32Array>();
      for (const p of inst.params) if (p.name.includes('lora_E')) E.set(p.name, Float32Array.from({ length: 6 }, (_, i) => 0.1 + 0.01 * i));
      inst.load(E);
      const ids = Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 96);
      const targets = Int32Array.from({ length: 16 }, (_, i) => (i < 15 ? ids[i + 1] : -1));
      inst.zeroGrads();
      m.forward(ids, targets, 2, 8);
      m.backward(new Float32Array(16).fill(-1 / 15));
      await inst.afterStep!(5); // b(5) = int((84 − 56)·0.125 + 56) = 59: 25 of the 84 triplets go
      let zeros = 0;
      for (const p of inst.params) if (p.name.includes('lora_E')) zeros += (await be.read(p.tensor)).filter((v) => v === 0).length;
      expect(zeros).toBe(allocate ? 84 - 59 : 0);
      inst.detach();
    }
  });
});

describe('AdaLoRA settings and counts', () => {
  it('names the setting in every error', () => {
    const v = (o: Partial<PeftConfig>) => adalora.validate(adaCfg(o), mcfg).join('\n');
    expect(v({})).toBe('');
    expect(v({ r: 40 })).toMatch(/^r: rank 40 exceeds k_proj's size 32×64/m);
    expect(v({ alpha: -1 })).toMatch(/^alpha: must be positive/m);
    expect(v({ targets: ['q_proj', 'x_proj' as never] })).toMatch(/^targets: unknown target module "x_proj"/m);
    expect(v({ adalora: { ...adaCfg().adalora, targetR: 7 } })).toMatch(/^adalora\.targetR: target rank 7 exceeds the initial rank r = 6/m);
    expect(v({ adalora: { ...adaCfg().adalora, tInit: 80 } })).toMatch(/^adalora\.tInit: .*below totalStep − tFinal \(80\)/m);
    expect(v({ adalora: { ...adaCfg().adalora, beta1: 1 } })).toMatch(/^adalora\.beta1/m);
  });
  it('trainableCount equals the tensors attach() allocates', async () => {
    for (const cfg of [adaCfg(), adaCfg({ r: 2, targets: ['v_proj', 'down_proj'], adalora: { ...adaCfg().adalora, targetR: 1 } })]) {
      const inst = await adalora.attach(newModel(), cfg);
      expect(inst.params.reduce((n, p) => n + p.tensor.size, 0)).toBe(adalora.trainableCount(cfg, mcfg));
      expect(inst.params.every((p) => p.grad.size === p.tensor.size && p.shape.reduce((a, b) => a * b, 1) === p.tensor.size)).toBe(true);
      inst.detach();
    }
  });
});

// --- input dropout (InputDropout, shared by AdaLoRA, VeRA and MiSS) -------------------------------
// Each adapter path is linear in each trainable tensor P and in the (dropped) input, so for the
// mask of the last forward: ⟨dP, P⟩ = ⟨dout, Δy⟩ and ⟨dinp, x⟩ = ⟨dout, y − b⟩, Δy = y − Wx − b.
// A backward that used a different mask than its forward breaks these identities.

async function dropoutIdentities(spec: MethodSpec, cfg: PeftConfig): Promise<void> {
  const m = newModel(), be = m.backend;
  const inst = await spec.attach(m, cfg);
  const rnd = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 0.5);
  inst.load(new Map(inst.params.map((p, i) => [p.name, rnd(p.tensor.size, i + 1)])));
  const base = 'model.layers.0.mlp.down_proj', N = 5, inF = mcfg.intermediate, outF = mcfg.hidden;
  const ad = m.adapters.get(base)!;
  const x = be.alloc('x', N * inF), y = be.alloc('y', N * outF), y2 = be.alloc('y2', N * outF), dout = be.alloc('dout', N * outF), dinp = be.alloc('dinp', N * inF);
  const xs = rnd(N * inF, 7), ds = rnd(N * outF, 8);
  be.upload(x, xs);
  be.upload(dout, ds);
  ad.forward(y2, x, N);
  ad.forward(y, x, N); // the backward must use this call's mask
  const z = be.alloc('z', 2 * inF), zy = be.alloc('zy', 2 * outF);
  be.upload(z, rnd(2 * inF, 9));
  ad.forward(zy, z, 2); // a forward over another input (as decoding would) in between
  inst.zeroGrads();
  ad.backward(dinp, dout, x, N, false);
  const W = await be.read(m.p(`${base}.weight`)), yv = await be.read(y), yv2 = await be.read(y2), di = await be.read(dinp);
  let dy = 0, dyx = 0, xdin = 0;
  for (let n = 0; n < N; n++) for (let o = 0; o < outF; o++) {
    let wx = 0;
    for (let i = 0; i < inF; i++) wx += W[o * inF + i] * xs[n * inF + i];
    dy += ds[n * outF + o] * (yv[n * outF + o] - wx);
    dyx += ds[n * outF + o] * yv[n * outF + o];
  }
  for (let i = 0; i < N * inF; i++) xdin += xs[i] * di[i];
  expect(yv.some((v, i) => v !== yv2[i])).toBe(true); // a fresh mask per forward
  expect(Math.abs(xdin - dyx) / Math.abs(dyx)).toBeLessThan(1e-4);
  const site = inst.params.filter((p) => p.name.includes(`${base}.`));
  expect(site.length).toBeGreaterThan(0);
  for (const p of site) {
    const [t, g] = [await be.read(p.tensor), await be.read(p.grad)];
    const dot = t.reduce((a, v, i) => a + v * g[i], 0);
    expect(Math.abs(dot - dy) / Math.abs(dy), p.name).toBeLessThan(1e-4);
  }
  // Evaluation mode: no dropout, the same output every call.
  inst.setTraining!(false);
  ad.forward(y, x, N);
  ad.forward(y2, x, N);
  expect(Array.from(await be.read(y))).toEqual(Array.from(await be.read(y2)));
  inst.detach();
}

describe('input dropout (AdaLoRA, VeRA, MiSS)', () => {
  it('AdaLoRA: backward replays the forward\'s mask', () => dropoutIdentities(adalora, adaCfg({ dropout: 0.3 })));
  it('VeRA: backward replays the forward\'s mask', () => {
    const c = defaultPeftConfig('vera');
    return dropoutIdentities(vera, { ...c, r: 16, dropout: 0.3 });
  });
  it('MiSS: backward replays the forward\'s mask', () => {
    const c = defaultPeftConfig('miss');
    return dropoutIdentities(miss, { ...c, r: 5, dropout: 0.3 });
  });
});
