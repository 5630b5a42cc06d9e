// The committed kernels (kernels.wasm.ts) are exactly what the AssemblyScript source compiles to with
// the pinned compiler: no binary of unknown origin, and an edit to assembly/ without `npm run
// build:wasm` fails here.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildKernelsModule, OUTPUT } from './build.ts';

describe('CPU kernels build', () => {
  it('kernels.wasm.ts equals a fresh build of assembly/', async () => {
    expect(await buildKernelsModule()).toBe(readFileSync(OUTPUT, 'utf8'));
  });
});
