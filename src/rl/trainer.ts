// The RLVR loop: sample prompts → rollouts on the backend → verify → group advantages (dynamic
// sampling, overlong shaping) → mini-batch policy-gradient updates with the chosen loss → metrics.
// The same class drives the CLI, the worker and the tests.
import type { Model } from '../model/model.ts';
import type { PeftInstance } from '../peft/types.ts';
import { Rng, type CharTokenizer, type Problem, type RngState, type Task } from '../tasks/index.ts';
import { applyOverlongShaping, groupAdvantages } from './advantages.ts';
import { learningRate, type RLConfig } from './config.ts';
import { policyLoss } from './loss.ts';
import { AdamW } from './optimizer.ts';
import { rollout, scoreAtK, type Rollout } from './rollout.ts';

export interface StepMetrics {
  step: number;
  reward_mean: number;
  reward_std: number;
  accuracy: number;
  malformed_frac: number;
  loss: number;
  policy_loss: number;
  kl_loss: number;
  kl: number | null;
  entropy: number;
  response_len: number;
  groups_kept: number;
  groups_total: number;
  clip_frac_low: number;
  clip_frac_high: number;
  grad_norm: number;
  lr: number;
  rollout_tokens_per_s: number;
  train_tokens_per_s: number;
  time_rollout_s: number;
  time_train_s: number;
}

export interface EvalRecord {
  step: number;
  split: string;
  k: number;
  avg_at_k: number;
  pass_at_k: number;
  malformed_frac: number;
  problems: number;
  /** Standard error of avg_at_k over the problems (each problem's share of correct samples); absent in runs saved before it existed. */
  avg_at_k_se?: number;
  /** Correct samples (of k) per problem, in the held-out set's order: for paired comparisons. */
  correct_by_problem?: number[];
}

/** Everything a checkpoint needs besides the adapter tensors and optimizer moments. */
export interface TrainerState {
  step: number;
  promptRng: RngState;
}

const now = () => globalThis.performance.now() / 1000;

export class Trainer {
  readonly opt: AdamW;
  step = 0;
  private readonly promptRng: Rng;
  /** The last rollout, for the group inspector. */
  lastRollout: Rollout | null = null;
  lastAdvantages: Float64Array | null = null;
  /** Called between decode chunks of rollouts and evaluation (progress; a caller may yield or abort
   * by throwing, which leaves the trainer as it was before the step once `restore(state())` is applied). */
  onProgress: ((p: SamplingProgress) => void | Promise<void>) | null = null;

  constructor(
    readonly model: Model, readonly peft: PeftInstance, readonly task: Task, readonly tok: CharTokenizer, readonly cfg: RLConfig,
    private readonly refModel: Model | null = null,
  ) {
    this.opt = new AdamW(model.backend, peft.params, {
      beta1: cfg.adamBeta1, beta2: cfg.adamBeta2, eps: cfg.adamEps, weightDecay: cfg.weightDecay, maxGradNorm: cfg.maxGradNorm,
    });
    this.promptRng = new Rng(`${cfg.seed}:prompts`);
  }

  state(): TrainerState {
    return { step: this.step, promptRng: this.promptRng.getState() };
  }

  restore(s: TrainerState): void {
    this.step = s.step;
    this.promptRng.setState(s.promptRng);
  }

  private sampleSettings(round: number) {
    const c = this.cfg;
    const onChunk = this.onProgress ? (done: number, steps: number) => this.onProgress?.({ phase: 'rollout', done, total: steps }) : undefined;
    return { temperature: c.temperature, topP: c.topP, maxNewTokens: c.maxNewTokens, seed: (this.step * 101 + round) * 7919 + c.seed, onChunk };
  }

  /** One RL step: a rollout (with dynamic-sampling refills) and the updates it feeds. */
  async trainStep(): Promise<StepMetrics> {
    const c = this.cfg, G = c.groupSize;
    const t0 = now();
    // 1. Rollouts, refilling zero-variance groups when dynamic sampling is on (one merge for all rounds).
    const kept: { problem: Problem; rows: number[]; ro: Rollout; rewards: number[] }[] = [];
    let groupsTotal = 0, rolloutTokens = 0, allRewards: number[] = [], correct = 0, malformed = 0, samples = 0;
    await this.sampling(async () => {
      for (let round = 0; round <= (c.dynamicSampling ? c.maxResampleRounds : 0) && kept.length < c.promptsPerStep; round++) {
        const need = c.promptsPerStep - kept.length;
        const problems = Array.from({ length: need }, () => this.task.generate(this.promptRng, c.difficulty));
        const ro = await rollout(this.model, this.tok, this.task, problems, G, this.sampleSettings(round));
        this.lastRollout = ro;
        const raw = ro.verdicts.map((v) => v.reward);
        const shaped = c.overlongShaping ? Array.from(applyOverlongShaping(raw, ro.lengths, c.maxNewTokens, c.overlongCache)) : raw;
        for (let p = 0; p < problems.length; p++) {
          groupsTotal++;
          const rows = Array.from({ length: G }, (_, j) => p * G + j);
          const rewards = rows.map((r) => shaped[r]);
          for (const r of rows) {
            rolloutTokens += ro.lengths[r];
            correct += ro.verdicts[r].correct ? 1 : 0;
            malformed += ro.verdicts[r].malformed ? 1 : 0;
            samples++;
          }
          allRewards = allRewards.concat(rewards);
          // DAPO's filter (verl's filter_groups with metric acc): keep a group only when its accuracy
          // varies. Shaped rewards are not used, so a group that is all correct (or all wrong) and
          // differs only by the overlong penalty is dropped too. docs/SCALE-OUT.md.
          const varies = rows.some((r) => ro.verdicts[r].correct !== ro.verdicts[rows[0]].correct);
          if (!c.dynamicSampling || varies) kept.push({ problem: problems[p], rows, ro, rewards });
        }
      }
    });
    const tRollout = now() - t0;

    // 2. Advantages over the kept groups (a group with equal rewards gets Â = 0).
    const adv = groupAdvantages(kept.flatMap((g) => g.rewards), G, c.scaleRewards).advantages;
    this.lastAdvantages = adv;
    const rows = kept.flatMap((g, gi) => g.rows.map((r, j) => ({ ro: g.ro, r, adv: adv[gi * G + j] })));

    // 3. Updates: the kept rows split into mini-batches, `epochs` passes.
    const t1 = now();
    let lossSum = 0, polSum = 0, klLossSum = 0, klSum = 0, klN = 0, clipLo = 0, clipHi = 0, counted = 0, entSum = 0, entN = 0, lenSum = 0;
    let updated = false, trainTokens = 0, lr = learningRate(c, this.step, c.steps);
    const mb = Math.min(c.miniBatches, Math.max(1, rows.length));
    // dapo's normaliser, TRL's num_items_in_batch: the completion tokens of the whole rollout (every
    // mini-batch), so each optimizer step's loss is its token sum over the rollout's token count.
    const keptTokens = rows.reduce((a, x) => a + x.ro.lengths[x.r], 0);
    for (let epoch = 0; epoch < c.epochs && rows.length > 0; epoch++) {
      for (let m = 0; m < mb; m++) {
        const part = rows.slice(Math.floor((m * rows.length) / mb), Math.floor(((m + 1) * rows.length) / mb));
        if (part.length === 0) continue;
        const T = Math.max(...part.map((x) => x.ro.promptLen + x.ro.steps));
        const B = part.length, N = B * T;
        const ids = new Int32Array(N).fill(this.tok.padId), targets = new Int32Array(N).fill(-1);
        const mask = new Uint8Array(N), oldLogp = new Float32Array(N), advs = new Float64Array(B);
        part.forEach((x, b) => {
          const { ro, r } = x, P = ro.promptLen, W = P + ro.steps;
          ids.set(ro.tokens.subarray(r * W, (r + 1) * W), b * T);
          for (let s = 0; s < ro.lengths[r]; s++) {
            const t = b * T + P - 1 + s;
            targets[t] = ro.tokens[r * W + P + s];
            mask[t] = 1;
            oldLogp[t] = ro.logp[r * ro.steps + s];
            if (epoch === 0) {
              entSum += ro.entropy[r * ro.steps + s];
              entN++;
            }
          }
          if (epoch === 0) lenSum += ro.lengths[r];
          advs[b] = x.adv;
        });
        let refLogp: Float32Array | undefined;
        if (c.beta > 0) refLogp = await this.referenceLogp(ids, targets, B, T);
        this.model.zeroGrads();
        this.peft.zeroGrads();
        const { logp } = this.model.forward(ids, targets, B, T, c.temperature);
        const lp = await this.model.backend.read(logp);
        const res = policyLoss({ numSeqs: B, seqLen: T, logp: lp, oldLogp, refLogp, mask, advantages: advs }, {
          lossType: c.lossType, epsLow: c.epsLow, epsHigh: c.epsHigh, beta: c.beta, maxCompletionLength: c.maxNewTokens,
          numItemsInBatch: c.lossType === 'dapo' ? keptTokens : undefined,
        });
        this.model.backward(res.dlogp);
        const reg = this.peft.regularize ? await this.peft.regularize() : 0;
        lr = learningRate(c, this.opt.step, c.steps * c.epochs * mb);
        this.opt.update(lr);
        if (this.peft.afterStep) await this.peft.afterStep(this.opt.step);
        updated = true;
        const st = res.stats;
        lossSum += res.loss + reg;
        polSum += st.policyTerm;
        klLossSum += st.klTerm;
        if (st.klMean !== null) {
          klSum += st.klMean * st.numTokens;
          klN += st.numTokens;
        }
        clipLo += st.clipCountLow;
        clipHi += st.clipCountHigh;
        counted += st.numTokens;
        trainTokens += N;
      }
    }
    // One readback for the metric, after the last update, not a sync point per mini-batch.
    const gradNorm = updated ? await this.opt.lastGradNorm() : 0;
    const tTrain = now() - t1;
    const updates = Math.max(1, c.epochs * mb);
    const mean = allRewards.reduce((a, b) => a + b, 0) / Math.max(1, allRewards.length);
    const std = Math.sqrt(allRewards.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, allRewards.length));
    this.step++;
    return {
      step: this.step,
      reward_mean: mean, reward_std: std,
      accuracy: correct / Math.max(1, samples), malformed_frac: malformed / Math.max(1, samples),
      loss: lossSum / updates, policy_loss: polSum / updates, kl_loss: klLossSum / updates, kl: klN ? klSum / klN : null,
      entropy: entN ? entSum / entN : 0, response_len: rows.length ? lenSum / rows.length : 0,
      groups_kept: kept.length, groups_total: groupsTotal,
      clip_frac_low: counted ? clipLo / counted : 0, clip_frac_high: counted ? clipHi / counted : 0,
      grad_norm: gradNorm, lr,
      rollout_tokens_per_s: rolloutTokens / Math.max(1e-9, tRollout), train_tokens_per_s: trainTokens / Math.max(1e-9, tTrain),
      time_rollout_s: tRollout, time_train_s: tTrain,
    };
  }

  /** log π_ref of the targets: the base model with adapters off (PEFT), or a frozen copy (full fine-tuning). */
  private async referenceLogp(ids: Int32Array, targets: Int32Array, B: number, T: number): Promise<Float32Array> {
    const temp = this.cfg.temperature;
    if (this.refModel) return this.refModel.backend.read(this.refModel.forward(ids, targets, B, T, temp).logp);
    this.model.adaptersEnabled = false;
    try {
      return await this.model.backend.read(this.model.forward(ids, targets, B, T, temp).logp);
    } finally {
      this.model.adaptersEnabled = true;
    }
  }

  /** avg@k and pass@k on the task's held-out sets (the first `evalProblems` problems of each). */
  evaluate(): Promise<EvalRecord[]> {
    const progress = this.onProgress ?? undefined;
    return this.sampling(() => evaluate(this.model, this.tok, this.task, this.cfg, this.step, 256, progress));
  }

  /** Run `fn` as sampling runs: adapters in eval mode (no dropout, as PEFT's module.eval()) and, with
   * cfg.mergeAdapters, merged into the weights on the backend (the same policy up to float rounding,
   * in fewer dispatches per token). The adapters do not change inside, so one merge serves it all. */
  private async sampling<T>(fn: () => Promise<T>): Promise<T> {
    this.peft.setTraining?.(false);
    try {
      return await (this.cfg.mergeAdapters ? this.peft.withMerged(fn) : fn());
    } finally {
      this.peft.setTraining?.(true);
    }
  }
}

/** The change in avg@k from `before` to `after` (the same held-out problems and sampling seeds), with
 * its paired standard error over problems; null when the records cannot be paired. */
export function pairedChange(before: EvalRecord, after: EvalRecord): { delta: number; se: number } | null {
  const a = before.correct_by_problem, b = after.correct_by_problem;
  if (!a || !b || a.length !== b.length || a.length < 2 || before.k !== after.k || before.split !== after.split) return null;
  const d = a.map((x, i) => (b[i] - x) / before.k);
  const mean = d.reduce((s, x) => s + x, 0) / d.length;
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (d.length - 1));
  return { delta: mean, se: sd / Math.sqrt(d.length) };
}

/** Where sampling is: rollout (decode steps of this step's rollout) or evaluation (problems of all
 * held-out sets, a chunk's decode counted in proportion). */
export interface SamplingProgress {
  phase: 'rollout' | 'eval';
  done: number;
  total: number;
}

export async function evaluate(model: Model, tok: CharTokenizer, task: Task,
  c: Pick<RLConfig, 'evalProblems' | 'evalK' | 'temperature' | 'topP' | 'maxNewTokens'>, step: number, batchRows = 256,
  onProgress?: (p: SamplingProgress) => void | Promise<void>): Promise<EvalRecord[]> {
  const out: EvalRecord[] = [];
  const total = task.evalSets.reduce((a, set) => a + Math.min(set.problems.length, c.evalProblems), 0);
  let before = 0;
  for (const set of task.evalSets) {
    const problems = set.problems.slice(0, c.evalProblems);
    const per = Math.max(1, Math.floor(batchRows / c.evalK));
    let correct = 0, passed = 0, malformed = 0;
    const byProblem: number[] = [];
    for (let i = 0; i < problems.length; i += per) {
      const chunk = problems.slice(i, i + per);
      // Evaluation seeds do not depend on the training step, so every checkpoint sees the same draws.
      const base = before;
      const onChunk = onProgress && ((done: number, steps: number) => onProgress({ phase: 'eval', done: base + (chunk.length * done) / steps, total }));
      const ro = await rollout(model, tok, task, chunk, c.evalK, { temperature: c.temperature, topP: c.topP, maxNewTokens: c.maxNewTokens, seed: 1_000_003 + i, onChunk });
      before += chunk.length;
      await onProgress?.({ phase: 'eval', done: before, total });
      const s = scoreAtK(ro);
      correct += s.avgAtK * chunk.length;
      passed += s.passAtK * chunk.length;
      malformed += s.malformed * chunk.length;
      byProblem.push(...s.correctByProblem);
    }
    const n = problems.length, mean = correct / n;
    const sd = Math.sqrt(byProblem.reduce((a, x) => a + (x / c.evalK - mean) ** 2, 0) / Math.max(1, n - 1));
    out.push({ step, split: set.id, k: c.evalK, avg_at_k: mean, pass_at_k: passed / n, malformed_frac: malformed / n, problems: n,
      avg_at_k_se: sd / Math.sqrt(n), correct_by_problem: byProblem });
  }
  return out;
}
