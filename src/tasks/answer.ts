// The lab's one answer format, shared by every task (README.md has the full rules):
//   the model writes its worked steps, then a line `Answer: <value>`.
// The LAST line that starts with `Answer:` (after optional spaces/tabs) is the one judged;
// anything after that line is ignored. Every function here is total (never throws) and does
// work linear in the input, so a megabyte of garbage costs one scan, not a hang.

import type { Verdict, VerdictReason } from './types.ts';

export const ANSWER_PREFIX = 'Answer:';
/** A value longer than this (characters on the answer line) is malformed ('too-long'). No
 *  correct answer in these tasks comes near it; the cap keeps logs and verdicts small. */
export const MAX_ANSWER_CHARS = 256;

export type Extracted =
  | { ok: true; value: string }
  | { ok: false; reason: 'no-answer-line' | 'empty-answer' | 'too-long' };

const isBlank = (c: number): boolean => c === 32 || c === 9 || c === 13; // space, tab, CR

/**
 * Finds the last `Answer:` line and returns its value, trimmed, with one trailing "." removed.
 * A value is whatever follows `Answer:` up to the end of that line.
 */
export function extractAnswer(completion: string): Extracted {
  if (typeof completion !== 'string') return { ok: false, reason: 'no-answer-line' };
  let at = completion.lastIndexOf(ANSWER_PREFIX);
  while (at >= 0) {
    // Line start: only blanks between the previous "\n" (or the text start) and `Answer:`.
    // Each scan stops at the first non-blank, and blank runs before different candidates are
    // disjoint, so all scans together stay linear in the length of the completion.
    let j = at - 1;
    while (j >= 0 && isBlank(completion.charCodeAt(j))) j--;
    if (j < 0 || completion.charCodeAt(j) === 10) break;
    at = completion.lastIndexOf(ANSWER_PREFIX, at - 1);
  }
  if (at < 0) return { ok: false, reason: 'no-answer-line' };
  const start = at + ANSWER_PREFIX.length;
  const nl = completion.indexOf('\n', start);
  const end = nl < 0 ? completion.length : nl;
  if (end - start > MAX_ANSWER_CHARS) return { ok: false, reason: 'too-long' };
  let value = completion.slice(start, end).trim();
  if (value.endsWith('.')) value = value.slice(0, -1).trimEnd();
  if (value === '') return { ok: false, reason: 'empty-answer' };
  return { ok: true, value };
}

/**
 * Canonical form of an integer answer: optional sign directly before the digits, no leading
 * "+", no leading zeros, "-0" → "0". Returns null for anything that is not an integer
 * (inner spaces, commas, decimals, words). Works on strings, so any length is fine.
 */
export function normaliseInteger(value: string): string | null {
  if (!/^[+-]?[0-9]+$/.test(value)) return null;
  const negative = value.charCodeAt(0) === 45; // '-'
  const digits = value.replace(/^[+-]/, '').replace(/^0+(?=[0-9])/, '');
  return negative && digits !== '0' ? `-${digits}` : digits;
}

const MALFORMED: ReadonlySet<VerdictReason> = new Set<VerdictReason>(['no-answer-line', 'empty-answer', 'too-long', 'bad-format']);

/** Builds a verdict; `malformed` follows from the reason, reward from correctness. */
export function verdict(reason: VerdictReason, extracted: string | null = null): Verdict {
  const correct = reason === 'correct';
  return { reward: correct ? 1 : 0, correct, extracted, malformed: MALFORMED.has(reason), reason };
}

/** Wraps a verifier so that nothing escapes it: a non-string completion is malformed, and an
 *  exception (a bug) becomes reward 0 with reason 'internal-error' instead of crashing training. */
export function guardVerifier<P>(check: (completion: string, problem: P) => Verdict): (completion: string, problem: P) => Verdict {
  return (completion, problem) => {
    if (typeof completion !== 'string') return verdict('no-answer-line');
    try {
      return check(completion, problem);
    } catch {
      return verdict('internal-error');
    }
  };
}
