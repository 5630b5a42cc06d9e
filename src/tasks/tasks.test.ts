import { describe, expect, it } from 'vitest';
import { makeArith } from './arith.ts';
import { makeCountdown } from './countdown.ts';
import { DIFFICULTIES, EVAL_SET_SIZE, Rng, evalSeed, fnv1a32, getTask, taskIds, tasks } from './index.ts';
import type { Task } from './index.ts';

const fresh: Record<string, () => Task> = { arith: makeArith, countdown: () => makeCountdown() };
const checksum = (t: Task, d: (typeof DIFFICULTIES)[number]) => fnv1a32(t.evalSet(d).problems.map((p) => `${p.prompt}|${p.answer}`).join('\n'));

describe('registry', () => {
  it('lists the tasks and finds them by id', () => {
    expect(taskIds).toEqual(['arith', 'countdown', 'lastdigit']);
    for (const id of taskIds) expect(getTask(id)).toBe(tasks[id]);
    for (const t of Object.values(tasks)) {
      expect(t.name.length).toBeGreaterThan(0);
      expect(t.description.length).toBeGreaterThan(0);
    }
  });

  it('an unknown id is an error that lists the valid ids', () => {
    expect(() => getTask('gsm8k')).toThrow('unknown task "gsm8k"; valid task ids: arith, countdown, lastdigit');
    expect(() => getTask('constructor')).toThrow(/valid task ids/);
    expect(() => getTask('__proto__')).toThrow(/valid task ids/);
  });
});

// The reasoning tasks share the Answer-line format; lastdigit (a warm-up with a pre-filled answer line) has its own tests.
describe.each([tasks.arith, tasks.countdown].map((t) => [t.id, t] as const))('%s', (id, task) => {
  it('teacher output verifies as correct for 1000 generated problems per level, and for every eval problem', () => {
    const r = new Rng(`teacher/${id}`);
    const problems = DIFFICULTIES.flatMap((d) => Array.from({ length: 1000 }, () => task.generate(r, d)));
    problems.push(...task.evalSets.flatMap((s) => s.problems));
    for (const p of problems) {
      const c = task.teacher(p);
      const v = task.verify(c, p);
      expect(v, `${p.prompt}${c}`).toMatchObject({ reward: 1, correct: true, malformed: false });
      expect(task.verify(`Answer: ${p.answer}`, p).reward, p.prompt).toBe(1);
      // Short, ASCII, inside the declared limits, prompt ends in a newline, one final Answer line.
      expect(p.prompt.length).toBeLessThanOrEqual(task.limits.promptChars);
      expect(c.length).toBeLessThanOrEqual(task.limits.completionChars);
      expect(p.prompt.endsWith('\n')).toBe(true);
      expect(/^[\x20-\x7e\n]*$/.test(p.prompt + c)).toBe(true);
      expect(c.split('\n').at(-1)).toMatch(/^Answer: \S/);
      expect(c.split('\n').filter((l) => l.startsWith('Answer:'))).toHaveLength(1);
    }
  });

  it('eval sets: two levels of 200 distinct problems, deterministic (pinned), and rebuilt identically', () => {
    expect(task.evalSets.map((s) => s.id)).toEqual(['in-dist', 'hard']);
    const again = fresh[id]!();
    for (const d of DIFFICULTIES) {
      const set = task.evalSet(d);
      expect(set.problems).toHaveLength(EVAL_SET_SIZE);
      expect(new Set(set.problems.map((p) => p.prompt)).size).toBe(EVAL_SET_SIZE);
      expect(again.evalSet(d).problems).toEqual(set.problems);
      for (const p of set.problems) expect(p.meta?.['difficulty']).toBe(d);
    }
    // The sets are part of the experiment: a change to a generator that changes them must be
    // deliberate (bump EVAL_VERSION in task.ts and update these numbers).
    // Same values under Node and Deno.
    const pinned: Record<string, [number, number, string, string]> = {
      arith: [3969667959, 751296118, 'What is 728+58?\n', 'What is 319*25?\n'],
      countdown: [2945568059, 2279738650, 'Use 17 1 6 to make 96\n', 'Use 31 21 2 16 to make 307\n'],
    };
    expect([
      checksum(task, 'in-dist'),
      checksum(task, 'hard'),
      task.evalSet('in-dist').problems[0]?.prompt,
      task.evalSet('hard').problems[0]?.prompt,
    ]).toEqual(pinned[id]);
  });

  it('held-out problems never come out of generate(), over 10,000 training draws per level', () => {
    const evalPrompts = new Set(task.evalSets.flatMap((s) => s.problems.map((p) => p.prompt)));
    for (const p of evalPrompts) expect(task.isHeldOut(p)).toBe(true);
    const r = new Rng(`train/${id}`);
    for (const d of DIFFICULTIES) {
      for (let i = 0; i < 10_000; i++) {
        const p = task.generate(r, d);
        if (evalPrompts.has(p.prompt) || task.isHeldOut(p.prompt)) throw new Error(`held-out problem generated: ${p.prompt}`);
      }
    }
    // Starting from an eval set's own seed, the raw draws ARE the eval problems: generate()
    // must skip them all.
    const sameSeed = new Rng(evalSeed(id, 'in-dist'));
    for (let i = 0; i < 50; i++) expect(task.isHeldOut(task.generate(sameSeed).prompt)).toBe(false);
  });

  it('generate() is deterministic given the rng state', () => {
    const a = new Rng(99);
    const b = new Rng(99);
    for (let i = 0; i < 100; i++) expect(task.generate(a, i % 2 ? 'hard' : 'in-dist')).toEqual(task.generate(b, i % 2 ? 'hard' : 'in-dist'));
  });

  it('random and mutated completions never throw and never hit an internal error', () => {
    const r = new Rng(`fuzz/${id}`);
    const alphabet = '0123456789+-*/() .\n\tAnswer:-+=x\u00d7';
    const problems = task.evalSet('in-dist').problems;
    for (let i = 0; i < 3000; i++) {
      const p = r.pick(problems);
      const good = task.teacher(p);
      let c: string;
      switch (r.int(0, 3)) {
        case 0: // random characters from a nasty alphabet, with an Answer line
          c = `Answer: ${Array.from({ length: r.int(0, 40) }, () => r.pick([...alphabet])).join('')}`;
          break;
        case 1: {
          // teacher output with one character changed
          const k = r.int(0, good.length - 1);
          c = good.slice(0, k) + r.pick([...alphabet]) + good.slice(k + 1);
          break;
        }
        case 2: // truncated teacher output
          c = good.slice(0, r.int(0, good.length));
          break;
        default: // random code units, including lone surrogates
          c = Array.from({ length: r.int(0, 200) }, () => String.fromCharCode(r.int(0, 0xffff))).join('');
      }
      const v = task.verify(c, p);
      expect(v.reason).not.toBe('internal-error');
      expect(v.reward === 0 || v.reward === 1).toBe(true);
      expect(v.correct).toBe(v.reward === 1);
      if (v.malformed) expect(v.extracted).toBeNull();
    }
  });
});
