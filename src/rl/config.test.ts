// The RL config's defaults validate for every method, and a bad setting is named in the error.
import { describe, expect, it } from 'vitest';
import { methodIds } from '../peft/registry.ts';
import { defaultConfig, validateConfig, type RLConfig } from './config.ts';

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
});
