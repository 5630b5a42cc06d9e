// Part of section 4 (decode): the rollout with the adapters as separate matmuls against the same
// rollout with them merged into the weights (PeftInstance.withMerged, what the trainer does when
// RLConfig.mergeAdapters is on). Dispatches per decode token are exact (the difference between two
// rollout lengths, so the prompt's prefill and the merge drop out); the rollout time includes the
// merge, which runs once per RL step.
import type { BenchEnv } from './env.ts';
import type { MergedRolloutRow } from './report.ts';
import { timeWall, type Timing } from './timing.ts';
import { buildRig, randomPrompts, type Rig } from './training.ts';

export async function mergedRolloutRows(env: BenchEnv, rig?: Rig): Promise<MergedRolloutRow[]> {
  const { be, cfg, log } = env, s = cfg.step, ctx = be.ctx;
  const r = rig ?? await buildRig(be, s.model, cfg.vocab, cfg.maxPositions, s.method, s.rank);
  const B = s.prompts * s.group, P = s.promptLen, half = Math.max(1, Math.floor(s.newTokens / 2));
  const prompts = randomPrompts(B, P, cfg.vocab, 7);
  const generate = (steps: number) => r.model.generate(prompts, B, steps, { temperature: 1, topP: 1, seed: 5 });
  const rows: MergedRolloutRow[] = [];
  for (const merged of [false, true]) {
    const sampling = (fn: () => Promise<unknown>) => (merged ? r.peft.withMerged(fn) : fn());
    // Counts (deterministic) from two rollout lengths; the CPU encoding from the last timed rollout,
    // on warm pipelines (its prefill and, when merged, the merge included).
    const counts = async (steps: number) => {
      let n = 0, bg = 0;
      await sampling(async () => {
        const [d0, b0] = [ctx.dispatches, ctx.bindGroupsCreated];
        await generate(steps);
        [n, bg] = [ctx.dispatches - d0, ctx.bindGroupsCreated - b0];
      });
      return { n, bg };
    };
    const [long, short] = [await counts(s.newTokens), await counts(half)];
    const perToken = (a: number, b: number) => (a - b) / (s.newTokens - half);
    const dispatchesPerToken = perToken(long.n, short.n), bindGroupsPerToken = perToken(long.bg, short.bg);
    let encodeMs = 0;
    const rollout = await timeWall(async () => {
      const e0 = ctx.encodeMs;
      await sampling(() => generate(s.newTokens));
      encodeMs = ctx.encodeMs - e0;
    }, cfg.wall);
    const encodeUsPerToken = (1000 * encodeMs) / s.newTokens;
    let mergeDispatches = 0, merge: Timing | null = null;
    if (merged) {
      const d0 = ctx.dispatches;
      await r.peft.withMerged(() => be.sync());
      mergeDispatches = ctx.dispatches - d0;
      merge = await timeWall(() => r.peft.withMerged(() => be.sync()), cfg.wall);
    }
    const row: MergedRolloutRow = {
      gpu: env.gpuName, method: r.method, rank: r.method === 'full' ? null : s.rank, merged, sequences: B, promptLen: P,
      newTokens: s.newTokens, dispatchesPerToken, encodeUsPerToken, bindGroupsPerToken, rollout, merge, mergeDispatches,
    };
    rows.push(row);
    log(`  rollout ${merged ? 'merged  ' : 'adapters'} ${B}×${s.newTokens}: ${dispatchesPerToken} dispatches per token ` +
      `(${encodeUsPerToken.toFixed(0)} µs of CPU encoding, ${bindGroupsPerToken} bind groups made), ` +
      `${rollout.medianMs.toFixed(1)} ms` + (merge ? ` (the merge alone: ${merge.medianMs.toFixed(1)} ms, ${mergeDispatches} dispatches)` : ''));
  }
  return rows;
}
