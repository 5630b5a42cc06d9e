// The task registry and the public surface of src/tasks (README.md documents it).

import { arith } from './arith.ts';
import { countdown } from './countdown.ts';
import { lastdigit } from './lastdigit.ts';
import type { Task } from './types.ts';

/** Every task the lab offers, by id. */
export const tasks: Readonly<Record<string, Task>> = Object.freeze({
  [arith.id]: arith,
  [countdown.id]: countdown,
  [lastdigit.id]: lastdigit,
});

export const taskIds: readonly string[] = Object.freeze(Object.keys(tasks));

/** The task with this id; throws an Error naming the valid ids otherwise. */
export function getTask(id: string): Task {
  if (typeof id === 'string' && Object.hasOwn(tasks, id)) return tasks[id] as Task;
  throw new Error(`unknown task ${JSON.stringify(id)}; valid task ids: ${taskIds.join(', ')}`);
}

export type { Difficulty, EvalSet, MetaValue, Problem, Task, Verdict, VerdictReason } from './types.ts';
export { DIFFICULTIES } from './types.ts';
export { Rng, fnv1a32 } from './rng.ts';
export type { RngState, Seed } from './rng.ts';
export { ANSWER_PREFIX, MAX_ANSWER_CHARS, extractAnswer, normaliseInteger } from './answer.ts';
export { EVAL_SET_SIZE, EVAL_VERSION, evalSeed } from './task.ts';
export { arith, makeArith } from './arith.ts';
export { countdown, makeCountdown } from './countdown.ts';
export { lastdigit } from './lastdigit.ts';
export type { CountdownOptions } from './countdown.ts';
export { CharTokenizer, TokenizerError, charTokenizer } from './tokenizer.ts';
export type { HfConfigIds } from './tokenizer.ts';
