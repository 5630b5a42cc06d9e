import { describe, expect, it } from 'vitest';
import type { StepMetrics } from '../rl/trainer.ts';
import { differingPaths, diffSummary } from './diff.ts';
import { pageDefaults } from './defaults.ts';
import { metricsCsv, parseRunsFile, toRunsFile } from './runs-file.ts';
import { Ring, RunSeries } from './series.ts';

const metrics = (step: number, reward = step / 10): StepMetrics => ({
  step, reward_mean: reward, reward_std: 0, accuracy: reward, malformed_frac: 0, loss: 0, policy_loss: 0, kl_loss: 0, kl: null, entropy: 1,
  response_len: 2, groups_kept: 1, groups_total: 2, clip_frac_low: 0, clip_frac_high: 0, grad_norm: 1, lr: 1e-3,
  rollout_tokens_per_s: 10, train_tokens_per_s: 20, time_rollout_s: 1, time_train_s: 1,
});

describe('ring buffers', () => {
  it('keep the newest values in order', () => {
    const r = new Ring(3);
    for (const x of [1, 2, 3, 4, 5]) r.push(x);
    expect([...r.toArray()]).toEqual([3, 4, 5]);
    r.truncate(2);
    expect([...r.toArray()]).toEqual([3, 4]);
  });

  it('a replayed step replaces what followed it (resume from a checkpoint)', () => {
    const s = new RunSeries();
    for (let i = 1; i <= 6; i++) s.pushStep(metrics(i), null);
    s.pushEval({ step: 5, split: 'in-dist', k: 1, avg_at_k: 0.5, pass_at_k: 0.5, malformed_frac: 0, problems: 1 });
    s.pushStep(metrics(5, 0.9), 123);
    expect([...s.step.toArray()]).toEqual([1, 2, 3, 4, 5]);
    expect(s.cols.reward_mean.get(4)).toBe(0.9);
    expect(s.cols.gpu_bytes.get(4)).toBe(123);
    expect(Number.isNaN(s.cols.kl.get(0))).toBe(true);
    s.truncateAfter(4);
    expect(s.evals.get('in-dist')?.step.length).toBe(0);
  });
});

describe('run comparison and files', () => {
  it('summarises only what differs', () => {
    const a = { config: pageDefaults('full'), model: { kind: 'random' as const, size: 'tiny' as const }, backend: 'webgpu' };
    const b = { ...a, config: { ...pageDefaults('lora'), seed: 1 } };
    const paths = differingPaths([a, b]);
    expect(paths[0]).toBe('peft.method');
    expect(paths).toContain('seed');
    expect(diffSummary(b, paths)).toMatch(/^method lora · /);
    expect(differingPaths([a])).toEqual([]);
  });

  it('runs export and import back; hostile files are refused or cleaned', () => {
    const run = { id: 'x', name: '<b>Run</b>', color: '#123456', createdAt: 1, config: pageDefaults(), model: { kind: 'random' as const, size: 'tiny' as const },
      backend: 'cpu' as const, status: 'done' as const, step: 2, seconds: 3 };
    const file = toRunsFile([{ run, steps: [1, 2].map((i) => ({ ...metrics(i), runId: 'x', gpu_bytes: null })), evals: [] }]);
    const back = parseRunsFile(JSON.stringify(file));
    expect(back.runs[0].name).toBe('<b>Run</b>'); // rendered as text by React, never as markup
    expect(back.runs[0].steps.length).toBe(2);
    expect(back.runs[0].config).toEqual(run.config);
    expect(() => parseRunsFile('{')).toThrow(/not valid JSON/);
    expect(() => parseRunsFile('{"format":"x","runs":[]}')).toThrow(/not a runs file/);
    const evil = parseRunsFile(JSON.stringify({ format: 'rlvr-lab-runs', version: 1, runs: [{ name: 5, color: 'red;background:url(x)', config: { ...pageDefaults(), __proto__: { x: 1 } }, steps: [{ step: -1 }, 'x'], evals: [{ step: 1, split: '=cmd()' }], model: { kind: 'url', base: 'https://evil' } }] }));
    expect(evil.runs[0].color).toBe('');
    expect(evil.runs[0].steps).toEqual([]);
    expect(evil.runs[0].evals).toEqual([]);
    expect(evil.runs[0].model).toEqual({ kind: 'random', size: 'tiny' });
    // A run without settings cannot be reproduced: refused, with the reason.
    const bare = parseRunsFile(JSON.stringify({ format: 'rlvr-lab-runs', version: 1, runs: [{ name: 'B', steps: [] }] }));
    expect(bare.runs).toEqual([]);
    expect(bare.notes).toEqual(['B: not imported, invalid settings: unknown PEFT method "undefined"']);
  });

  it('CSV has one row per step plus evaluation columns', () => {
    const csv = metricsCsv([metrics(1), metrics(2)], [{ step: 0, split: 'in-dist', k: 1, avg_at_k: 0.1, pass_at_k: 0.2, malformed_frac: 0, problems: 2 }]);
    const lines = csv.trim().split('\n');
    expect(lines[0].startsWith('step,reward_mean')).toBe(true);
    expect(lines[0].endsWith('eval_in-dist_avg_at_k,eval_in-dist_pass_at_k')).toBe(true);
    expect(lines.length).toBe(4);
    expect(lines[1].startsWith('0,')).toBe(true);
  });
});

describe('sweep grids and results', async () => {
  const { aggregate, estimateSweepSeconds, expandGrid, parseList } = await import('./grid.ts');
  it('expands the grid, collapsing rank for methods without one', () => {
    const items = expandGrid(pageDefaults(), { methods: ['lora', 'full'], ranks: [1, 8], lrs: [], lossTypes: ['dapo', 'grpo'], batchSizes: [], seeds: [0, 1] });
    expect(items).toHaveLength(2 * 2 * 2 + 2 * 2);
    const lora8 = items.find((i) => i.label.startsWith('lora · r8') && i.label.includes('grpo'));
    expect(lora8?.config.peft.r).toBe(8);
    expect(lora8?.config.epsHigh).toBe(0.2);
    expect(parseList('1, 2,x', 'ranks', true, 1).error).toMatch(/"x"/);
  });

  it('keeps the experiment’s settings where the grid does not vary them: lr, α (not scaled with rank), recipe', () => {
    const base = { ...pageDefaults('lora'), lr: 1e-3, steps: 30, epsHigh: 0.25, lossType: 'grpo' as const };
    base.peft = { ...base.peft, r: 16, alpha: 32 };
    const items = expandGrid(base, { methods: ['lora', 'full', 'dora'], ranks: [1, 8, 16, 32], lrs: [], lossTypes: [], batchSizes: [], seeds: [0] });
    expect(items.every((i) => i.config.lr === 1e-3 && i.config.steps === 30 && i.config.epsHigh === 0.25 && i.config.lossType === 'grpo')).toBe(true);
    const lora = items.filter((i) => i.config.peft.method !== 'full');
    expect(lora.map((i) => i.config.peft.r)).toEqual([1, 8, 16, 32, 1, 8, 16, 32]);
    expect(lora.every((i) => i.config.peft.alpha === 32)).toBe(true);
    // The loss preset applies only when the grid varies the loss type.
    expect(expandGrid(base, { methods: ['lora'], ranks: [], lrs: [], lossTypes: ['dapo'], batchSizes: [], seeds: [0] })[0].config.lossType).toBe('dapo');
  });

  it('estimates a sweep’s time from a measured cost per sample, and gives none without one', () => {
    const c = { ...pageDefaults('lora'), steps: 10, promptsPerStep: 4, groupSize: 8, evalEvery: 5, evalProblems: 8, evalK: 2 };
    const items = [{ label: 'a', config: c }, { label: 'b', config: c }];
    expect(estimateSweepSeconds(items, null)).toBeNull();
    // 10 steps × 32 samples + 3 evaluations (0, 5, 10) × 2 sets × 16 samples = 416 per run.
    expect(estimateSweepSeconds(items, { name: 'Run 1', secondsPerSample: 0.5 })).toBe(2 * 416 * 0.5);
  });
  it('averages over seeds with the sample standard deviation', () => {
    const rows = aggregate([
      { label: 'lora · r8 · seed 0', method: 'lora', evals: [0.2, 0.6], trainable: 10, seconds: 2 },
      { label: 'lora · r8 · seed 1', method: 'lora', evals: [0.4, 0.4], trainable: 10, seconds: 4 },
      { label: 'dora · r8 · seed 0', method: 'dora', evals: [0.9], trainable: 12, seconds: 1 },
    ]);
    expect(rows.map((r) => r.group)).toEqual(['dora · r8', 'lora · r8']);
    expect(rows[1].final.mean).toBeCloseTo(0.5);
    expect(rows[1].final.spread).toBeCloseTo(Math.sqrt(0.02));
    expect(rows[1].best.mean).toBeCloseTo(0.5);
    expect(rows[0].paper).toBeCloseTo(0.466);
  });
});
