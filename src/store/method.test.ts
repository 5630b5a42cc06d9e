// Switching method keeps the settings the methods share, and names every other change.
import { describe, expect, it } from 'vitest';
import type { CatalogueEntry } from './catalogue.ts';
import { setMethod, useConfig, type ConfigState } from './config.ts';
import { pageDefaults } from './defaults.ts';

describe('setMethod', () => {
  it('keeps rank, α and the learning rate a visitor or the catalogue set; says what else changed', () => {
    const c = pageDefaults('lora');
    useConfig.setState({ config: { ...c, lr: 1e-3, peft: { ...c.peft, r: 16, alpha: 32 } }, methodNote: null });
    setMethod('dora');
    let s = useConfig.getState();
    expect([s.config.peft.method, s.config.peft.r, s.config.peft.alpha, s.config.lr]).toEqual(['dora', 16, 32, 1e-3]);
    expect(s.methodNote).toBeNull();

    // Full fine-tuning: the 10× lower learning rate its description promises, applied and said.
    setMethod('full');
    s = useConfig.getState();
    expect(s.config.lr).toBe(1e-4);
    expect(s.methodNote).toBe('Switching to full also changed: learning rate 0.001 → 0.0001 (full fine-tuning trains at a 10× lower rate, as in the study).');
    setMethod('lora');
    expect(useConfig.getState().config.lr).toBe(1e-3);
    expect(useConfig.getState().config.peft.alpha).toBe(32);

    // LoRA-r1 fixes its own rank and α: the change is listed.
    setMethod('lora_r1');
    s = useConfig.getState();
    expect([s.config.peft.r, s.config.peft.alpha]).toEqual([1, 2]);
    expect(s.methodNote).toContain('rank r 16 → 1; α 32 → 2');
  });

  it('a learning rate still at the page default for the old method takes the new method’s default', () => {
    useConfig.setState({ config: pageDefaults('full'), methodNote: null });
    setMethod('lora');
    expect(useConfig.getState().config.lr).toBe(pageDefaults('lora').lr);
  });

  it('a learning rate still at a shipped model\'s default experiment takes the study\'s rate for the new method, and says so', () => {
    const c = pageDefaults('ln_tuning');
    const entry: CatalogueEntry = { name: 'm', path: '/models/m', description: '', parameters: 1, task: 'arith', bytes: 1, default: true, settings: { 'peft.method': 'ln_tuning', lr: 0.02 } };
    const shipped: Partial<ConfigState> = { model: { kind: 'url', base: '/models/m' }, catalogue: { status: 'ready', catalogue: { models: [entry] } } };
    useConfig.setState({ config: { ...c, lr: 0.02 }, methodNote: null, ...shipped });
    setMethod('lora');
    let s = useConfig.getState();
    expect(s.config.lr).toBe(1e-3);
    expect(s.methodNote).toContain('learning rate 0.02 → 0.001 (the study\'s rate for lora; 0.02 was this model\'s default experiment\'s, for ln_tuning)');
    // A rate the visitor typed is theirs: kept.
    useConfig.setState({ config: { ...c, lr: 0.05 }, methodNote: null, ...shipped });
    setMethod('lora');
    s = useConfig.getState();
    expect(s.config.lr).toBe(0.05);
  });
});

