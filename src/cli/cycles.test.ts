// The import-cycle check that `npm test` runs: src/ has none, and a planted cycle (type-only
// imports included) is found and fails the command.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCycles } from './cycles.ts';

const tsx = join(process.cwd(), 'node_modules/.bin/tsx');

describe('npm run check:cycles', () => {
  it('src/ has no import cycle', async () => {
    expect(await importCycles('src')).toEqual([]);
  }, 60_000);

  it('finds a planted cycle through a type-only import, and the command fails naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cycles-'));
    writeFileSync(join(dir, 'a.ts'), "import type { B } from './b.ts';\nexport interface A { b: B }\n");
    writeFileSync(join(dir, 'b.ts'), "import { c } from './c.ts';\nexport interface B { n: number }\nexport const b = c;\n");
    writeFileSync(join(dir, 'c.ts'), "import type { A } from './a.ts';\nexport const c = 1;\nexport type CA = A;\n");
    writeFileSync(join(dir, 'leaf.ts'), "import { c } from './c.ts';\nexport const leaf = c;\n");
    const cycles = await importCycles(dir);
    expect(cycles).toHaveLength(1);
    expect([...cycles[0]].sort()).toEqual(['a.ts', 'b.ts', 'c.ts']);
    const r = spawnSync(tsx, ['src/cli/cycles.ts', dir], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/1 import cycle/);
    expect(r.stderr).toMatch(/a\.ts -> b\.ts -> c\.ts -> a\.ts|b\.ts -> c\.ts -> a\.ts -> b\.ts|c\.ts -> a\.ts -> b\.ts -> c\.ts/);
  }, 60_000);
});
