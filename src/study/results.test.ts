// The study's data path: a run's JSON lines → a cell (paired change by problem), cells → table rows
// over seeds, rows → verdicts; and the shipped results (public/study) recomputed from their own
// per-run files, so the table the page shows is what those runs say.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../rl/config.ts';
import { cellFromLines, pairedChange, PRESET_IDS, stat, tableRows, type Cell, type CellEval, type Row, type StudyResults } from './results.ts';
import { judge } from './verdicts.ts';

const ev = (step: number, correct: number[], k = 4): Record<string, unknown> => {
  const avg = correct.reduce((a, b) => a + b, 0) / (correct.length * k);
  return { type: 'eval', step, split: 'in-dist', k, avg_at_k: avg, avg_at_k_se: 0.01, pass_at_k: correct.filter((c) => c > 0).length / correct.length, problems: correct.length, correct_by_problem: correct };
};
const stepLine = (step: number, reward: number) => ({ type: 'step', step, reward_mean: reward, accuracy: reward, entropy: 1, kl: null, response_len: 10, grad_norm: 0.1, time_rollout_s: 1, time_train_s: 2 });

function lines(method: 'lora' | 'pissa', seed: number, startCorrect: number[], endCorrect: number[], rewards: number[]) {
  const cfg = { ...defaultConfig(method), seed };
  return [
    { type: 'config', config: cfg, trainable_params: 1234 },
    ev(0, startCorrect),
    ...rewards.map((r, i) => stepLine(i + 1, r)),
    ev(rewards.length, endCorrect),
    { type: 'summary', seconds: 42 },
  ];
}

describe('a run → a cell', () => {
  it('pairs the change by problem: mean and standard error of the per-problem differences', () => {
    const a: CellEval = { step: 0, split: 'in-dist', k: 4, avg: 0.25, se: 0, pass: 0, problems: 4, correct: [0, 1, 2, 1] };
    const b: CellEval = { ...a, step: 10, avg: 0.5, correct: [2, 2, 2, 2] };
    // differences (2, 1, 0, 1) / 4 = 0.5, 0.25, 0, 0.25: mean 0.25, sample sd √(1/24), s.e. sd / 2
    const { delta, se } = pairedChange(a, b);
    expect(delta).toBeCloseTo(0.25, 12);
    expect(se).toBeCloseTo(Math.sqrt(0.125 / 3) / 2, 12);
  });

  it('reads config, evaluations, steps and time; refuses a run that did not finish', () => {
    const l = lines('lora', 1, [0, 1, 2, 1], [2, 2, 2, 2], [0.2, 0.4, 0.6]);
    const c = cellFromLines('lora-seed-1', 'lora · seed 1', l);
    expect(c.group).toBe('lora');
    expect([c.method, c.seed, c.trainable, c.seconds]).toEqual(['lora', 1, 1234, 42]);
    expect([c.start.avg, c.end.avg]).toEqual([0.25, 0.5]);
    expect(c.change.delta).toBeCloseTo(0.25, 12);
    expect(c.steps.map((s) => [s.step, s.reward, s.seconds])).toEqual([[1, 0.2, 3], [2, 0.4, 3], [3, 0.6, 3]]);
    expect(() => cellFromLines('x', 'x', l.slice(0, -1))).toThrow(/did not finish/);
    expect(() => cellFromLines('x', 'x', l.filter((x) => x.type !== 'eval'))).toThrow(/evaluation at the start and the end/);
    expect(() => cellFromLines('x', 'x', l.map((x) => (x.type === 'step' ? { ...x, reward_mean: 'NaN' } : x)))).toThrow(/reward_mean/);
  });
});

describe('cells → rows → verdicts', () => {
  const cells: Cell[] = [
    cellFromLines('lora-0', 'lora · seed 0', lines('lora', 0, [1, 1, 1, 1], [3, 3, 3, 2], [0.3, 0.5])),
    cellFromLines('lora-1', 'lora · seed 1', lines('lora', 1, [1, 1, 1, 1], [3, 3, 2, 2], [0.1, 0.7])),
    cellFromLines('pissa-0', 'pissa · seed 0', lines('pissa', 0, [1, 1, 1, 1], [0, 0, 1, 0], [0.3, 0.1])),
    cellFromLines('pissa-1', 'pissa · seed 1', lines('pissa', 1, [1, 1, 1, 1], [0, 0, 0, 0], [0.2, 0.0])),
  ];
  const rows = tableRows('methods', cells);

  it('groups seeds into rows: mean, sample s.d., n, the reward band', () => {
    expect(rows.map((r) => [r.setting, r.end.n, r.cells])).toEqual([['lora', 2, ['lora-0', 'lora-1']], ['pissa', 2, ['pissa-0', 'pissa-1']]]);
    expect(rows[0].end.mean).toBeCloseTo((11 / 16 + 10 / 16) / 2, 12);
    expect(rows[0].end.sd).toBeCloseTo(stat([11 / 16, 10 / 16]).sd, 12);
    expect(stat([1, 2, 3])).toEqual({ mean: 2, sd: 1, n: 3 });
    expect(rows[0].curve).toEqual({ step: [1, 2], mean: [0.2, 0.6], lo: [0.1, 0.5], hi: [0.3, 0.7] });
    expect(rows[0].configs.map((c) => c.seed)).toEqual([0, 1]);
  });

  it('judges a claim by 2 standard errors over seeds: reproduces, does not, inconclusive, not run', () => {
    const res = (r: Row[]): StudyResults => ({ preset: 'methods', name: '', command: '', machine: '', createdAt: '', model: '', base: defaultConfig('lora'), scaled: [], rows: r, cellFiles: [] });
    const svd = judge({ methods: res(rows) }).find((f) => f.id === 'svd-init')!;
    expect(svd.comparisons.map((c) => c.what)).toEqual(['lora − pissa']); // milora not run: only what exists is compared
    expect(svd.verdict).toBe('reproduces');
    const flipped = rows.map((r) => ({ ...r, setting: r.setting === 'lora' ? 'pissa' : 'lora' }));
    expect(judge({ methods: res(flipped) }).find((f) => f.id === 'svd-init')!.verdict).toBe('does not reproduce');
    const noisy = rows.map((r) => ({ ...r, end: { ...r.end, sd: 1 } }));
    expect(judge({ methods: res(noisy) }).find((f) => f.id === 'svd-init')!.verdict).toBe('inconclusive');
    expect(judge({ methods: res(rows) }).find((f) => f.id === 'structural')!.verdict).toBe('not run');
  });
});

describe('the shipped study (public/study)', () => {
  const dir = new URL('../../public/study/', import.meta.url);
  const shipped = PRESET_IDS.filter((p) => existsSync(new URL(`${p}.json`, dir)));

  it('ships at least the methods comparison', () => {
    expect(shipped).toContain('methods');
  });

  for (const p of shipped) {
    it(`${p}: every row is what its runs' files say, and every run learned from the same start`, () => {
      const res = JSON.parse(readFileSync(new URL(`${p}.json`, dir), 'utf8')) as StudyResults;
      expect(res.preset).toBe(p);
      const cells = res.cellFiles.map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Cell);
      expect(tableRows(p, cells)).toEqual(res.rows);
      for (const c of cells) {
        expect(c.steps.length, c.id).toBe(c.config.steps);
        expect(c.change.delta, c.id).toBeCloseTo(pairedChange(c.start, c.end).delta, 12);
        expect(c.start.problems, c.id).toBe(res.base.evalProblems);
      }
    });
  }
});
