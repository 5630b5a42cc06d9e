import { describe, expect, it } from 'vitest';
import { arith, arithTeacher, drawArith, parseArithPrompt } from './arith.ts';
import { Rng } from './rng.ts';
import type { Problem } from './types.ts';

const problem = (a: number, op: string, b: number, answer: number): Problem => ({ prompt: `What is ${a}${op}${b}?\n`, answer: String(answer) });
const P = problem(347, '-', 285, 62);
const v = (completion: string, p: Problem = P) => arith.verify(completion, p);

describe('arith teacher (hand-worked)', () => {
  it('addition: one column per line, carries as "+1", result so far after ">"', () => {
    expect(arithTeacher(problem(347, '+', 285, 632))).toBe('7+5=12 >2\n4+8+1=13 >32\n3+2+1=6 >632\nAnswer: 632');
    expect(arithTeacher(problem(999, '+', 1, 1000))).toBe('9+1=10 >0\n9+0+1=10 >00\n9+0+1=10 >1000\nAnswer: 1000');
    expect(arithTeacher(problem(12, '+', 30, 42))).toBe('2+0=2 >2\n1+3=4 >42\nAnswer: 42');
  });

  it('subtraction: borrowing columns show top+10 and "-1" on the next column', () => {
    expect(arithTeacher(P)).toBe('7-5=2 >2\n14-8=6 >62\n3-2-1=0 >062\nAnswer: 62');
    expect(arithTeacher(problem(100, '-', 1, 99))).toBe('10-1=9 >9\n10-0-1=9 >99\n1-0-1=0 >099\nAnswer: 99');
    expect(arithTeacher(problem(55, '-', 55, 0))).toBe('5-5=0 >0\n5-5=0 >00\nAnswer: 0');
  });

  it('negative results: "-(b-a)" first, then b-a by columns', () => {
    expect(arithTeacher(problem(285, '-', 347, -62))).toBe('-(347-285)\n7-5=2 >2\n14-8=6 >62\n3-2-1=0 >062\nAnswer: -62');
  });

  it('multiplication: partial products, then their sum', () => {
    expect(arithTeacher(problem(23, '*', 47, 1081))).toBe('23*7=161\n23*40=920\n161+920=1081\nAnswer: 1081');
    expect(arithTeacher(problem(347, '*', 6, 2082))).toBe('347*6=2082\nAnswer: 2082');
    expect(arithTeacher(problem(12, '*', 30, 360))).toBe('12*0=0\n12*30=360\n0+360=360\nAnswer: 360');
  });

  it('refuses a prompt that is not arith', () => {
    expect(() => arithTeacher({ prompt: 'hello', answer: '1' })).toThrow(/not an arith prompt/);
  });
});

describe('arith verifier', () => {
  it('correct, including normalised variants', () => {
    for (const c of [
      'Answer: 62',
      '7-5=2 >2\n14-8=6 >62\n3-2-1=0 >062\nAnswer: 62',
      'Answer: +62',
      'Answer: 062',
      'Answer: 62.',
      '   Answer:   62   ',
      'Answer:62',
      'Answer: 62\r\n',
      'Answer: 62\n\n',
    ]) {
      expect(v(c), JSON.stringify(c)).toEqual({ reward: 1, correct: true, extracted: '62', malformed: false, reason: 'correct' });
    }
    expect(v('Answer: -62', problem(285, '-', 347, -62))).toMatchObject({ reward: 1, extracted: '-62' });
    expect(v('Answer: -0', problem(5, '-', 5, 0))).toMatchObject({ reward: 1, extracted: '0' });
  });

  it('wrong: well-formed but a different number', () => {
    expect(v('Answer: 63')).toEqual({ reward: 0, correct: false, extracted: '63', malformed: false, reason: 'wrong' });
    expect(v('Answer: -62')).toMatchObject({ reward: 0, malformed: false, reason: 'wrong' });
    expect(v('Answer: 620')).toMatchObject({ reward: 0, reason: 'wrong' });
  });

  it('malformed: no line, not an integer, extra words', () => {
    const bad = ['62', 'The answer is 62', 'answer: 62', 'Answer: sixty-two', 'Answer: 6 2', 'Answer: 62.0', 'Answer: 1,062', 'Answer: 62 (I think)', 'Answer: =62', 'Answer: 347-285'];
    for (const c of bad) {
      const r = v(c);
      expect(r, c).toMatchObject({ reward: 0, correct: false, extracted: null, malformed: true });
    }
  });

  it('empty completions and empty answers are malformed', () => {
    expect(v('')).toMatchObject({ reward: 0, malformed: true, reason: 'no-answer-line' });
    expect(v('Answer:')).toMatchObject({ reward: 0, malformed: true, reason: 'empty-answer' });
    expect(v('Answer:   ')).toMatchObject({ reward: 0, malformed: true, reason: 'empty-answer' });
  });

  it('multiple Answer lines: the last one decides', () => {
    expect(v('Answer: 1\nAnswer: 62')).toMatchObject({ reward: 1 });
    expect(v('Answer: 62\nAnswer: 1')).toMatchObject({ reward: 0, reason: 'wrong' });
    expect(v('Answer: 62\nAnswer: ?')).toMatchObject({ reward: 0, malformed: true });
  });

  it('huge and adversarial completions: a reward, never an exception, quickly', () => {
    const t0 = performance.now();
    expect(v(`Answer: ${'9'.repeat(10_000)}`)).toMatchObject({ reward: 0, malformed: true, reason: 'too-long' });
    expect(v(`Answer: ${'0'.repeat(200)}62`)).toMatchObject({ reward: 1 }); // long but under the cap
    expect(v(`${'x'.repeat(1 << 20)}\nAnswer: 62`)).toMatchObject({ reward: 1 });
    const r = new Rng(1);
    const s = Array.from({ length: 1 << 20 }, () => String.fromCharCode(r.int(0, 0xffff))).join('');
    expect(v(s)).toMatchObject({ reward: 0 });
    expect(v(`Answer: ${'('.repeat(100_000)}62${')'.repeat(100_000)}`)).toMatchObject({ reward: 0, malformed: true });
    expect(v('Answer: 62/0')).toMatchObject({ reward: 0, malformed: true });
    expect(v('Answer: \u0000\uffff\ud800')).toMatchObject({ reward: 0, malformed: true });
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('never throws on nonsense arguments', () => {
    expect(v(undefined as unknown as string)).toMatchObject({ reward: 0, malformed: true });
    expect(v(42 as unknown as string)).toMatchObject({ reward: 0, malformed: true });
    expect(arith.verify('Answer: 1', { prompt: 'x', answer: 'not a number' })).toMatchObject({ reward: 0, reason: 'bad-problem' });
    expect(arith.verify('Answer: 1', null as unknown as Problem)).toMatchObject({ reward: 0, reason: 'internal-error' });
  });
});

describe('arith generation', () => {
  it('in-dist: + and - on 2-3 digit numbers; hard: 4-5 digits or multiplication', () => {
    const r = new Rng(17);
    const len = (n: number) => String(n).length;
    const ops = { 'in-dist': new Set<string>(), hard: new Set<string>() };
    for (const d of ['in-dist', 'hard'] as const) {
      for (let i = 0; i < 2000; i++) {
        const p = drawArith(r, d);
        ops[d].add(p.op);
        if (d === 'in-dist') {
          expect(p.op === '+' || p.op === '-').toBe(true);
          expect([2, 3]).toContain(len(p.a));
          expect([2, 3]).toContain(len(p.b));
        } else if (p.op === '*') {
          expect([2, 3]).toContain(len(p.a));
          expect(p.b >= 2 && p.b <= 99).toBe(true);
        } else {
          expect([4, 5]).toContain(len(p.a));
          expect([4, 5]).toContain(len(p.b));
        }
      }
    }
    expect([...ops['in-dist']].sort()).toEqual(['+', '-']);
    expect([...ops.hard].sort()).toEqual(['*', '+', '-']);
  });

  it('prompts parse back to their operands', () => {
    expect(parseArithPrompt('What is 347-285?\n')).toEqual({ a: 347, op: '-', b: 285 });
    expect(parseArithPrompt('What is 347-285?')).toBeNull();
    expect(parseArithPrompt('What is -3+4?\n')).toBeNull();
  });

  it('a+b and b+a are the same problem for held-out purposes; a-b and b-a are not', () => {
    const [first] = arith.evalSet('in-dist').problems;
    const m = parseArithPrompt(first!.prompt)!;
    const swapped = `What is ${m.b}${m.op}${m.a}?\n`;
    expect(arith.isHeldOut(first!.prompt)).toBe(true);
    expect(arith.isHeldOut(swapped)).toBe(m.op !== '-' || m.a === m.b);
  });
});
