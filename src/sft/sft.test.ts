// The SFT trainer on the CPU backend with the tiny config: the data layout matches RL's, the loss
// falls on a fixed batch, masked positions carry no gradient, the schedule is warmup + cosine, and a
// run resumed from a checkpoint on disk equals the uninterrupted run bit for bit.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { namedConfig, randomWeights } from '../model/init.ts';
import { Model } from '../model/model.ts';
import { encodePrompts, promptWidth } from '../rl/rollout.ts';
import { arith, charTokenizer as tok, Rng } from '../tasks/index.ts';
import { readSftCheckpoint, restoreSft, saveSftCheckpoint } from './checkpoint.node.ts';
import { defaultSftConfig, sftLearningRate, validateSftConfig, type SftConfig } from './config.ts';
import { crossEntropyGrad, heldOutBatches, packBatch, sftExample, TeacherStream, type SftBatch } from './data.ts';
import { SimdCpuBackend } from '../engine/cpu/simd/backend.ts';
import { SftTrainer } from './trainer.ts';

const cfg = (over: Partial<SftConfig> = {}): SftConfig => ({
  ...defaultSftConfig(), size: 'tiny', steps: 6, batchSize: 4, lr: 3e-3, warmupSteps: 2, lossProblems: 4, evalProblems: 2, evalK: 2, ...over,
});
const modelCfg = namedConfig('tiny', tok.vocabSize, 128);

async function trainer(c: SftConfig, weights = randomWeights(modelCfg, c.seed)): Promise<SftTrainer> {
  return SftTrainer.create(new Model(new SimdCpuBackend(), modelCfg, weights), arith, tok, c);
}

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

async function grads(tr: SftTrainer, batch: SftBatch): Promise<Float32Array[]> {
  tr.peft.zeroGrads();
  tr.model.forward(batch.ids, batch.targets, batch.B, batch.T);
  tr.model.backward(crossEntropyGrad(batch));
  return Promise.all(tr.peft.params.map((p) => tr.model.backend.read(p.grad)));
}

describe('SFT data', () => {
  const problems = [arith.generate(new Rng(1)), arith.generate(new Rng(2)), arith.generate(new Rng(3))];

  it('lays a row out as RL does: <bos>+prompt left-padded to the prompt width, then the solution and <eos>', () => {
    const P = promptWidth(arith), p = problems[0];
    const ex = sftExample(tok, arith, p);
    expect(ex.promptLen).toBe(P);
    expect([...ex.ids.subarray(0, P)]).toEqual([...encodePrompts(tok, [p.prompt], P)]);
    expect(tok.decode(ex.ids.subarray(P, ex.ids.length - 1))).toBe(arith.teacher(p));
    expect(ex.ids[ex.ids.length - 1]).toBe(tok.eosId);
    expect(arith.verify(arith.teacher(p), p).correct).toBe(true);
  });

  it('packs to the longest row and predicts only the solution and <eos>', () => {
    const ex = problems.map((p) => sftExample(tok, arith, p));
    const b = packBatch(ex, tok.padId);
    const P = promptWidth(arith);
    expect(b.T).toBe(Math.max(...ex.map((e) => e.ids.length)));
    expect(b.tokens).toBe(ex.reduce((a, e) => a + e.ids.length - P, 0));
    ex.forEach((e, r) => {
      for (let t = 0; t < b.T; t++) {
        const want = t >= P - 1 && t < e.ids.length - 1 ? e.ids[t + 1] : -1;
        expect(b.targets[r * b.T + t]).toBe(want);
        if (t >= e.ids.length) expect(b.ids[r * b.T + t]).toBe(tok.padId);
      }
    });
    const d = crossEntropyGrad(b);
    d.forEach((g, i) => expect(g).toBe(b.targets[i] >= 0 ? Math.fround(-1 / b.tokens) : 0));
  });

  it('the teacher stream is determined by the seed and never yields a held-out problem', () => {
    const a = new TeacherStream(arith, tok, 'in-dist', 5), b = new TeacherStream(arith, tok, 'in-dist', 5), c = new TeacherStream(arith, tok, 'in-dist', 6);
    const [x, y, z] = [a.next(8), b.next(8), c.next(8)];
    expect([...x.ids]).toEqual([...y.ids]);
    expect([...x.ids]).not.toEqual([...z.ids]);
    const s = a.getState(), next = a.next(4);
    b.setState(s);
    expect([...b.next(4).ids]).toEqual([...next.ids]);
    const held = new Set(arith.evalSets.flatMap((e) => e.problems.map((p) => p.prompt)));
    const P = promptWidth(arith);
    for (let r = 0; r < 8; r++) {
      const prompt = tok.decode(x.ids.subarray(r * x.T, r * x.T + P));
      expect(held.has(prompt)).toBe(false);
    }
  });

  it('held-out loss batches are the teacher solutions to held-out problems', () => {
    const bs = heldOutBatches(arith, tok, 'in-dist', 5, 2);
    expect(bs.map((b) => b.B)).toEqual([2, 2, 1]);
  });
});

describe('SFT trainer', () => {
  it('validates its config and schedules warmup then cosine to the floor', () => {
    expect(validateSftConfig(defaultSftConfig())).toEqual([]);
    const errs = validateSftConfig({ ...defaultSftConfig(), steps: 0, size: 'huge' as 'tiny', task: 'nope', lr: -1 });
    for (const k of ['steps', 'size', 'task', 'lr']) expect(errs.some((e) => e.startsWith(k))).toBe(true);
    const c = { lr: 1, minLrRatio: 0.1, warmupSteps: 4 };
    expect([0, 1, 2, 3].map((t) => sftLearningRate(c, t, 20))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(sftLearningRate(c, 4, 20)).toBeCloseTo(1, 12);
    expect(sftLearningRate(c, 19, 20)).toBeCloseTo(0.1, 12);
    for (let t = 5; t < 20; t++) expect(sftLearningRate(c, t, 20)).toBeLessThan(sftLearningRate(c, t - 1, 20));
  });

  it('the loss falls on a fixed batch', async () => {
    const tr = await trainer(cfg({ steps: 40, warmupSteps: 0, lr: 1e-2 }));
    const batch = new TeacherStream(arith, tok, 'in-dist', 9).next(4);
    const first = await tr.loss(batch);
    expect(first).toBeGreaterThan(3); // ≈ ln 99 at random init
    for (let i = 0; i < 40; i++) await tr.trainStep(batch);
    const last = await tr.loss(batch);
    console.log(`fixed-batch loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
    expect(last).toBeLessThan(first * 0.4);
  }, 60_000);

  it('masked positions get no gradient: what sits in them changes nothing', async () => {
    const tr = await trainer(cfg());
    const batch = new TeacherStream(arith, tok, 'in-dist', 2).next(4);
    const base = await grads(tr, batch);
    // Right padding after each row's <eos>: any tokens there.
    const noisy = { ...batch, ids: batch.ids.slice() };
    const rng = new Rng('noise');
    let changed = 0;
    for (let r = 0; r < batch.B; r++) {
      for (let t = batch.T - 1; t >= 0 && batch.targets[r * batch.T + t] < 0 && batch.ids[r * batch.T + t] === tok.padId; t--) {
        noisy.ids[r * batch.T + t] = rng.int(3, 98);
        changed++;
      }
    }
    expect(changed).toBeGreaterThan(0);
    const g2 = await grads(tr, noisy);
    base.forEach((g, i) => expect(same(g2[i], g)).toBe(true));
    // The loss reads only unmasked rows: prompt-side targets, were they set, would add nothing.
    const logp = await tr.model.backend.read(tr.model.forward(batch.ids, batch.targets, batch.B, batch.T).logp);
    batch.targets.forEach((t, i) => t < 0 && expect(logp[i]).toBe(0));
  }, 60_000);

  it('resumed from a checkpoint on disk equals the uninterrupted run, bit for bit', async () => {
    const c = cfg();
    const a = await trainer(c);
    const lossesA: number[] = [];
    for (let i = 0; i < 6; i++) lossesA.push((await a.trainStep()).loss);

    const b = await trainer(c);
    for (let i = 0; i < 3; i++) await b.trainStep();
    const dir = join(mkdtempSync(join(tmpdir(), 'sft-')), 'checkpoint');
    await saveSftCheckpoint(dir, b, { elapsedSeconds: 1, backend: 'cpu', history: [] });
    const ck = readSftCheckpoint(dir);
    expect(ck.meta.trainer.step).toBe(3);
    const r = await trainer(ck.meta.config, ck.weights);
    restoreSft(r, ck);
    const lossesR: number[] = [];
    for (let i = 0; i < 3; i++) lossesR.push((await r.trainStep()).loss);

    expect(lossesR).toEqual(lossesA.slice(3));
    const [wa, wr] = [await a.weights(), await r.weights()];
    for (const [name, w] of wa) expect(same(wr.get(name) ?? new Float32Array(0), w), name).toBe(true);
    const [oa, or] = [await a.opt.state(), await r.opt.state()];
    expect(or.step).toBe(oa.step);
    oa.m.forEach((m, i) => expect(same(or.m[i], m)).toBe(true));
    oa.v.forEach((v, i) => expect(same(or.v[i], v)).toBe(true));
  }, 60_000);

  it('evaluates avg@k / pass@k on every held-out set and a finite held-out loss', async () => {
    const tr = await trainer(cfg({ maxNewTokens: 8 }));
    const recs = await tr.evaluate();
    expect(recs.map((r) => r.split)).toEqual(['in-dist', 'hard']);
    for (const r of recs) expect(r).toMatchObject({ k: 2, problems: 2 });
    const l = await tr.heldOutLoss();
    expect(l).toBeGreaterThan(3);
    expect(l).toBeLessThan(6);
  }, 60_000);
});
