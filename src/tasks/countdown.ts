// `countdown`: reach a target from given numbers with + - * /.
//
//   prompt:   "Use 3 5 2 to make 16\n"
//   teacher:  "3+5=8\n8*2=16\nAnswer: (3+5)*2"
//
// Rule (README.md): each given number may be used AT MOST ONCE (a repeated number in the
// prompt may be used as many times as it is given); using all of them is not required. Any
// expression over those numbers whose exact value is the target scores, including ones with
// fractional or negative intermediates ("(8/3)*3" is 8). The answer line carries the
// expression only: "Answer: (3+5)*2" — no "=16", no unary minus (see expr.ts for the grammar).
// `makeCountdown({ useAllNumbers: true })` builds the TinyZero variant (each number exactly once).
//
// Generation is by construction, so every problem is solvable with positive integer steps:
// draw the numbers, combine random pairs with random operations (− only to a positive result,
// ÷ only when exact) until one value is left, and use it as the target if it is in range and
// is not one of the given numbers. The teacher solves the problem itself by a small exhaustive
// search (fewest steps first), so it also works on prompts without meta.

import { extractAnswer, verdict } from './answer.ts';
import { evaluate, formatExpr, literals, parseExpression } from './expr.ts';
import type { Expr, Op } from './expr.ts';
import type { Rng } from './rng.ts';
import { defineTask } from './task.ts';
import type { Difficulty, Problem, Task, Verdict } from './types.ts';

export interface CountdownProblem {
  numbers: number[];
  target: number;
}

export interface CountdownLevel {
  count: number;
  maxNumber: number;
  maxTarget: number;
}

export const COUNTDOWN_LEVELS: Readonly<Record<Difficulty, CountdownLevel>> = {
  'in-dist': { count: 3, maxNumber: 20, maxTarget: 100 },
  hard: { count: 4, maxNumber: 50, maxTarget: 500 },
};

/** Construction and teacher steps keep every intermediate value below this. */
const MAX_INTERMEDIATE = 10_000;

export const countdownPrompt = (p: CountdownProblem): string => `Use ${p.numbers.join(' ')} to make ${p.target}\n`;

const PROMPT_RE = /^Use ([0-9]{1,6}(?: [0-9]{1,6}){0,5}) to make ([0-9]{1,9})\n$/;

/** Reads a countdown prompt back; null if it is not one. */
export function parseCountdownPrompt(prompt: string): CountdownProblem | null {
  if (typeof prompt !== 'string' || prompt.length > 128) return null;
  const m = PROMPT_RE.exec(prompt);
  if (!m || m[1] === undefined) return null;
  return { numbers: m[1].split(' ').map(Number), target: Number(m[2]) };
}

/** A solution tree whose every node carries its (positive integer) value. */
type Node = { value: number; expr: Expr; steps: string[] };

const leaf = (v: number): Node => ({ value: v, expr: { kind: 'num', text: String(v) }, steps: [] });

/** The ways to combine two positive integers into a positive integer, in a fixed order. */
function combinations(a: Node, b: Node): Node[] {
  const [hi, lo] = a.value >= b.value ? [a, b] : [b, a];
  const out: Node[] = [];
  const make = (op: Op, x: Node, y: Node, v: number): void => {
    if (v <= 0 || v >= MAX_INTERMEDIATE) return;
    out.push({ value: v, expr: { kind: 'bin', op, left: x.expr, right: y.expr }, steps: [...x.steps, ...y.steps, `${x.value}${op}${y.value}=${v}`] });
  };
  // Larger operand first throughout, so steps read "28+10=38" and "(17+11)+10" prints bare.
  make('+', hi, lo, a.value + b.value);
  if (hi.value !== lo.value) make('-', hi, lo, hi.value - lo.value);
  make('*', hi, lo, a.value * b.value);
  if (lo.value > 1 && hi.value % lo.value === 0) make('/', hi, lo, hi.value / lo.value);
  return out;
}

export function drawCountdown(rng: Rng, difficulty: Difficulty): CountdownProblem & { solution: string } {
  const { count, maxNumber, maxTarget } = COUNTDOWN_LEVELS[difficulty];
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const numbers = Array.from({ length: count }, () => rng.int(1, maxNumber));
    let pool = numbers.map(leaf);
    while (pool.length > 1) {
      const i = rng.below(pool.length);
      let j = rng.below(pool.length - 1);
      if (j >= i) j++;
      const options = combinations(pool[i] as Node, pool[j] as Node);
      if (options.length === 0) break; // everything overflowed: start over
      const next = rng.pick(options);
      pool = pool.filter((_, k) => k !== i && k !== j);
      pool.push(next);
    }
    const root = pool[0] as Node;
    if (pool.length !== 1 || root.value > maxTarget || numbers.includes(root.value)) continue;
    return { numbers, target: root.value, solution: formatExpr(root.expr) };
  }
  throw new Error(`countdown: could not construct a ${difficulty} problem`);
}

/**
 * A solution with the fewest steps (positive integer intermediates), or null. Deterministic.
 * With useAll, only solutions that use every number count.
 */
export function solveCountdown(p: CountdownProblem, useAll = false): Node | null {
  if (p.numbers.length === 0 || p.numbers.length > 6) return null;
  const leaves = p.numbers.map(leaf);
  if (!useAll || leaves.length === 1) {
    const hit = leaves.find((l) => l.value === p.target);
    if (hit) return hit;
  }
  const search = (pool: Node[], stepsLeft: number): Node | null => {
    for (let i = 0; i < pool.length; i++) {
      for (let j = i + 1; j < pool.length; j++) {
        const rest = pool.filter((_, k) => k !== i && k !== j);
        for (const c of combinations(pool[i] as Node, pool[j] as Node)) {
          if (stepsLeft === 1) {
            if (c.value === p.target && (!useAll || rest.length === 0)) return c;
          } else {
            const found = search([...rest, c], stepsLeft - 1);
            if (found) return found;
          }
        }
      }
    }
    return null;
  };
  const first = useAll ? leaves.length - 1 : 1;
  for (let steps = first; steps < leaves.length; steps++) {
    const found = search(leaves, steps);
    if (found) return found;
  }
  return null;
}

export interface CountdownOptions {
  /** Require every given number to be used (exactly once). Default false: at most once. */
  useAllNumbers?: boolean;
}

export function countdownChecker(options: CountdownOptions = {}): (completion: string, problem: Problem) => Verdict {
  const useAll = options.useAllNumbers ?? false;
  return (completion: string, problem: Problem): Verdict => {
    const p = parseCountdownPrompt(problem.prompt);
    if (!p) return verdict('bad-problem');
    const got = extractAnswer(completion);
    if (!got.ok) return verdict(got.reason);
    const text = got.value.replace(/\s+/g, '');
    const parsed = parseExpression(text);
    if (!parsed.ok) return verdict(parsed.reason);
    // Multiset check: each literal must consume one still-unused given number.
    const unused = new Map<string, number>();
    for (const n of p.numbers) unused.set(String(n), (unused.get(String(n)) ?? 0) + 1);
    const used = literals(parsed.expr);
    for (const lit of used) {
      const left = unused.get(lit);
      if (left === undefined) return verdict('number-not-given', text);
      if (left === 0) return verdict('number-reused', text);
      unused.set(lit, left - 1);
    }
    if (useAll && used.length !== p.numbers.length) return verdict('numbers-unused', text);
    const value = evaluate(parsed.expr);
    if (!value.ok) return verdict(value.reason, text);
    const hit = value.value.d === 1n && value.value.n === BigInt(p.target);
    return verdict(hit ? 'correct' : 'wrong', text);
  };
}

export function countdownTeacher(problem: Problem, useAll = false): string {
  const p = parseCountdownPrompt(problem.prompt);
  if (!p) throw new Error(`countdown.teacher: not a countdown prompt: ${JSON.stringify(problem.prompt)}`);
  const s = solveCountdown(p, useAll);
  if (!s) throw new Error(`countdown.teacher: no solution for ${JSON.stringify(problem.prompt)}`);
  return [...s.steps, `Answer: ${formatExpr(s.expr)}`].join('\n');
}

/** Same numbers in any order with the same target are one problem for held-out purposes. */
function countdownKey(prompt: string): string {
  const p = parseCountdownPrompt(prompt);
  if (!p) return prompt;
  return `${[...p.numbers].sort((a, b) => a - b).join(' ')}>${p.target}`;
}

export function makeCountdown(options: CountdownOptions = {}): Task {
  const useAll = options.useAllNumbers ?? false;
  return defineTask({
    id: useAll ? 'countdown-all' : 'countdown',
    name: useAll ? 'Countdown (use every number)' : 'Countdown',
    description:
      `Reach the target from the given numbers with + - * / and parentheses, each number used ${useAll ? 'exactly' : 'at most'} once. ` +
      'Answer: the expression, e.g. (3+5)*2.',
    limits: { promptChars: 28, completionChars: 100 },
    draw(rng: Rng, difficulty: Difficulty): Problem {
      const p = drawCountdown(rng, difficulty);
      return { prompt: countdownPrompt(p), answer: p.solution, meta: { difficulty, numbers: p.numbers, target: p.target } };
    },
    key: countdownKey,
    check: countdownChecker(options),
    teacher: (problem) => countdownTeacher(problem, useAll),
  });
}

export const countdown = makeCountdown();
