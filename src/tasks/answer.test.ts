import { describe, expect, it } from 'vitest';
import { MAX_ANSWER_CHARS, extractAnswer, guardVerifier, normaliseInteger, verdict } from './answer.ts';

const value = (s: string): string | null => {
  const r = extractAnswer(s);
  return r.ok ? r.value : null;
};
const reason = (s: string): string | null => {
  const r = extractAnswer(s);
  return r.ok ? null : r.reason;
};

describe('extractAnswer', () => {
  it('reads the value of an Answer line', () => {
    expect(value('Answer: 42')).toBe('42');
    expect(value('1+1=2\nAnswer: 2')).toBe('2');
    expect(value('Answer:42')).toBe('42');
    expect(value('steps\nAnswer: 42\n')).toBe('42');
  });

  it('takes the LAST Answer line; text after it is ignored', () => {
    expect(value('Answer: 1\nAnswer: 2')).toBe('2');
    expect(value('Answer: 2\nwait, no\nAnswer: 3\nthe end')).toBe('3');
    expect(value('Answer: 5\nAnswer: oops')).toBe('oops'); // the last one is judged, even if bad
  });

  it('normalises whitespace: indentation, padding, tabs, CRLF; one trailing "."', () => {
    expect(value('   Answer:    42   ')).toBe('42');
    expect(value('\tAnswer:\t42\t')).toBe('42');
    expect(value('x\r\nAnswer: 42\r\n')).toBe('42');
    expect(value('Answer: 42.')).toBe('42');
    expect(value('Answer: 42 . ')).toBe('42');
    expect(value('Answer: 42..')).toBe('42.');
  });

  it('only counts "Answer:" at the start of a line, case-sensitive', () => {
    expect(reason('The Answer: 42')).toBe('no-answer-line');
    expect(reason('answer: 42')).toBe('no-answer-line');
    expect(reason('ANSWER: 42')).toBe('no-answer-line');
    expect(reason('Answer 42')).toBe('no-answer-line');
    expect(value('Answer: 1\nSo the Answer: 2')).toBe('1');
    expect(value('xAnswer: 1\nAnswer: 2 Answer: 3')).toBe('2 Answer: 3');
  });

  it('empty and missing answers', () => {
    expect(reason('')).toBe('no-answer-line');
    expect(reason('Answer:')).toBe('empty-answer');
    expect(reason('Answer:   \n')).toBe('empty-answer');
    expect(reason('Answer: .')).toBe('empty-answer');
    expect(reason('42')).toBe('no-answer-line');
    expect(reason(undefined as unknown as string)).toBe('no-answer-line');
  });

  it('caps the answer line length', () => {
    expect(value(`Answer: ${'1'.repeat(MAX_ANSWER_CHARS - 1)}`)).toHaveLength(MAX_ANSWER_CHARS - 1);
    expect(reason(`Answer: ${'1'.repeat(10_000)}`)).toBe('too-long');
    expect(value(`Answer: ${'1'.repeat(10_000)}\nAnswer: 7`)).toBe('7');
  });

  it('does bounded (linear) work on adversarial inputs', () => {
    const garbage = 'Answer:'.repeat(150_000); // ~1 MB, "Answer:" everywhere but never at a line start after the first
    const t0 = performance.now();
    expect(reason(garbage)).toBe('too-long');
    expect(reason(`x${garbage}`)).toBe('no-answer-line');
    expect(reason(`x${' '.repeat(1_000_000)}Answer: 1`)).toBe('no-answer-line');
    expect(value(`${' \n'.repeat(500_000)}Answer: 1`)).toBe('1');
    expect(reason('\n'.repeat(1_000_000))).toBe('no-answer-line');
    // Generous bound: these are a handful of linear scans over ~1 MB each.
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('normaliseInteger', () => {
  it('canonicalises sign and leading zeros', () => {
    expect(normaliseInteger('42')).toBe('42');
    expect(normaliseInteger('+42')).toBe('42');
    expect(normaliseInteger('0042')).toBe('42');
    expect(normaliseInteger('-0042')).toBe('-42');
    expect(normaliseInteger('-0')).toBe('0');
    expect(normaliseInteger('+000')).toBe('0');
    expect(normaliseInteger('0')).toBe('0');
  });

  it('rejects anything that is not a plain integer', () => {
    for (const s of ['', '+', '-', '4 2', '1,234', '12.5', '1e3', '0x10', '--4', '+-4', 'forty', '4\u0660', '- 4', '42!']) {
      expect(normaliseInteger(s), s).toBeNull();
    }
  });

  it('handles 10,000-digit numbers', () => {
    expect(normaliseInteger(`000${'9'.repeat(10_000)}`)).toBe('9'.repeat(10_000));
  });
});

describe('verdict and guardVerifier', () => {
  it('derives reward and malformed from the reason', () => {
    expect(verdict('correct', '5')).toEqual({ reward: 1, correct: true, extracted: '5', malformed: false, reason: 'correct' });
    expect(verdict('wrong', '4')).toEqual({ reward: 0, correct: false, extracted: '4', malformed: false, reason: 'wrong' });
    for (const r of ['no-answer-line', 'empty-answer', 'too-long', 'bad-format'] as const) expect(verdict(r).malformed).toBe(true);
    for (const r of ['number-not-given', 'number-reused', 'division-by-zero', 'bad-problem'] as const) {
      expect(verdict(r)).toMatchObject({ reward: 0, malformed: false });
    }
  });

  it('turns exceptions and non-strings into a reward instead of a throw', () => {
    const v = guardVerifier<number>(() => {
      throw new Error('bug');
    });
    expect(v('Answer: 1', 0)).toMatchObject({ reward: 0, reason: 'internal-error' });
    expect(v(null as unknown as string, 0)).toMatchObject({ reward: 0, malformed: true });
  });
});
