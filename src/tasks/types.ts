// The contract between tasks and the RL trainer / evaluator. See README.md in this folder.

import type { Rng } from './rng.ts';

/** The two held-out levels: like the study's MATH-500 (in-distribution) and AIME (harder). */
export type Difficulty = 'in-dist' | 'hard';
export const DIFFICULTIES: readonly Difficulty[] = ['in-dist', 'hard'];

/** JSON-safe values a task may attach to a problem for display and analysis. */
export type MetaValue = string | number | boolean | readonly number[];

export interface Problem {
  /** What the model is conditioned on, ASCII, ending in "\n"; the completion follows it. */
  prompt: string;
  /**
   * A reference answer, exactly as it would appear after "Answer: ". For tasks with many
   * correct answers (countdown) it is one of them; verify(`Answer: ${answer}`) is always correct.
   */
  answer: string;
  /** Task-specific details (operands, numbers, difficulty). Never needed by verify(). */
  meta?: Readonly<Record<string, MetaValue>>;
}

/**
 * Why a completion got its reward. Malformed reasons (format failures, counted separately):
 * no-answer-line, empty-answer, too-long, bad-format. Well-formed but wrong: wrong,
 * number-not-given, number-reused, numbers-unused, division-by-zero. bad-problem: the problem
 * itself could not be read (not the model's fault). internal-error: a bug in a verifier was
 * caught so that verify() still returned; tests assert it never happens.
 */
export type VerdictReason =
  | 'correct'
  | 'wrong'
  | 'no-answer-line'
  | 'empty-answer'
  | 'too-long'
  | 'bad-format'
  | 'number-not-given'
  | 'number-reused'
  | 'numbers-unused'
  | 'division-by-zero'
  | 'bad-problem'
  | 'internal-error';

export interface Verdict {
  /** 1 if correct, else 0 (the study's binary accuracy reward; map to ±1 in the trainer if wanted). */
  reward: number;
  correct: boolean;
  /** The normalised answer that was judged, or null when none could be read (malformed). */
  extracted: string | null;
  /** The output broke the answer format: reward 0, and counted as a format failure. */
  malformed: boolean;
  reason: VerdictReason;
}

export interface EvalSet {
  id: Difficulty;
  /** Fixed: generated from a fixed seed, identical on every machine and run. */
  problems: readonly Problem[];
}

export interface Task {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  /** Upper bounds (characters, excluding <bos>/<eos>) over every problem this task generates
   *  and every teacher solution: size the model's context and max generation length with them. */
  readonly limits: { readonly promptChars: number; readonly completionChars: number };
  /**
   * A fresh training problem (default difficulty 'in-dist'). Never returns a problem that
   * isHeldOut() — it redraws instead. Deterministic given the rng state.
   */
  generate(rng: Rng, difficulty?: Difficulty): Problem;
  /** Scores a completion (the text generated after the prompt). Never throws; bounded work. */
  verify(completion: string, problem: Problem): Verdict;
  /** A short worked solution ending in the "Answer: ..." line: SFT distillation data. */
  teacher(problem: Problem): string;
  /** Held-out sets, built on first access from fixed seeds: [in-dist, hard]. */
  readonly evalSets: readonly EvalSet[];
  evalSet(id: Difficulty): EvalSet;
  /** True if this prompt (or an equivalent one, e.g. a+b vs b+a) is in an evaluation set. */
  isHeldOut(prompt: string): boolean;
}
