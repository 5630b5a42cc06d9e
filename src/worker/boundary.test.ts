// The training worker is a layer below the page: nothing in src/worker imports from the page's
// store or components (src/store, src/ui), so the worker bundle never pulls in page code.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dir = new URL('./', import.meta.url);

describe('the worker boundary', () => {
  it('no file of src/worker imports from src/store or src/ui', () => {
    const offending: string[] = [];
    for (const f of readdirSync(dir).filter((n) => /\.tsx?$/.test(n))) {
      const text = readFileSync(new URL(f, dir), 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.\.\/(?:store|ui)\/[^'"]*)['"]/g)) offending.push(`${f}: ${m[1]}`);
    }
    expect(offending).toEqual([]);
  });
});
