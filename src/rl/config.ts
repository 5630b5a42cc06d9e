// One typed, validated RL configuration: the study's recipe knobs with commented defaults, and
// named presets for its DAPO recipe and its GRPO / Dr. GRPO ablations.
import { experimentDefaults } from '../peft/registry.ts';
import type { MethodId, PeftConfig } from '../peft/types.ts';
import type { Difficulty } from '../tasks/index.ts';
import type { ScaleRewards } from './advantages.ts';
import type { LossType } from './loss.ts';

export interface RLConfig {
  /** Task id (src/tasks) and the difficulty of training prompts. */
  task: string;
  difficulty: Difficulty;
  peft: PeftConfig;
  lossType: LossType;
  /** Clip bounds on the importance ratio: [1 − epsLow, 1 + epsHigh] (DAPO clip-higher: 0.2 / 0.28). */
  epsLow: number;
  epsHigh: number;
  /** KL coefficient to the reference policy (the base model, adapters off). The study: 0. */
  beta: number;
  /** Advantage normalisation: by the group's std (GRPO), the batch's, or none (Dr. GRPO). */
  scaleRewards: ScaleRewards;
  /** Completions per prompt (G) and prompts per rollout: the study used 8 × 16 = 128. */
  groupSize: number;
  promptsPerStep: number;
  /** Optimizer steps per rollout (the rollout is split into this many mini-batches) and passes over it.
   * With 1 × 1 the ratio is 1 when the gradient is taken (up to the float rounding between the sampler's
   * and the training forward's arithmetic) and clipping does nothing. */
  miniBatches: number;
  epochs: number;
  /** DAPO dynamic sampling: drop groups whose rewards are all equal and sample more prompts, at most this many extra rounds. */
  dynamicSampling: boolean;
  maxResampleRounds: number;
  /** DAPO overlong shaping: penalty 0 up to maxNewTokens − overlongCache, linear to −1 at maxNewTokens. */
  overlongShaping: boolean;
  overlongCache: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  /** Sample (rollouts, evaluation) with the adapters merged into the weights, formed on the backend
   * once per step: one matmul per adapted layer instead of the adapter's extra ones. The policy is
   * the same up to float32 rounding (rollout log-probs, the ratio's "old" ones, move by ~1e-6). */
  mergeAdapters: boolean;
  /** AdamW. The study: 1e-5 constant for PEFT (1e-6 for full fine-tuning) at its scale. */
  lr: number;
  schedule: 'constant' | 'cosine' | 'linear';
  warmupSteps: number;
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  maxGradNorm: number;
  steps: number;
  seed: number;
  /** Held-out evaluation every `evalEvery` steps (0: only at the end), k samples per problem. */
  evalEvery: number;
  evalK: number;
  evalProblems: number;
}

export type PresetId = 'dapo' | 'grpo' | 'dr_grpo';

/** The study's recipe at the lab's scale, with the method's adapter settings and learning rate
 * (its module's MethodDefaults.study). */
export function defaultConfig(method: MethodId = 'lora'): RLConfig {
  const { peft, lr } = experimentDefaults(method, 'study');
  return {
    task: 'arith', difficulty: 'in-dist', peft,
    ...PRESETS.dapo,
    groupSize: 8, promptsPerStep: 8, miniBatches: 2, epochs: 1,
    maxResampleRounds: 2, overlongCache: 16,
    temperature: 1, topP: 1, maxNewTokens: 64, mergeAdapters: true,
    lr, schedule: 'constant', warmupSteps: 0, weightDecay: 0,
    adamBeta1: 0.9, adamBeta2: 0.999, adamEps: 1e-8, maxGradNorm: 1,
    steps: 50, seed: 0, evalEvery: 10, evalK: 4, evalProblems: 50,
  };
}

/** The learning rate of `method` in an experiment that sets `lr` for `experiment.method` (a model
 * catalogue entry's settings): a rate is tuned for its method, so another method takes its own,
 * the study's (defaultConfig). The page's method switch and `npm run train --method` both follow it. */
export function experimentLr(experiment: { method: string; lr: number }, method: MethodId): number {
  return experiment.method === method ? experiment.lr : defaultConfig(method).lr;
}

/** A config saved by an older version of the lab (a checkpoint's state.json, a run kept in the
 * browser) with the settings added since then filled in from the defaults; present values are
 * kept as they are (validateConfig still checks them). */
export function completeConfig(c: RLConfig): RLConfig {
  const d = defaultConfig(c.peft?.method);
  return { ...d, ...c, peft: { ...d.peft, ...c.peft } };
}

type PresetFields = Pick<RLConfig, 'lossType' | 'epsLow' | 'epsHigh' | 'beta' | 'scaleRewards' | 'dynamicSampling' | 'overlongShaping'>;

/** The study's recipes. DAPO is its main one; GRPO and Dr. GRPO are its loss ablation. */
export const PRESETS: Record<PresetId, PresetFields> = {
  dapo: { lossType: 'dapo', epsLow: 0.2, epsHigh: 0.28, beta: 0, scaleRewards: 'group', dynamicSampling: true, overlongShaping: true },
  grpo: { lossType: 'grpo', epsLow: 0.2, epsHigh: 0.2, beta: 0, scaleRewards: 'group', dynamicSampling: false, overlongShaping: false },
  // The study's dr_grpo run kept std normalisation; Dr. GRPO proper turns it off. This is the paper's version.
  dr_grpo: { lossType: 'dr_grpo', epsLow: 0.2, epsHigh: 0.2, beta: 0, scaleRewards: 'none', dynamicSampling: false, overlongShaping: false },
};

/** Errors naming the setting; [] when valid. */
export function validateConfig(c: RLConfig): string[] {
  const e: string[] = [];
  const int = (k: keyof RLConfig, min: number, max = Infinity) => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) e.push(`${k}: must be an integer in [${min}, ${max}], got ${String(v)}`);
  };
  const num = (k: keyof RLConfig, min: number, max: number, openMin = false) => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v > max || (openMin ? v <= min : v < min)) e.push(`${k}: must be in ${openMin ? '(' : '['}${min}, ${max}], got ${String(v)}`);
  };
  int('groupSize', 2, 1024);
  int('promptsPerStep', 1, 1024);
  int('miniBatches', 1, 1024);
  int('epochs', 1, 100);
  int('maxResampleRounds', 0, 100);
  int('overlongCache', 0, 4096);
  int('maxNewTokens', 1, 4096);
  int('warmupSteps', 0, 1e9);
  int('steps', 1, 1e9);
  int('seed', 0, 2 ** 31 - 1);
  int('evalEvery', 0, 1e9);
  int('evalK', 1, 1024);
  int('evalProblems', 1, 100000);
  num('epsLow', 0, 1);
  num('epsHigh', 0, 10);
  num('beta', 0, 100);
  num('temperature', 0, 10, true);
  num('topP', 0, 1, true);
  num('lr', 0, 1, true);
  num('weightDecay', 0, 10);
  num('adamBeta1', 0, 1);
  num('adamBeta2', 0, 1);
  num('adamEps', 0, 1, true);
  num('maxGradNorm', 0, 1e9);
  if (!['grpo', 'bnpo', 'dapo', 'dr_grpo'].includes(c.lossType)) e.push(`lossType: must be grpo, bnpo, dapo or dr_grpo, got "${c.lossType}"`);
  if (!['group', 'batch', 'none'].includes(c.scaleRewards)) e.push(`scaleRewards: must be group, batch or none, got "${c.scaleRewards}"`);
  if (!['constant', 'cosine', 'linear'].includes(c.schedule)) e.push(`schedule: must be constant, cosine or linear, got "${c.schedule}"`);
  if (typeof c.mergeAdapters !== 'boolean') e.push(`mergeAdapters: must be true or false, got ${String(c.mergeAdapters)}`);
  if (c.overlongShaping && c.overlongCache > c.maxNewTokens) e.push(`overlongCache: must not exceed maxNewTokens (${c.maxNewTokens})`);
  if (c.miniBatches > c.groupSize * c.promptsPerStep) e.push(`miniBatches: more mini-batches (${c.miniBatches}) than completions per step (${c.groupSize * c.promptsPerStep})`);
  return e;
}

/** Learning rate at optimizer step t (0-based) of `total`. */
export function learningRate(c: RLConfig, t: number, total: number): number {
  const warm = c.warmupSteps > 0 && t < c.warmupSteps ? (t + 1) / c.warmupSteps : 1;
  const span = Math.max(1, total - c.warmupSteps);
  const p = Math.min(1, Math.max(0, (t - c.warmupSteps) / span));
  const decay = c.schedule === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * p)) : c.schedule === 'linear' ? 1 - p : 1;
  return c.lr * warm * (t < c.warmupSteps ? 1 : decay);
}
