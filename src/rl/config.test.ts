// The RL config's defaults validate for every method, and a bad setting is named in the error.
import { describe, expect, it } from 'vitest';
import { methodIds } from '../peft/registry.ts';
import { completeConfig, defaultConfig, validateConfig, type RLConfig } from './config.ts';

describe('RL config validation', () => {
  it('the defaults of every method are valid, with merged sampling on', () => {
    for (const m of methodIds) {
      expect(validateConfig(defaultConfig(m)), m).toEqual([]);
      expect(defaultConfig(m).mergeAdapters).toBe(true);
    }
  });

  it('names the setting that is wrong', () => {
    const bad = { ...defaultConfig('lora'), mergeAdapters: 'yes', groupSize: 1 } as unknown as RLConfig;
    const e = validateConfig(bad);
    expect(e.some((x) => x.startsWith('mergeAdapters:'))).toBe(true);
    expect(e.some((x) => x.startsWith('groupSize:'))).toBe(true);
    expect(e).toHaveLength(2);
  });

  it('a config saved before a setting existed gets its default, and keeps every value it has', () => {
    const old = { ...defaultConfig('dora'), lr: 3e-4, peft: { ...defaultConfig('dora').peft, r: 4 } } as Partial<RLConfig>;
    delete old.mergeAdapters;
    expect(validateConfig(old as RLConfig).some((x) => x.startsWith('mergeAdapters:'))).toBe(true);
    const done = completeConfig(old as RLConfig);
    expect(validateConfig(done)).toEqual([]);
    expect(done.mergeAdapters).toBe(true);
    expect(done.lr).toBe(3e-4);
    expect(done.peft).toMatchObject({ method: 'dora', r: 4 });
  });
});
