// The eval CLI as a user runs it: the shipped model with a training checkpoint as its adapter,
// sampled with the adapter merged into the weights (as training samples) and without; plus bad flags.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
const run = (script: string, args: string[]) => spawnSync(tsx, [`src/cli/${script}.ts`, ...args], { encoding: 'utf8', timeout: 600_000 });
const MODEL = 'public/models/rlvr-lab-arith-tiny';

describe('npm run eval', () => {
  it('rejects a bad flag value with a message naming it', () => {
    const r = run('eval', ['--model', MODEL, '--merge-adapters', 'maybe']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--merge-adapters');
    expect(run('eval', []).status).toBe(2);
  });

  it('scores a training checkpoint the same with the adapter merged and unmerged', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rlvr-eval-'));
    const ck = join(dir, 'ck');
    const t = run('train', ['--model', MODEL, '--method', 'lora', '--steps', '2', '--evalEvery', '0', '--evalProblems', '1', '--evalK', '1',
      '--promptsPerStep', '4', '--groupSize', '4', '--lr', '0.01', '--backend', 'cpu', '--save', ck]);
    expect(t.status, t.stderr).toBe(0);
    const score = (merge: string) => {
      const out = join(dir, `eval-${merge}.json`);
      const r = run('eval', ['--model', MODEL, '--adapter', ck, '--k', '2', '--problems', '16', '--backend', 'cpu', '--merge-adapters', merge, '--out', out]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('(lora, step 2)');
      return JSON.parse(readFileSync(out, 'utf8')) as { results: { split: string; avg_at_k: number; pass_at_k: number }[] };
    };
    const merged = score('true'), plain = score('false');
    expect(merged.results.map((x) => x.split)).toEqual(['in-dist', 'hard']);
    expect(merged.results).toEqual(plain.results);
  }, 600_000);
});
