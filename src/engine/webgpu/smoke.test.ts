import { describe, expect, it } from 'vitest';
import { testGpu } from './testing.ts';

describe('webgpu context', () => {
  it('adds on the GPU, in place and out of place, across a folded dispatch', async () => {
    const gpu = await testGpu();
    const n = 1000;
    const a = Float32Array.from({ length: n }, (_, i) => i);
    const b = Float32Array.from({ length: n }, (_, i) => 2 * i);
    const ta = gpu.alloc('a', n), tb = gpu.alloc('b', n), to = gpu.alloc('o', n);
    gpu.upload(ta, a); gpu.upload(tb, b);
    gpu.add(to, ta, tb, n);
    gpu.add(ta, ta, tb, n);
    const got = await gpu.read(to);
    expect(Array.from(got.slice(0, 4))).toEqual([0, 3, 6, 9]);
    expect(await gpu.read(ta)).toEqual(got);
  });
});
