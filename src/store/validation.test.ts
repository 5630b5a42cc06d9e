// Bad input is refused or shown, never silently replaced: imported runs pass the config's own
// checks, links with an unknown method keep it visible, invalid settings give no link.
import { describe, expect, it } from 'vitest';
import { shareBlocked, shareLink, useConfig } from './config.ts';
import { pageDefaults } from './defaults.ts';
import { parseRunsFile, toRunsFile } from './runs-file.ts';
import { fromQuery } from './share.ts';
import { configIssues } from './validate.ts';

const metrics = (step: number) => ({
  step, reward_mean: 0.5, reward_std: 0, accuracy: 0.5, malformed_frac: 0, loss: 0, policy_loss: 0, kl_loss: 0, kl: null, entropy: 1,
  response_len: 2, groups_kept: 1, groups_total: 2, clip_frac_low: 0, clip_frac_high: 0, grad_norm: 1, lr: 1e-3,
  rollout_tokens_per_s: 10, train_tokens_per_s: 20, time_rollout_s: 1, time_train_s: 1, gpu_bytes: null,
});

function file(config: unknown, steps: unknown[] = [metrics(1)]) {
  const run = { id: 'x', name: 'A', color: '#123456', createdAt: 1, config: pageDefaults(), model: { kind: 'random' as const, size: 'tiny' as const },
    backend: 'cpu' as const, status: 'done' as const, step: 1, seconds: 3 };
  const f = toRunsFile([{ run, steps: [], evals: [] }]) as unknown as { runs: Record<string, unknown>[] };
  f.runs[0].config = config;
  f.runs[0].steps = steps;
  return JSON.stringify(f);
}

describe('imports use the config’s checks', () => {
  it('a run with steps = −5 or an unknown method is not imported, and the note says why', () => {
    const bad = parseRunsFile(file({ ...pageDefaults(), steps: -5 }));
    expect(bad.runs).toEqual([]);
    expect(bad.notes).toHaveLength(1);
    expect(bad.notes[0]).toMatch(/^A: not imported, invalid settings: steps: /);
    const evil = parseRunsFile(file({ ...pageDefaults(), peft: { ...pageDefaults().peft, method: 'evil' } }));
    expect(evil.runs).toEqual([]);
    expect(evil.notes[0]).toContain('unknown PEFT method "evil"');
    const rank = parseRunsFile(file({ ...pageDefaults('lora'), peft: { ...pageDefaults('lora').peft, r: -4 } }));
    expect(rank.runs).toEqual([]);
    expect(rank.notes[0]).toContain('peft.r');
  });

  it('step rows with non-numeric metrics are skipped, and counted in a note', () => {
    const out = parseRunsFile(file(pageDefaults(), [metrics(1), { ...metrics(2), reward_mean: 'lots' }, { ...metrics(3), loss: null }, metrics(4)]));
    expect(out.runs[0].steps.map((s) => s.step)).toEqual([1, 4]);
    expect(out.notes).toEqual(['A: 2 step rows skipped (a step that is not a whole number ≥ 1, or a metric that is not a number)']);
  });
});

describe('links', () => {
  it('an unknown method stays in the config, flagged, instead of becoming full fine-tuning', () => {
    const d = fromQuery('?peft.method=evil&lr=0.01');
    expect(d.config.peft.method).toBe('evil');
    expect(d.notes).toEqual(['unknown PEFT method "evil": choose one in the Method field']);
    expect(configIssues(d.config, null)).toContainEqual({ path: 'peft.method', message: 'unknown method "evil"' });
  });

  it('invalid settings give no link (no lr=NaN, alpha=Infinity), and say why', () => {
    const loc = { origin: 'http://x', pathname: '/' };
    const tiny = { kind: 'random', size: 'tiny' } as const;
    useConfig.setState({ config: { ...pageDefaults(), lr: Number.NaN }, model: tiny, backendSource: 'auto' });
    expect(shareBlocked()).toBe('Fix the highlighted setting to get a link to this experiment.');
    const lora = pageDefaults('lora');
    useConfig.setState({ config: { ...lora, peft: { ...lora.peft, alpha: Infinity } } });
    expect(shareBlocked()).not.toBeNull();
    useConfig.setState({ config: { ...lora, lr: 0.02 } });
    expect(shareBlocked()).toBeNull();
    expect(shareLink(useConfig.getState(), loc)).toBe('http://x/?peft.method=lora&lr=0.02');
  });
});
