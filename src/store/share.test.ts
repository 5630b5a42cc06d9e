import { describe, expect, it } from 'vitest';
import { defaultPeftConfig } from '../peft/registry.ts';
import { pageDefaults } from './defaults.ts';
import { configFromJson, fromQuery, toQuery } from './share.ts';
import { configIssues, issuesByPath } from './validate.ts';
import { randomModelConfig } from '../model/source.ts';

describe('shared links', () => {
  it('the defaults give an empty query, and a changed config round-trips exactly', () => {
    expect(toQuery(pageDefaults(), { kind: 'random', size: 'tiny' })).toBe('');
    const c = pageDefaults('lora');
    c.lr = 0.0123;
    c.seed = 42;
    c.peft = { ...c.peft, r: 4, targets: ['q_proj', 'v_proj'] };
    c.lossType = 'dr_grpo';
    c.dynamicSampling = false;
    const q = toQuery(c, { kind: 'random', size: 'small' });
    expect(q).toContain('peft.method=lora');
    expect(q).toContain('model=small');
    const back = fromQuery(`?${q}`);
    expect(back.notes).toEqual([]);
    expect(back.config).toEqual(c);
    expect(back.model).toEqual({ kind: 'random', size: 'small' });
  });

  it('every method round-trips with its own settings', () => {
    for (const m of ['adalora', 'vera', 'ia3', 'lora_plus', 'miss', 'ln_tuning'] as const) {
      const c = { ...pageDefaults(m), seed: 3 };
      c.peft = { ...c.peft, loraPlusRatio: 8, adalora: { ...c.peft.adalora, targetR: 4 }, vera: { ...c.peft.vera, dInitial: 0.5 } };
      expect(fromQuery(toQuery(c, { kind: 'random', size: 'tiny' })).config).toEqual(c);
    }
  });

  it('ignores unknown keys and prototype paths, keeps bad numbers as NaN so the field explains', () => {
    const d = fromQuery('?__proto__.polluted=1&constructor.x=2&nope=3&lr=abc&peft.method=evil&dynamicSampling=maybe');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(d.notes.some((n) => n.includes('"nope"'))).toBe(true);
    expect(d.notes.some((n) => n.includes('unknown PEFT method'))).toBe(true);
    expect(d.notes.some((n) => n.includes('dynamicSampling'))).toBe(true);
    expect(Number.isNaN(d.config.lr)).toBe(true);
    const issues = issuesByPath(configIssues(d.config, randomModelConfig('tiny', d.config)));
    expect(issues.get('lr')).toMatch(/must be in \(0, 1\]/);
  });

  it('markup in a link stays a plain value (and is reported as invalid)', () => {
    const d = fromQuery(`?task=${encodeURIComponent('<img src=x onerror=alert(1)>')}`);
    expect(d.config.task).toBe('<img src=x onerror=alert(1)>');
    expect(issuesByPath(configIssues(d.config, null)).get('task')).toMatch(/unknown task/);
  });

  it('only same-site checkpoint paths are accepted as a model', () => {
    expect(fromQuery('?model=/models/lab-small').model).toEqual({ kind: 'url', base: '/models/lab-small' });
    for (const bad of ['https://evil.example/m', '//evil.example/m', '/models/../x', 'javascript:alert(1)']) {
      const d = fromQuery(`?model=${encodeURIComponent(bad)}`);
      expect(d.model).toEqual({ kind: 'random', size: 'tiny' });
      expect(d.notes.length).toBe(1);
    }
  });

  it('configFromJson takes known keys of the right type only', () => {
    const notes: string[] = [];
    const c = configFromJson({ lr: 0.5, seed: 'x', peft: { method: 'lora', r: 2, targets: ['q_proj', 'bogus'] }, extra: 1 }, notes);
    expect(c.lr).toBe(0.5);
    expect(c.seed).toBe(pageDefaults('lora').seed);
    expect(c.peft.r).toBe(2);
    expect(c.peft.targets).toEqual(['q_proj']);
    expect(notes).toEqual(['ignored "seed": wrong type']);
    expect(defaultPeftConfig('lora').method).toBe('lora');
  });
});

describe('validation messages land on their fields', () => {
  it('RL and method settings', () => {
    const c = pageDefaults('lora');
    c.groupSize = 1;
    c.peft = { ...c.peft, r: 999 };
    const m = issuesByPath(configIssues(c, randomModelConfig('tiny', c)));
    expect(m.get('groupSize')).toMatch(/integer in \[2, 1024\]/);
    expect(m.get('peft.r')).toMatch(/exceeds|must be in/);
    expect(configIssues(pageDefaults(), randomModelConfig('tiny', pageDefaults()))).toEqual([]);
  });
});
