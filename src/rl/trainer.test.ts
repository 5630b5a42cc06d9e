// RL end to end on the CPU backend: a tiny random model learns the lastdigit warm-up task by RL
// alone, runs are reproducible, and a resumed run matches an uninterrupted one.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../engine/cpu/backend.ts';
import type { ModelConfig } from '../model/config.ts';
import { randomWeights } from '../model/init.ts';
import { Model } from '../model/model.ts';
import { getMethod } from '../peft/registry.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { defaultConfig, type RLConfig } from './config.ts';
import { Trainer, type StepMetrics } from './trainer.ts';

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
});
