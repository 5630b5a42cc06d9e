// The page's own links are never the bare page: an empty query opens the catalogue's default
// model, so a link to the random tiny model with every default must still name the model.
import { describe, expect, it } from 'vitest';
import { pageDefaults } from './defaults.ts';
import { fromQuery, linkQuery, toQuery } from './share.ts';

describe('linkQuery', () => {
  it('names the random tiny model when nothing else differs, and round-trips', () => {
    const tiny = { kind: 'random', size: 'tiny' } as const;
    expect(linkQuery(pageDefaults(), tiny)).toBe('model=tiny');
    expect(fromQuery(`?${linkQuery(pageDefaults(), tiny)}`)).toEqual({ config: pageDefaults(), model: tiny, notes: [] });
  });

  it('is toQuery whenever that says anything', () => {
    const shipped = { kind: 'url', base: '/models/rlvr-lab-arith-tiny' } as const;
    const c = { ...pageDefaults(), task: 'arith', maxNewTokens: 101 };
    expect(linkQuery(c, shipped)).toBe(toQuery(c, shipped));
    expect(fromQuery(`?${linkQuery(c, shipped)}`)).toEqual({ config: c, model: shipped, notes: [] });
  });
});
