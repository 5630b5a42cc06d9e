// The train CLI as a user runs it: RL from a random tiny model on the lastdigit warm-up task, on
// the CPU backend, writing JSON lines; held-out accuracy rises. Plus --help and bad settings.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../rl/config.ts';

const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
const cli = (args: string[]) => spawnSync(tsx, ['src/cli/train.ts', ...args], { encoding: 'utf8', timeout: 600_000 });

describe('npm run train', () => {
  it('--help lists every option with its default', () => {
    const out = execFileSync(tsx, ['src/cli/train.ts', '--help'], { encoding: 'utf8' });
    for (const flag of ['--task', '--method', '--loss', '--steps', '--seed', '--backend', '--out', '--lr', '--peft.r', '--groupSize', '--epsHigh']) expect(out).toContain(flag);
    expect(out).toMatch(/--groupSize\s+\[8\]/);
  });

  it('rejects invalid settings with a message naming the setting', () => {
    const r = cli(['--init', 'tiny', '--task', 'lastdigit', '--groupSize', '1', '--peft.r', '-3', '--backend', 'cpu']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('groupSize');
    expect(r.stderr).toContain('peft.r');
    const u = cli(['--init', 'tiny', '--bogus', '1']);
    expect(u.status).toBe(2);
    expect(u.stderr).toContain('unknown option --bogus');
  });

  it('without --model starts the catalogue\'s default model with the settings the page starts it with', async () => {
    const { catalogueConfig } = await import('./catalogue.ts');
    const { cfg, name } = catalogueConfig();
    const out = join(mkdtempSync(join(tmpdir(), 'rlvr-')), 'bare.jsonl'), save = out.replace('.jsonl', '-ck');
    const r = cli(['--steps', '1', '--evalEvery', '0', '--evalProblems', '1', '--evalK', '1', '--promptsPerStep', '1', '--spectral-every', '0', '--backend', 'cpu', '--out', out, '--save', save]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`model ${name} (the catalogue's default)`);
    // The checkpoint records the model it came from, and the export takes it without being told.
    expect(JSON.parse(readFileSync(join(save, 'state.json'), 'utf8')).model).toEqual({ dir: catalogueConfig().dir });
    const { main: exportMain } = await import('./export.ts');
    expect(await exportMain(['--checkpoint', save, '--out', `${save}-export`])).toBe(0);
    expect(JSON.parse(readFileSync(join(`${save}-export`, 'lab_logits.json'), 'utf8')).base_model).toBe(catalogueConfig().dir);
    const got = JSON.parse(readFileSync(out, 'utf8').split('\n')[0]).config as typeof cfg;
    expect(got).toEqual({ ...cfg, steps: 1, evalEvery: 0, evalProblems: 1, evalK: 1, promptsPerStep: 1 });
    // Another method keeps the experiment but takes its own adapter settings and learning rate
    // (the catalogue's rate belongs to the catalogue's method).
    const other = cfg.peft.method === 'lora' ? 'dora' : 'lora';
    const out2 = out.replace('bare', 'other');
    const r2 = cli(['--method', other, '--steps', '1', '--evalEvery', '0', '--evalProblems', '1', '--evalK', '1', '--promptsPerStep', '1', '--spectral-every', '0', '--backend', 'cpu', '--out', out2]);
    expect(r2.status, r2.stderr).toBe(0);
    const own = defaultConfig(other);
    const got2 = JSON.parse(readFileSync(out2, 'utf8').split('\n')[0]).config as typeof cfg;
    expect(got2).toEqual({ ...cfg, peft: own.peft, lr: own.lr, steps: 1, evalEvery: 0, evalProblems: 1, evalK: 1, promptsPerStep: 1 });
  }, 300_000);

  it('maxNewTokens defaults to room for the task\'s longest answer, unless given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlvr-'));
    const configOf = (extra: string[]) => {
      const out = join(dir, `${extra.length}.jsonl`);
      const r = cli(['--init', 'tiny', '--task', 'lastdigit', '--steps', '1', '--evalEvery', '0', '--evalProblems', '1', '--evalK', '1', '--groupSize', '2',
        '--promptsPerStep', '1', '--overlongShaping', 'false', '--backend', 'cpu', '--out', out, ...extra]);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(readFileSync(out, 'utf8').split('\n')[0]).config as { maxNewTokens: number };
    };
    expect(configOf([]).maxNewTokens).toBe(2);
    expect(configOf(['--maxNewTokens', '64']).maxNewTokens).toBe(64);
  }, 120_000);

  it('spectral records every --spectral-every steps and at the end carry the method\'s internals (DoRA)', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'rlvr-')), 'dora.jsonl');
    const r = cli(['--init', 'tiny', '--task', 'lastdigit', '--method', 'dora', '--steps', '3', '--spectral-every', '2', '--evalEvery', '0', '--evalProblems', '1', '--evalK', '1',
      '--groupSize', '2', '--promptsPerStep', '1', '--overlongShaping', 'false', '--backend', 'cpu', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('internals: DoRA magnitude change');
    const spectral = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((x) => x.type === 'spectral');
    expect(spectral.map((x) => x.step)).toEqual([2, 3]);
    for (const x of spectral) {
      const internals = x.internals as { method: string; layers: { name: string; rel: number; maxDev: number }[] };
      expect(internals.method).toBe('dora');
      expect(internals.layers.map((l) => l.name)).toEqual((x.layers as { name: string }[]).map((l) => l.name)); // the same 14 layers, in order
      for (const l of internals.layers) expect(l.rel).toBeGreaterThanOrEqual(0);
    }
  }, 120_000);

  it('RL raises held-out accuracy of a random tiny model on lastdigit (CPU backend)', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'rlvr-')), 'run.jsonl');
    const r = cli(['--init', 'tiny', '--task', 'lastdigit', '--method', 'full', '--loss', 'dapo', '--steps', '30', '--seed', '0', '--backend', 'cpu',
      '--maxNewTokens', '2', '--overlongShaping', 'false', '--lr', '0.003', '--evalEvery', '0', '--evalProblems', '20', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const recs = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recs[0].type).toBe('config');
    const steps = recs.filter((x) => x.type === 'step');
    expect(steps).toHaveLength(30);
    for (const k of ['step', 'reward_mean', 'accuracy', 'loss', 'kl', 'entropy', 'response_len', 'groups_kept', 'clip_frac_low', 'clip_frac_high', 'grad_norm', 'rollout_tokens_per_s', 'train_tokens_per_s']) {
      expect(steps[0]).toHaveProperty(k);
    }
    const evals = recs.filter((x) => x.type === 'eval' && x.split === 'in-dist');
    const first = evals[0].avg_at_k as number, last = evals[evals.length - 1].avg_at_k as number;
    console.log(`lastdigit held-out avg@4: ${first} -> ${last}`);
    expect(evals[0].step).toBe(0);
    expect(last).toBeGreaterThan(first + 0.3);
    expect(recs[recs.length - 1].type).toBe('summary');
  }, 600_000);
});
