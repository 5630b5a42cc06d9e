// The trainer's DAPO pieces as TRL and verl define them (issue 15):
//  • dapo's loss is normalised by the completion tokens of the whole rollout (TRL's
//    num_items_in_batch), not by each mini-batch's own count (which would make it bnpo);
//  • dynamic sampling keeps a group only when its accuracy varies (verl's filter_groups with
//    metric acc), so groups that differ only by the overlong penalty are dropped.
// The rollout is the real one with its verdicts and lengths overwritten, so both are controlled.
import { describe, expect, it, vi } from 'vitest';
import { CpuBackend } from '../engine/cpu/backend.ts';
import type { ModelConfig } from '../model/config.ts';
import { randomWeights } from '../model/init.ts';
import { Model } from '../model/model.ts';
import { getMethod } from '../peft/registry.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';
import { defaultConfig, type RLConfig } from './config.ts';
import type { PolicyLossConfig, PolicyLossInput } from './loss.ts';
import { Trainer } from './trainer.ts';

const calls: { input: PolicyLossInput; cfg: PolicyLossConfig; numTokens: number }[] = [];
/** Per problem index within a rollout: whether its G rows are all correct (true), or half correct (false). */
let allCorrect: (p: number) => boolean = () => false;

vi.mock('./loss.ts', async (orig) => {
  const m = await orig<typeof import('./loss.ts')>();
  return {
    ...m,
    policyLoss: (input: PolicyLossInput, cfg: PolicyLossConfig) => {
      const r = m.policyLoss(input, cfg);
      calls.push({ input, cfg, numTokens: r.stats.numTokens });
      return r;
    },
  };
});

vi.mock('./rollout.ts', async (orig) => {
  const m = await orig<typeof import('./rollout.ts')>();
  return {
    ...m,
    rollout: async (...args: Parameters<typeof m.rollout>) => {
      const ro = await m.rollout(...args);
      const G = ro.samples;
      for (let row = 0; row < ro.verdicts.length; row++) {
        const p = Math.floor(row / G), j = row % G;
        const correct = allCorrect(p) || j % 2 === 0;
        ro.verdicts[row] = { ...ro.verdicts[row], correct, reward: correct ? 1 : 0, malformed: false };
        // Lengths 1 or 2 inside a 2-token budget with a 2-token overlong cache: shaped rewards differ within every group.
        ro.lengths[row] = 1 + (j % 2);
      }
      return ro;
    },
  };
});

const tok = charTokenizer;
const task = getTask('lastdigit');
const modelCfg: ModelConfig = {
  family: 'qwen2', vocabSize: tok.vocabSize, hidden: 16, intermediate: 32, layers: 1, heads: 2, kvHeads: 1, headDim: 8,
  ropeTheta: 10000, rmsEps: 1e-6, tieEmbeddings: true, qkvBias: true, oBias: false, mlpBias: false, maxPositions: 40,
  bosTokenId: 1, eosTokenId: 2,
};

async function trainer(over: Partial<RLConfig>): Promise<Trainer> {
  const c: RLConfig = {
    ...defaultConfig('full'), task: 'lastdigit', maxNewTokens: 2, groupSize: 4, promptsPerStep: 4, miniBatches: 2, epochs: 1,
    dynamicSampling: false, overlongShaping: true, overlongCache: 2, maxResampleRounds: 0, evalEvery: 0, seed: 3, mergeAdapters: false, ...over,
  };
  const model = new Model(new CpuBackend(), modelCfg, randomWeights(modelCfg, 1));
  return new Trainer(model, await getMethod(c.peft.method).attach(model, c.peft), task, tok, c);
}

describe('DAPO as TRL / verl define it', () => {
  it('dapo divides every mini-batch by the rollout token count (num_items_in_batch); bnpo by its own', async () => {
    allCorrect = () => false;
    for (const [lossType, epochs] of [['dapo', 1], ['dapo', 2], ['bnpo', 1]] as const) {
      calls.length = 0;
      const tr = await trainer({ lossType, epochs });
      await tr.trainStep();
      expect(calls.length).toBe(2 * epochs);
      // 4 groups × 4 rows, lengths 1, 2, 1, 2: 24 completion tokens in the rollout, 12 per mini-batch.
      for (const c of calls) expect(c.numTokens).toBe(12);
      for (const c of calls) expect(c.cfg.numItemsInBatch).toBe(lossType === 'dapo' ? 24 : undefined);
    }
  }, 60_000);

  it('dynamic sampling filters on accuracy: all-correct groups are dropped even when the length penalty varies', async () => {
    allCorrect = (p) => p % 2 === 0; // problems 0 and 2 all correct, 1 and 3 half correct
    const tr = await trainer({ lossType: 'dapo', dynamicSampling: true });
    const m = await tr.trainStep();
    expect([m.groups_kept, m.groups_total]).toEqual([2, 4]);
    // Without dynamic sampling every group trains; the all-correct ones only through the length penalty.
    const all = await (await trainer({ lossType: 'dapo', dynamicSampling: false })).trainStep();
    expect([all.groups_kept, all.groups_total]).toEqual([4, 4]);
  }, 60_000);
});
