// Builds a Task from its parts and adds what every task shares: the fixed held-out evaluation
// sets, the training generator that never emits a held-out problem, and a verifier that never
// throws.
//
// How held-out sets stay disjoint from training. Each task gives every prompt a canonical key
// that identifies the problem up to trivial rewrites (a+b and b+a; the same countdown numbers
// in another order). The evaluation sets are drawn from fixed seeds; `generate()` redraws any
// problem whose key belongs to either set. This is exact — no hash partition and no false
// positives — and costs one Set lookup per draw. Eval sets are built lazily, on first use.

import { guardVerifier } from './answer.ts';
import { Rng } from './rng.ts';
import type { Difficulty, EvalSet, Problem, Task, Verdict } from './types.ts';
import { DIFFICULTIES } from './types.ts';

/** Problems per held-out set. */
export const EVAL_SET_SIZE = 200;
/** Bump when a generator changes on purpose: eval sets (and their pinned checksums) change. */
export const EVAL_VERSION = 'v1';

export interface TaskSpec {
  id: string;
  name: string;
  description: string;
  limits: { promptChars: number; completionChars: number };
  /** Draws one problem at the given difficulty; may repeat earlier ones, knows nothing of eval sets. */
  draw(rng: Rng, difficulty: Difficulty): Problem;
  /** Canonical identity of a prompt (see above); for a prompt it cannot read, the prompt itself. */
  key(prompt: string): string;
  /** The verifier proper. May assume a string completion; an exception becomes 'internal-error'. */
  check(completion: string, problem: Problem): Verdict;
  teacher(problem: Problem): string;
}

/** Seed of a held-out set: a string, so every task and level has its own unrelated stream. */
export const evalSeed = (taskId: string, difficulty: Difficulty): string => `rlvr-lab/${taskId}/eval/${difficulty}/${EVAL_VERSION}`;

/** Redraws per generate() call before giving up (a bug: held-out sets are a tiny fraction). */
const MAX_REDRAWS = 10_000;

function buildEvalSets(spec: TaskSpec): { sets: EvalSet[]; keys: Set<string> } {
  const keys = new Set<string>();
  const sets = DIFFICULTIES.map((id): EvalSet => {
    const rng = new Rng(evalSeed(spec.id, id));
    const problems: Problem[] = [];
    for (let tries = 0; problems.length < EVAL_SET_SIZE; tries++) {
      if (tries > 100 * EVAL_SET_SIZE) throw new Error(`${spec.id}: cannot draw ${EVAL_SET_SIZE} distinct ${id} problems`);
      const p = spec.draw(rng, id);
      const k = spec.key(p.prompt);
      if (keys.has(k)) continue; // distinct within a set and across the two sets
      keys.add(k);
      problems.push(Object.freeze(p));
    }
    return Object.freeze({ id, problems: Object.freeze(problems) });
  });
  return { sets, keys };
}

export function defineTask(spec: TaskSpec): Task {
  let built: { sets: EvalSet[]; keys: Set<string> } | null = null;
  const evalData = () => (built ??= buildEvalSets(spec));
  const isHeldOut = (prompt: string): boolean => evalData().keys.has(spec.key(prompt));
  const verify = guardVerifier(spec.check);

  return {
    id: spec.id,
    name: spec.name,
    description: spec.description,
    limits: Object.freeze({ ...spec.limits }),
    generate(rng: Rng, difficulty: Difficulty = 'in-dist'): Problem {
      for (let i = 0; i < MAX_REDRAWS; i++) {
        const p = spec.draw(rng, difficulty);
        if (!isHeldOut(p.prompt)) return p;
      }
      throw new Error(`${spec.id}: ${MAX_REDRAWS} draws in a row were held out (generator bug)`);
    },
    verify(completion: string, problem: Problem): Verdict {
      return verify(completion, problem);
    },
    teacher: spec.teacher,
    get evalSets(): readonly EvalSet[] {
      return evalData().sets;
    },
    evalSet(id: Difficulty): EvalSet {
      const set = evalData().sets.find((s) => s.id === id);
      if (!set) throw new Error(`${spec.id}: no eval set "${String(id)}"; valid: ${DIFFICULTIES.join(', ')}`);
      return set;
    },
    isHeldOut,
  };
}
