// RL end to end on the CPU backend: a tiny random model learns the lastdigit warm-up task by RL
// alone, runs are reproducible, a resumed run matches an uninterrupted one, and sampling with the
// adapters merged into the weights draws the same tokens as without and leaves no trace.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../engine/cpu/backend.ts';
import type { ModelConfig } from '../model/config.ts';
import { randomWeights } from '../model/init.ts';
import { Model } from '../model/model.ts';
import { getMethod } from '../peft/registry.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { defaultConfig, type RLConfig } from './config.ts';
import { pairedChange, Trainer, type EvalRecord, type StepMetrics } from './trainer.ts';

const tok = charTokenizer;
const task = getTask('lastdigit');
const modelCfg: ModelConfig = {
  family: 'qwen2', vocabSize: tok.vocabSize, hidden: 32, intermediate: 64, layers: 2, heads: 2, kvHeads: 1, headDim: 16,
  ropeTheta: 10000, rmsEps: 1e-6, tieEmbeddings: true, qkvBias: true, oBias: false, mlpBias: false, maxPositions: 40,
  bosTokenId: 1, eosTokenId: 2,
};

function config(overrides: Partial<RLConfig> = {}): RLConfig {
  const c = defaultConfig('full');
  return {
    ...c, task: 'lastdigit', maxNewTokens: 2, groupSize: 8, promptsPerStep: 8, miniBatches: 2, lr: 3e-3,
    // The study's DAPO recipe (dynamic sampling keeps only groups that teach something).
    lossType: 'dapo', dynamicSampling: true, overlongShaping: false, evalEvery: 0, evalK: 2, evalProblems: 20, seed: 7, ...overrides,
  };
}

async function makeTrainer(cfg: RLConfig): Promise<Trainer> {
  const model = new Model(new CpuBackend(), modelCfg, randomWeights(modelCfg, 1));
  const inst = await getMethod(cfg.peft.method).attach(model, cfg.peft);
  return new Trainer(model, inst, task, tok, cfg);
}

async function run(tr: Trainer, steps: number): Promise<StepMetrics[]> {
  const out: StepMetrics[] = [];
  for (let i = 0; i < steps; i++) out.push(await tr.trainStep());
  return out;
}

const comparable = (m: StepMetrics[]) => m.map(({ time_rollout_s: _a, time_train_s: _b, rollout_tokens_per_s: _c, train_tokens_per_s: _d, ...rest }) => rest);

describe('RL trainer (CPU backend, tiny random model, lastdigit)', () => {
  it('reward rises clearly within a few dozen steps', async () => {
    const tr = await makeTrainer(config({ steps: 50 }));
    const m = await run(tr, 50);
    const first = m.slice(0, 5).reduce((a, x) => a + x.accuracy, 0) / 5;
    const last = m.slice(-5).reduce((a, x) => a + x.accuracy, 0) / 5;
    console.log(`lastdigit accuracy: first 5 steps ${first.toFixed(3)}, last 5 steps ${last.toFixed(3)}`);
    expect(first).toBeLessThan(0.2);
    expect(last).toBeGreaterThan(first + 0.3);
  }, 600_000);

  it('the same config and seed give identical metrics; a resumed run continues identically', async () => {
    const cfg = config({ steps: 6, miniBatches: 2, lossType: 'dapo', dynamicSampling: true });
    const a = comparable(await run(await makeTrainer(cfg), 6));
    const b = comparable(await run(await makeTrainer(cfg), 6));
    expect(b).toEqual(a);
    const first = await makeTrainer(cfg);
    await run(first, 3);
    const ck = await saveCheckpoint(first);
    const resumed = await makeTrainer(cfg);
    loadCheckpoint(resumed, ck.tensors, JSON.parse(JSON.stringify(ck.meta)));
    const rest = comparable(await run(resumed, 3));
    expect(rest).toEqual(a.slice(3));
  }, 600_000);

  it('an AdaLoRA run with the rank allocator on resumes identically (the allocator state is in the checkpoint)', async () => {
    // Budget 6 steps × 2 updates: importance from update 1, masking every update from 3, final at 10.
    const peft = { ...defaultConfig('adalora').peft, r: 4, alpha: 8, adalora: { ...defaultConfig('adalora').peft.adalora, targetR: 2, tInit: 2, tFinal: 2, deltaT: 1, totalStep: 12, allocate: true } };
    const cfg = config({ peft, steps: 6, miniBatches: 2 });
    const params = async (tr: Trainer) => Promise.all(tr.peft.params.map((p) => tr.model.backend.read(p.tensor)));
    const whole = await makeTrainer(cfg);
    const a = comparable(await run(whole, 6));
    const first = await makeTrainer(cfg);
    await run(first, 3);
    const ck = await saveCheckpoint(first);
    expect(new TextDecoder().decode(ck.tensors.subarray(0, 20_000))).toContain('"allocator/ema.0.A.ipt"');
    const resumed = await makeTrainer(cfg);
    loadCheckpoint(resumed, ck.tensors, JSON.parse(JSON.stringify(ck.meta)));
    expect(comparable(await run(resumed, 3))).toEqual(a.slice(3));
    expect(await params(resumed)).toEqual(await params(whole));
    // The allocator did act: some triplets were masked to zero by the end.
    const E = (await params(whole)).filter((_, i) => whole.peft.params[i].name.includes('lora_E'));
    expect(E.some((e) => e.some((x) => x === 0))).toBe(true);
  }, 600_000);
});

describe('sampling with merged adapters (LoRA, CPU backend)', () => {
  /** |Δ log-prob| of the same sampled token, merged against unmerged: float32 rounding of logits
   * computed as (W + s·B·A)·x rather than W·x + s·B·(A·x). */
  const TOL_LOGP = 1e-5;
  const loraConfig = (mergeAdapters: boolean) =>
    config({ peft: { ...defaultConfig('lora').peft, r: 4, alpha: 16, dropout: 0.1 }, lr: 1e-2, steps: 3, mergeAdapters });

  it('draws the same tokens as unmerged sampling, step after step, with log-probs equal up to rounding', async () => {
    const on = await makeTrainer(loraConfig(true)), off = await makeTrainer(loraConfig(false));
    let maxDelta = 0;
    for (let s = 0; s < 3; s++) { // step 1 samples with B = 0 (W′ = W); steps 2 and 3 with trained adapters
      const [a, b] = [await on.trainStep(), await off.trainStep()];
      const ra = on.lastRollout!, rb = off.lastRollout!;
      expect(ra.tokens).toEqual(rb.tokens);
      for (let i = 0; i < ra.logp.length; i++) maxDelta = Math.max(maxDelta, Math.abs(ra.logp[i] - rb.logp[i]));
      expect([a.reward_mean, a.accuracy, a.groups_kept, a.groups_total]).toEqual([b.reward_mean, b.accuracy, b.groups_kept, b.groups_total]);
    }
    console.log(`merged vs unmerged rollouts: max |Δ logp| = ${maxDelta.toExponential(2)}`);
    expect(maxDelta).toBeGreaterThan(0); // the merged path really ran
    expect(maxDelta).toBeLessThanOrEqual(TOL_LOGP);
  }, 600_000);

  it('a merged evaluation leaves weights and adapters bit-identical and scores as an unmerged one', async () => {
    const cfg = loraConfig(true), tr = await makeTrainer(cfg);
    await tr.trainStep();
    const read = async () => new Map([...await tr.peft.snapshot(), ...await Promise.all([...tr.model.params].map(async ([n, t]) => [n, await tr.model.backend.read(t)] as const))]);
    const tensors = new Map(tr.model.params), before = await read();
    const merged = await tr.evaluate();
    expect(await read()).toEqual(before);
    for (const [n, t] of tensors) expect(tr.model.params.get(n) === t, n).toBe(true);
    expect(tr.model.adaptersEnabled).toBe(true);
    cfg.mergeAdapters = false;
    expect(await tr.evaluate()).toEqual(merged);
    // Per-problem counts add up to avg@k, and pass@k counts the problems with any correct sample.
    for (const r of merged) {
      const c = r.correct_by_problem!;
      expect(c).toHaveLength(r.problems);
      expect(c.reduce((a, x) => a + x, 0) / (r.problems * r.k)).toBeCloseTo(r.avg_at_k, 12);
      expect(c.filter((x) => x > 0).length / r.problems).toBeCloseTo(r.pass_at_k, 12);
    }
  }, 600_000);
});

describe('pairedChange', () => {
  const rec = (correct: number[], over: Partial<EvalRecord> = {}): EvalRecord => ({
    step: 0, split: 'in-dist', k: 4, avg_at_k: 0, pass_at_k: 0, malformed_frac: 0, problems: correct.length, correct_by_problem: correct, ...over,
  });

  it('is the mean per-problem change with its paired standard error', () => {
    const c = pairedChange(rec([0, 2, 4, 1]), rec([2, 2, 4, 3], { step: 10 }))!;
    // per-problem changes 0.5, 0, 0, 0.5: mean 0.25, sd 0.2887, s.e. 0.1443
    expect(c.delta).toBeCloseTo(0.25, 12);
    expect(c.se).toBeCloseTo(Math.sqrt(1 / 12) / 2, 12);
  });

  it('refuses records that do not pair', () => {
    expect(pairedChange(rec([1, 2]), rec([1, 2, 3]))).toBeNull();
    expect(pairedChange(rec([1, 2]), rec([1, 2], { k: 8 }))).toBeNull();
    expect(pairedChange(rec([1, 2]), rec([1, 2], { split: 'hard' }))).toBeNull();
    expect(pairedChange(rec([1, 2], { correct_by_problem: undefined }), rec([1, 2]))).toBeNull();
  });
});
