import { describe, expect, it } from 'vitest';
import { Rng } from './rng.ts';
import { lastdigit } from './lastdigit.ts';

describe('lastdigit', () => {
  const p = { prompt: 'Repeat the last digit: 4821', answer: '1' };
  it('scores the first character of the completion', () => {
    expect(lastdigit.verify('1', p)).toMatchObject({ reward: 1, correct: true, malformed: false, extracted: '1' });
    expect(lastdigit.verify(' 1<garbage', p).reward).toBe(1);
    expect(lastdigit.verify('7', p)).toMatchObject({ reward: 0, correct: false, malformed: false });
    expect(lastdigit.verify('x1', p)).toMatchObject({ reward: 0, malformed: true });
    expect(lastdigit.verify('', p)).toMatchObject({ reward: 0, malformed: true, reason: 'empty-answer' });
    expect(lastdigit.verify('9'.repeat(10_000), p).reward).toBe(0);
  });
  it('teacher verifies; eval sets are disjoint from training draws and within limits', () => {
    const r = new Rng('lastdigit-test');
    for (let i = 0; i < 2000; i++) {
      const q = lastdigit.generate(r, i % 2 ? 'hard' : 'in-dist');
      expect(lastdigit.isHeldOut(q.prompt)).toBe(false);
      expect(lastdigit.verify(lastdigit.teacher(q), q).reward).toBe(1);
      expect(q.prompt.length).toBeLessThanOrEqual(lastdigit.limits.promptChars);
    }
    expect(lastdigit.evalSet('hard').problems).toHaveLength(200);
  });
});
