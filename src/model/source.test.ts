// The name an exported adapter gives its base model.
import { describe, expect, it } from 'vitest';
import { baseModelName } from './source.ts';

describe('baseModelName', () => {
  it('names a checkpoint by its folder, which from_pretrained can load; a random model has none', () => {
    expect(baseModelName({ kind: 'url', base: '/models/rlvr-lab-arith-small' })).toBe('rlvr-lab-arith-small');
    expect(baseModelName({ kind: 'url', base: '/models/rlvr-lab-arith-small/' })).toBe('rlvr-lab-arith-small');
    expect(baseModelName({ kind: 'random', size: 'tiny' })).toBeNull();
  });
});
