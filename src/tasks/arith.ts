// `arith`: multi-digit arithmetic with worked, column-by-column steps.
//
//   prompt:   "What is 347-285?\n"
//   teacher:  "7-5=2 >2\n14-8=6 >62\n3-2-1=0 >062\nAnswer: 62"
//
// Addition and subtraction go right to left, one column per line: the column's digits, "+1"
// for a carry in (or "-1" for a borrow), the column result, then " >" and the digits of the
// result found so far (so the final answer is a copy, not a reversal). A borrowing column
// shows its top digit plus ten ("14-8"). When the second number is larger, the first line is
// "-(b-a)" and the columns compute b−a. Multiplication writes one partial product per digit of
// the multiplier, then their sum. Levels: in-dist = + and − on 2–3-digit numbers; hard =
// + and − on 4–5-digit numbers, or × of a 2–3-digit by a 1–2-digit number (never seen in
// in-dist training: like AIME next to MATH-500, a test of going beyond the training data).

import { extractAnswer, normaliseInteger, verdict } from './answer.ts';
import type { Rng } from './rng.ts';
import { defineTask } from './task.ts';
import type { Difficulty, Problem, Task, Verdict } from './types.ts';

export type ArithOp = '+' | '-' | '*';

export interface ArithProblem {
  a: number;
  op: ArithOp;
  b: number;
}

const PROMPT_RE = /^What is ([0-9]{1,9})([-+*])([0-9]{1,9})\?\n$/;

export const arithPrompt = (p: ArithProblem): string => `What is ${p.a}${p.op}${p.b}?\n`;

/** Reads an arith prompt back; null if it is not one. */
export function parseArithPrompt(prompt: string): ArithProblem | null {
  if (typeof prompt !== 'string' || prompt.length > 64) return null;
  const m = PROMPT_RE.exec(prompt);
  if (!m) return null;
  return { a: Number(m[1]), op: m[2] as ArithOp, b: Number(m[3]) };
}

export function arithValue({ a, op, b }: ArithProblem): number {
  return op === '+' ? a + b : op === '-' ? a - b : a * b;
}

/** Uniform number with exactly `d` digits. */
const withDigits = (rng: Rng, d: number): number => rng.int(10 ** (d - 1), 10 ** d - 1);

export function drawArith(rng: Rng, difficulty: Difficulty): ArithProblem {
  if (difficulty === 'in-dist' || rng.bool()) {
    const [lo, hi] = difficulty === 'in-dist' ? [2, 3] : [4, 5];
    const op: ArithOp = rng.bool() ? '+' : '-';
    const a = withDigits(rng, rng.int(lo, hi));
    const b = withDigits(rng, rng.int(lo, hi));
    return { a, op, b };
  }
  const a = withDigits(rng, rng.int(2, 3));
  const b = rng.bool() ? rng.int(2, 9) : withDigits(rng, 2);
  return { a, op: '*', b };
}

/** Digits, least significant first. */
const digitsLsf = (n: number): number[] => [...String(n)].reverse().map(Number);

function addSteps(a: number, b: number): string[] {
  const da = digitsLsf(a);
  const db = digitsLsf(b);
  const n = Math.max(da.length, db.length);
  const lines: string[] = [];
  let carry = 0;
  let sofar = '';
  for (let i = 0; i < n; i++) {
    const x = da[i] ?? 0;
    const y = db[i] ?? 0;
    const s = x + y + carry;
    sofar = (i === n - 1 ? String(s) : String(s % 10)) + sofar;
    lines.push(`${x}+${y}${carry ? '+1' : ''}=${s} >${sofar}`);
    carry = s >= 10 ? 1 : 0;
  }
  return lines;
}

/** Column subtraction of a − b for a >= b. */
function subSteps(a: number, b: number): string[] {
  const da = digitsLsf(a);
  const db = digitsLsf(b);
  const lines: string[] = [];
  let borrow = 0;
  let sofar = '';
  for (let i = 0; i < da.length; i++) {
    const x = da[i] ?? 0;
    const y = db[i] ?? 0;
    const v = x - y - borrow;
    const r = v < 0 ? v + 10 : v;
    sofar = String(r) + sofar;
    lines.push(`${v < 0 ? '1' : ''}${x}-${y}${borrow ? '-1' : ''}=${r} >${sofar}`);
    borrow = v < 0 ? 1 : 0;
  }
  return lines;
}

function mulSteps(a: number, b: number): string[] {
  const partials = digitsLsf(b).map((d, i) => ({ text: `${a}*${d}${'0'.repeat(i)}`, value: a * d * 10 ** i }));
  const lines = partials.map((p) => `${p.text}=${p.value}`);
  if (partials.length > 1) lines.push(`${partials.map((p) => p.value).join('+')}=${a * b}`);
  return lines;
}

export function arithTeacher(problem: Problem): string {
  const p = parseArithPrompt(problem.prompt);
  if (!p) throw new Error(`arith.teacher: not an arith prompt: ${JSON.stringify(problem.prompt)}`);
  const { a, op, b } = p;
  let lines: string[];
  if (op === '+') lines = addSteps(a, b);
  else if (op === '*') lines = mulSteps(a, b);
  else lines = a >= b ? subSteps(a, b) : [`-(${b}-${a})`, ...subSteps(b, a)];
  return [...lines, `Answer: ${arithValue(p)}`].join('\n');
}

function arithCheck(completion: string, problem: Problem): Verdict {
  const truth = normaliseInteger(problem.answer);
  if (truth === null) return verdict('bad-problem');
  const got = extractAnswer(completion);
  if (!got.ok) return verdict(got.reason);
  const value = normaliseInteger(got.value);
  if (value === null) return verdict('bad-format');
  return verdict(value === truth ? 'correct' : 'wrong', value);
}

/** a+b and b+a (and a*b, b*a) are one problem for held-out purposes; a-b and b-a are not. */
function arithKey(prompt: string): string {
  const p = parseArithPrompt(prompt);
  if (!p) return prompt;
  const [x, y] = p.op !== '-' && p.b < p.a ? [p.b, p.a] : [p.a, p.b];
  return `${x}${p.op}${y}`;
}

/** A fresh arith task (its eval sets are rebuilt on first use: the tests check they match). */
export function makeArith(): Task {
  return defineTask({
    id: 'arith',
    name: 'Multi-digit arithmetic',
    description:
      'Add or subtract 2-3 digit numbers column by column (hard set: 4-5 digits, or multiplication). ' +
      'Answer: the integer result.',
    limits: { promptChars: 21, completionChars: 100 },
    draw(rng: Rng, difficulty: Difficulty): Problem {
      const p = drawArith(rng, difficulty);
      return { prompt: arithPrompt(p), answer: String(arithValue(p)), meta: { difficulty, a: p.a, op: p.op, b: p.b } };
    },
    key: arithKey,
    check: arithCheck,
    teacher: arithTeacher,
  });
}

export const arith = makeArith();
