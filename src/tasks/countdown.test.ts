import { describe, expect, it } from 'vitest';
import { COUNTDOWN_LEVELS, countdown, countdownTeacher, drawCountdown, makeCountdown, parseCountdownPrompt, solveCountdown } from './countdown.ts';
import { MAX_EXPR_CHARS, MAX_EXPR_DEPTH, evaluate, formatExpr, literals, parseExpression } from './expr.ts';
import { Rng } from './rng.ts';
import type { Problem } from './types.ts';

/** Exact value of an expression as "n/d" (or "n"), or the failure reason. */
function val(src: string): string {
  const p = parseExpression(src);
  if (!p.ok) return p.reason;
  const v = evaluate(p.expr);
  if (!v.ok) return v.reason;
  return v.value.d === 1n ? String(v.value.n) : `${v.value.n}/${v.value.d}`;
}

describe('expression parser and exact evaluation', () => {
  it('precedence, associativity and parentheses (hand-computed)', () => {
    expect(val('3+5*2')).toBe('13');
    expect(val('(3+5)*2')).toBe('16');
    expect(val('10-4-3')).toBe('3'); // (10-4)-3, not 10-(4-3)
    expect(val('10-(4-3)')).toBe('9');
    expect(val('24/4/3')).toBe('2'); // (24/4)/3
    expect(val('24/(4/3)')).toBe('18');
    expect(val('((((7))))')).toBe('7');
    expect(val('007+1')).toBe('8');
  });

  it('rational arithmetic is exact', () => {
    expect(val('8/3*3')).toBe('8');
    expect(val('1/3+1/3+1/3')).toBe('1');
    expect(val('1/3')).toBe('1/3');
    expect(val('2-7')).toBe('-5');
    expect(val('1/(2-7)')).toBe('-1/5');
    expect(val('99999*99999*99999*99999*99999')).toBe(String(99999n ** 5n));
  });

  it('division by zero is a result, not an exception', () => {
    expect(val('5/0')).toBe('division-by-zero');
    expect(val('5/(3-3)')).toBe('division-by-zero');
    expect(val('0/0')).toBe('division-by-zero');
    expect(val('1+2*(4/(2-2))')).toBe('division-by-zero');
    expect(val('0/5')).toBe('0');
  });

  it('rejects everything outside the grammar', () => {
    for (const s of ['', '-3+5', '+3', '3+', '3++4', '(3+4', '3+4)', '()', '3(4)', '(3)(4)', '3x4', '3×4', '3÷4', '3^2', '3.5', '1e3', 'a', '3 + 4', '2**3', '4//2']) {
      expect(parseExpression(s).ok, s).toBe(false);
    }
  });

  it('length and depth limits', () => {
    expect(parseExpression('1'.repeat(MAX_EXPR_CHARS)).ok).toBe(true);
    expect(parseExpression('1'.repeat(MAX_EXPR_CHARS + 1))).toEqual({ ok: false, reason: 'too-long' });
    const nest = (d: number) => `${'('.repeat(d)}1${')'.repeat(d)}`;
    expect(parseExpression(nest(MAX_EXPR_DEPTH)).ok).toBe(true);
    expect(parseExpression(nest(MAX_EXPR_DEPTH + 1))).toEqual({ ok: false, reason: 'bad-format' });
    expect(parseExpression(nest(100_000))).toEqual({ ok: false, reason: 'too-long' });
  });

  it('literals come out canonical, left to right; formatExpr keeps the tree', () => {
    const p = parseExpression('(03+5)*02');
    expect(p.ok && literals(p.expr)).toEqual(['3', '5', '2']);
    for (const s of ['(3+5)*2', '10-(4-3)', '24/(4/3)', '3+5*2', '10-4-3', '2*(3*4)', '(1+2)+(3+4)', '8/(3-8/3)']) {
      const e = parseExpression(s);
      if (!e.ok) throw new Error(s);
      const printed = formatExpr(e.expr);
      expect(val(printed), s).toBe(val(s));
      const again = parseExpression(printed);
      expect(again.ok && again.expr).toEqual(e.expr);
    }
    const e = parseExpression('(3+5)*2');
    expect(e.ok && formatExpr(e.expr)).toBe('(3+5)*2');
  });
});

const P: Problem = { prompt: 'Use 3 5 2 to make 16\n', answer: '(3+5)*2' };
const v = (completion: string, p: Problem = P) => countdown.verify(completion, p);

describe('countdown verifier', () => {
  it('any correct expression scores, in any spacing', () => {
    for (const c of ['Answer: (3+5)*2', '3+5=8\n8*2=16\nAnswer: (3+5)*2', 'Answer: 2*(5+3)', 'Answer: ( 3 + 5 ) * 2', 'Answer: (3+5)*2.', '  Answer:(3+5)*2  ', 'Answer: ((3+5))*2', 'Answer: (5+3)*2\r\n']) {
      expect(v(c), c).toMatchObject({ reward: 1, correct: true, malformed: false, reason: 'correct' });
    }
    expect(v('Answer: ( 3 + 5 ) * 2').extracted).toBe('(3+5)*2');
  });

  it('at most once: a subset of the numbers is fine, a repeat is not', () => {
    const p: Problem = { prompt: 'Use 4 4 7 to make 16\n', answer: '4*4' };
    expect(v('Answer: 4*4', p)).toMatchObject({ reward: 1 }); // 4 is given twice, 7 unused
    expect(v('Answer: 4*4*7/7', p)).toMatchObject({ reward: 0, reason: 'number-reused' });
    expect(v('Answer: 5*3+1')).toMatchObject({ reward: 0, malformed: false, reason: 'number-not-given' });
    expect(v('Answer: 2*8')).toMatchObject({ reward: 0, reason: 'number-not-given' });
    expect(v('Answer: 16')).toMatchObject({ reward: 0, reason: 'number-not-given' });
    expect(v('Answer: (3+3)*2')).toMatchObject({ reward: 0, reason: 'number-reused' });
    expect(v('Answer: 03+5')).toMatchObject({ reward: 0, reason: 'wrong', extracted: '03+5' });
  });

  it('fractional intermediates are allowed when the value is exact', () => {
    const p: Problem = { prompt: 'Use 8 3 3 to make 8\n', answer: '8' };
    expect(v('Answer: 8/3*3', p)).toMatchObject({ reward: 1 });
    expect(v('Answer: 8/3', p)).toMatchObject({ reward: 0, reason: 'wrong' });
  });

  it('wrong value, division by zero: well-formed, reward 0', () => {
    expect(v('Answer: 3+5+2')).toEqual({ reward: 0, correct: false, extracted: '3+5+2', malformed: false, reason: 'wrong' });
    expect(v('Answer: 3*5-2')).toMatchObject({ reward: 0, reason: 'wrong' });
    const z: Problem = { prompt: 'Use 5 3 3 2 to make 16\n', answer: '' };
    expect(v('Answer: 5/(3-3)', z)).toMatchObject({ reward: 0, malformed: false, reason: 'division-by-zero' });
  });

  it('malformed: no line, not an expression, extras', () => {
    for (const c of ['(3+5)*2', 'answer: (3+5)*2', 'Answer: (3+5)*2=16', 'Answer: 16 = (3+5)*2', 'Answer: (3+5)×2', 'Answer: -(3-5)*2', 'Answer: (3+5)*2 because', 'Answer: (3+5', 'Answer: three']) {
      expect(v(c), c).toMatchObject({ reward: 0, correct: false, malformed: true, extracted: null });
    }
    expect(v('')).toMatchObject({ reward: 0, malformed: true, reason: 'no-answer-line' });
    expect(v('Answer:')).toMatchObject({ reward: 0, malformed: true, reason: 'empty-answer' });
  });

  it('multiple Answer lines: the last one decides', () => {
    expect(v('Answer: 3+5\nAnswer: (3+5)*2')).toMatchObject({ reward: 1 });
    expect(v('Answer: (3+5)*2\nAnswer: 3+5')).toMatchObject({ reward: 0, reason: 'wrong' });
  });

  it('huge and adversarial completions: a reward, never an exception, quickly', () => {
    const t0 = performance.now();
    expect(v(`Answer: ${'9'.repeat(10_000)}`)).toMatchObject({ reward: 0, reason: 'too-long' });
    expect(v(`Answer: 3*${'9'.repeat(90)}`)).toMatchObject({ reward: 0, reason: 'number-not-given' });
    expect(v(`Answer: ${'('.repeat(100_000)}3${')'.repeat(100_000)}`)).toMatchObject({ reward: 0, malformed: true });
    expect(v(`Answer: ${'('.repeat(40)}3${')'.repeat(40)}`)).toMatchObject({ reward: 0, malformed: true }); // depth > 32
    expect(v(`Answer: ${'3+'.repeat(49)}3`)).toMatchObject({ reward: 0, reason: 'number-reused' });
    expect(v(`Answer: 2/(5-5)`, { prompt: 'Use 2 5 5 to make 1\n', answer: '' })).toMatchObject({ reward: 0, reason: 'division-by-zero' });
    const r = new Rng(2);
    const garbage = Array.from({ length: 1 << 20 }, () => '()+-*/0123456789 \nAnswer:'[r.int(0, 23)]).join('');
    expect(v(garbage).reward).toBe(0);
    expect(v(`${garbage}\nAnswer: 2*(3+5)`)).toMatchObject({ reward: 1 });
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('never throws on nonsense arguments', () => {
    expect(v(undefined as unknown as string)).toMatchObject({ reward: 0, malformed: true });
    expect(countdown.verify('Answer: 1', { prompt: 'nope', answer: '' })).toMatchObject({ reward: 0, reason: 'bad-problem' });
    expect(countdown.verify('Answer: 1', {} as Problem)).toMatchObject({ reward: 0, reason: 'bad-problem' });
    expect(countdown.verify('Answer: 1', null as unknown as Problem)).toMatchObject({ reward: 0, reason: 'internal-error' });
  });

  it('the use-every-number variant', () => {
    const all = makeCountdown({ useAllNumbers: true });
    expect(all.id).toBe('countdown-all');
    const p: Problem = { prompt: 'Use 4 4 7 to make 23\n', answer: '4*4+7' };
    expect(all.verify('Answer: 4*4+7', p)).toMatchObject({ reward: 1 });
    expect(all.verify('Answer: 4*4', { ...p, prompt: 'Use 4 4 7 to make 16\n' })).toMatchObject({ reward: 0, reason: 'numbers-unused' });
    expect(all.teacher(p)).toBe('4*4=16\n16+7=23\nAnswer: 4*4+7');
    expect(() => all.teacher({ prompt: 'Use 4 4 7 to make 16\n', answer: '' })).toThrow(/no solution/);
  });
});

describe('countdown solver, teacher and generation', () => {
  it('teacher writes the fewest steps, larger operand first (hand-checked)', () => {
    expect(countdownTeacher(P)).toBe('5+3=8\n8*2=16\nAnswer: (5+3)*2');
    expect(countdownTeacher({ prompt: 'Use 7 10 14 to make 8\n', answer: '' })).toBe('14/7=2\n10-2=8\nAnswer: 10-14/7');
    expect(countdownTeacher({ prompt: 'Use 4 4 7 to make 16\n', answer: '' })).toBe('4*4=16\nAnswer: 4*4');
    expect(countdownTeacher({ prompt: 'Use 9 2 to make 9\n', answer: '' })).toBe('Answer: 9');
    expect(() => countdownTeacher({ prompt: 'Use 1 1 to make 99\n', answer: '' })).toThrow(/no solution/);
  });

  it('use-all solutions use every number', () => {
    expect(solveCountdown({ numbers: [4, 4, 7], target: 16 }, true)).toBeNull();
    const s = solveCountdown({ numbers: [2, 3, 5, 7], target: 41 }, true);
    const text = s ? formatExpr(s.expr) : '';
    const e = parseExpression(text);
    expect(e.ok && literals(e.expr).sort()).toEqual(['2', '3', '5', '7']);
    expect(val(text)).toBe('41');
  });

  it('generated problems are in range, non-trivial, and solvable by their reference answer', () => {
    const r = new Rng(23);
    for (const d of ['in-dist', 'hard'] as const) {
      const lvl = COUNTDOWN_LEVELS[d];
      for (let i = 0; i < 500; i++) {
        const p = drawCountdown(r, d);
        expect(p.numbers).toHaveLength(lvl.count);
        for (const n of p.numbers) expect(n >= 1 && n <= lvl.maxNumber).toBe(true);
        expect(p.target >= 1 && p.target <= lvl.maxTarget).toBe(true);
        expect(p.numbers).not.toContain(p.target);
        expect(val(p.solution)).toBe(String(p.target));
        const prompt = `Use ${p.numbers.join(' ')} to make ${p.target}\n`;
        expect(parseCountdownPrompt(prompt)).toEqual({ numbers: p.numbers, target: p.target });
        expect(makeCountdown({ useAllNumbers: true }).verify(`Answer: ${p.solution}`, { prompt, answer: p.solution }).reward).toBe(1);
      }
    }
  });

  it('the same numbers in another order are the same problem for held-out purposes', () => {
    const [first] = countdown.evalSet('hard').problems;
    const p = parseCountdownPrompt(first!.prompt)!;
    expect(countdown.isHeldOut(first!.prompt)).toBe(true);
    expect(countdown.isHeldOut(`Use ${[...p.numbers].reverse().join(' ')} to make ${p.target}\n`)).toBe(true);
    expect(countdown.isHeldOut(`Use ${p.numbers.join(' ')} to make ${p.target + 1000}\n`)).toBe(false);
  });
});
