// One typed, validated configuration for supervised distillation (SFT on a task teacher's worked
// solutions), with commented defaults; the distill CLI exposes every field as a flag.
import type { Difficulty } from '../tasks/index.ts';
import { DIFFICULTIES, taskIds } from '../tasks/index.ts';

export type ModelSize = 'tiny' | 'small' | 'base';
export const SIZES: readonly ModelSize[] = ['tiny', 'small', 'base'];

export interface SftConfig {
  /** Task id (src/tasks) whose teacher writes the data, and the difficulty the problems are drawn at. */
  task: string;
  difficulty: Difficulty;
  /** Named qwen2-family size (src/model/init.ts namedConfig), randomly initialised from `seed`. */
  size: ModelSize;
  /** A model folder to continue from instead of a random init ('' = random); its model must be of
   * `size`. For a second stage: a fresh schedule and, with another `seed`, fresh problems. */
  init: string;
  /** The model's max_position_embeddings (RoPE: a limit, not a learned table). */
  maxPositions: number;
  /** Optimizer steps, each on `batchSize` fresh teacher solutions. */
  steps: number;
  batchSize: number;
  /** AdamW peak learning rate: linear warmup over `warmupSteps`, then cosine down to lr · minLrRatio. */
  lr: number;
  minLrRatio: number;
  warmupSteps: number;
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  /** Clip the global gradient norm to this (0: no clipping). */
  maxGradNorm: number;
  /** One seed for everything: initial weights, the data stream. */
  seed: number;
  /** Every `evalEvery` steps (0: only at the end): held-out token loss, and avg@k / pass@k on the
   * first `evalProblems` problems of each held-out set, k = evalK samples each. */
  evalEvery: number;
  evalProblems: number;
  evalK: number;
  /** Held-out loss: the teacher's solutions to the first `lossProblems` problems of the training-difficulty held-out set. */
  lossProblems: number;
  /** The final evaluation (for the model card): problems per held-out set and samples per problem. */
  finalEvalProblems: number;
  finalEvalK: number;
  /** Sampling for evaluation: the RL defaults, so the card's numbers are what RL starts from. */
  temperature: number;
  topP: number;
  maxNewTokens: number;
}

/** The defaults are the recipe of public/models/rlvr-lab-arith-tiny (docs/DISTILL.md; the small model's three stages are in its card). */
export function defaultSftConfig(): SftConfig {
  return {
    task: 'arith', difficulty: 'in-dist', size: 'tiny', init: '', maxPositions: 256,
    steps: 3000, batchSize: 16,
    lr: 5e-3, minLrRatio: 0.1, warmupSteps: 50, weightDecay: 0.01,
    adamBeta1: 0.9, adamBeta2: 0.99, adamEps: 1e-8, maxGradNorm: 1,
    seed: 0,
    evalEvery: 500, evalProblems: 50, evalK: 4, lossProblems: 64,
    finalEvalProblems: 200, finalEvalK: 8,
    temperature: 1, topP: 1, maxNewTokens: 64,
  };
}

/** Errors naming the setting; [] when valid. */
export function validateSftConfig(c: SftConfig): string[] {
  const e: string[] = [];
  const int = (k: keyof SftConfig, min: number, max = 1e9) => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) e.push(`${k}: must be an integer in [${min}, ${max}], got ${String(v)}`);
  };
  const num = (k: keyof SftConfig, min: number, max: number, openMin = false) => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v > max || (openMin ? v <= min : v < min)) e.push(`${k}: must be in ${openMin ? '(' : '['}${min}, ${max}], got ${String(v)}`);
  };
  if (!taskIds.includes(c.task)) e.push(`task: unknown task "${c.task}"; valid: ${taskIds.join(', ')}`);
  if (!DIFFICULTIES.includes(c.difficulty)) e.push(`difficulty: must be one of ${DIFFICULTIES.join(', ')}, got "${c.difficulty}"`);
  if (!SIZES.includes(c.size)) e.push(`size: must be one of ${SIZES.join(', ')}, got "${c.size}"`);
  if (c.init !== undefined && typeof c.init !== 'string') e.push(`init: must be a model folder or empty, got ${String(c.init)}`);
  int('maxPositions', 8, 1 << 16);
  int('steps', 1);
  int('batchSize', 1, 4096);
  num('lr', 0, 1, true);
  num('minLrRatio', 0, 1);
  int('warmupSteps', 0);
  num('weightDecay', 0, 10);
  num('adamBeta1', 0, 1);
  num('adamBeta2', 0, 1);
  num('adamEps', 0, 1, true);
  num('maxGradNorm', 0, 1e9);
  int('seed', 0, 2 ** 31 - 1);
  int('evalEvery', 0);
  int('evalProblems', 1, 100000);
  int('evalK', 1, 1024);
  int('lossProblems', 1, 100000);
  int('finalEvalProblems', 1, 100000);
  int('finalEvalK', 1, 1024);
  num('temperature', 0, 10, true);
  num('topP', 0, 1, true);
  int('maxNewTokens', 1, 4096);
  return e;
}

/** Learning rate at optimizer step t (0-based) of `total`: linear warmup, then cosine to lr · minLrRatio. */
export function sftLearningRate(c: Pick<SftConfig, 'lr' | 'minLrRatio' | 'warmupSteps'>, t: number, total: number): number {
  if (t < c.warmupSteps) return (c.lr * (t + 1)) / c.warmupSteps;
  const span = Math.max(1, total - 1 - c.warmupSteps);
  const p = Math.min(1, Math.max(0, (t - c.warmupSteps) / span));
  const floor = c.lr * c.minLrRatio;
  return floor + (c.lr - floor) * 0.5 * (1 + Math.cos(Math.PI * p));
}
