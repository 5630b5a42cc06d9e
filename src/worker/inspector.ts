// The group inspector's data: for each prompt of the last rollout, its G completions with the
// extracted answer, reward, advantage and per-token log-probs, and whether the group had any reward
// variance at all (a group whose rewards are all equal gets Â = 0 everywhere: it teaches nothing).
//
// The trainer keeps the last rollout round (`lastRollout`); its advantages are recomputed here per
// group with the run's normalisation, so they match the trainer's exactly for 'group' and 'none'
// scaling (for 'batch' the trainer divides by the std of all kept groups, possibly from several
// dynamic-sampling rounds; here by the std of this round's).
import { applyOverlongShaping, groupAdvantages } from '../rl/advantages.ts';
import type { RLConfig } from '../rl/config.ts';
import type { Rollout } from '../rl/rollout.ts';
import type { CharTokenizer } from '../tasks/index.ts';
import type { GroupView } from './protocol.ts';

/** At most this many groups are sent per step (the inspector shows one at a time). */
export const MAX_GROUPS = 16;

export function groupViews(ro: Rollout, cfg: Pick<RLConfig, 'overlongShaping' | 'maxNewTokens' | 'overlongCache' | 'scaleRewards'>,
  tok: CharTokenizer, maxGroups = MAX_GROUPS): GroupView[] {
  const G = ro.samples, P = ro.promptLen, W = P + ro.steps;
  const raw = ro.verdicts.map((v) => v.reward);
  const rewards = cfg.overlongShaping ? Array.from(applyOverlongShaping(raw, ro.lengths, cfg.maxNewTokens, cfg.overlongCache)) : raw;
  const adv = groupAdvantages(rewards, G, cfg.scaleRewards);
  const out: GroupView[] = [];
  for (let p = 0; p < Math.min(ro.problems.length, maxGroups); p++) {
    const samples = [];
    for (let j = 0; j < G; j++) {
      const r = p * G + j;
      const tokens = [];
      for (let s = 0; s < ro.lengths[r]; s++) {
        const id = ro.tokens[r * W + P + s];
        tokens.push({ text: tok.idToToken(id) ?? '?', logp: ro.logp[r * ro.steps + s] });
      }
      const v = ro.verdicts[r];
      samples.push({
        completion: ro.completions[r], tokens, extracted: v.extracted, reward: rewards[r], advantage: adv.advantages[r],
        correct: v.correct, malformed: v.malformed,
      });
    }
    out.push({ prompt: ro.problems[p].prompt, answer: ro.problems[p].answer, samples, zeroVariance: adv.zeroVariance[p] === 1 });
  }
  return out;
}
