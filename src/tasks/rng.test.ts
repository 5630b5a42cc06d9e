import { describe, expect, it } from 'vitest';
import { Rng, fnv1a32 } from './rng.ts';
import type { RngState } from './rng.ts';

const draws = (r: Rng, n: number): number[] => Array.from({ length: n }, () => r.uint32());
const fromWords = (s: [number, number, number, number]): Rng => Rng.fromState({ algo: 'xoshiro128**', s });

// Expected values printed by the authors' reference C code (xoshiro128starstar.c, with
// splitmix64.c for seeding), compiled with gcc on this machine.
describe('xoshiro128** matches the reference C implementation', () => {
  it('raw outputs from state {1, 2, 3, 4}', () => {
    expect(draws(fromWords([1, 2, 3, 4]), 10)).toEqual([
      11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804,
    ]);
  });

  it('jump() from state {1, 2, 3, 4} after 10 draws', () => {
    const r = fromWords([1, 2, 3, 4]);
    draws(r, 10);
    r.jump();
    expect(r.getState().s).toEqual([2183174396, 3028100335, 256533187, 805253319]);
    expect(draws(r, 4)).toEqual([4290708443, 2568308862, 3110351530, 3156522848]);
  });

  it('seeding through SplitMix64 (seed 42: two outputs, low word first)', () => {
    const r = new Rng(42);
    expect(r.getState().s).toEqual([803958421, 3184996902, 2993090819, 686809907]);
    expect(draws(r, 5)).toEqual([1776835114, 4165204688, 17111135, 2317295270, 2792088233]);
  });
});

describe('Rng reproducibility and state', () => {
  it('same seed, same sequence; different seeds, different sequences', () => {
    expect(draws(new Rng(7), 100)).toEqual(draws(new Rng(7), 100));
    expect(draws(new Rng('run/a'), 100)).toEqual(draws(new Rng('run/a'), 100));
    const seqs = [0, 1, 2, -1, 2 ** 53 - 1, 'x', 'y', ''].map((s) => draws(new Rng(s), 4).join(','));
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('getState/setState round trip, through JSON, mid-stream', () => {
    const a = new Rng(123);
    draws(a, 37);
    a.normal();
    const saved = JSON.parse(JSON.stringify(a.getState())) as RngState;
    const expected = [a.next(), a.int(-5, 5), a.uint32(), a.nextF32()];
    const b = Rng.fromState(saved);
    expect([b.next(), b.int(-5, 5), b.uint32(), b.nextF32()]).toEqual(expected);
    const c = new Rng(999);
    c.setState(saved);
    expect(c.getState()).toEqual(saved);
  });

  it('clone advances independently but identically', () => {
    const a = new Rng(5);
    const b = a.clone();
    expect(draws(a, 20)).toEqual(draws(b, 20));
  });

  it('split(): the child continues the parent stream, the parent jumps 2^64 ahead', () => {
    const a = new Rng(5);
    const ref = a.clone();
    const child = a.split();
    expect(draws(child, 10)).toEqual(draws(ref.clone(), 10));
    ref.jump();
    expect(a.getState()).toEqual(ref.getState());
  });

  it('setState rejects invalid states with a clear error', () => {
    const r = new Rng(1);
    const bad: unknown[] = [
      null,
      { algo: 'sfc32', s: [1, 2, 3, 4] },
      { algo: 'xoshiro128**', s: [1, 2, 3] },
      { algo: 'xoshiro128**', s: [1, 2, 3, 2 ** 32] },
      { algo: 'xoshiro128**', s: [1, 2, 3, -1] },
      { algo: 'xoshiro128**', s: [1, 2, 3, 0.5] },
      { algo: 'xoshiro128**', s: [0, 0, 0, 0] },
    ];
    for (const s of bad) expect(() => r.setState(s as RngState)).toThrow(TypeError);
    expect(() => new Rng(1.5)).toThrow(RangeError);
    expect(() => new Rng(Number.NaN)).toThrow(RangeError);
  });
});

describe('Rng helpers', () => {
  it('next() in [0, 1); nextF32() exactly a float32 below 1', () => {
    const r = new Rng(3);
    for (let i = 0; i < 10_000; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).toBe(true);
      const f = r.nextF32();
      expect(f >= 0 && f < 1 && Math.fround(f) === f).toBe(true);
    }
  });

  it('int(lo, hi) is inclusive, hits both ends, and is roughly uniform', () => {
    const r = new Rng(11);
    const counts = new Array<number>(6).fill(0);
    const n = 60_000;
    for (let i = 0; i < n; i++) {
      const v = r.int(-2, 3);
      expect(Number.isInteger(v) && v >= -2 && v <= 3).toBe(true);
      counts[v + 2]!++;
    }
    // Chi-square with 5 degrees of freedom; 20.5 is the 0.999 quantile (fixed seed: not flaky).
    const e = n / 6;
    const chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
    expect(chi2).toBeLessThan(20.5);
    expect(r.int(4, 4)).toBe(4);
    const big = r.int(0, 2 ** 32 - 1);
    expect(big >= 0 && big < 2 ** 32).toBe(true);
    expect(() => r.int(3, 2)).toThrow(RangeError);
    expect(() => r.int(0, 2 ** 32)).toThrow(RangeError);
    expect(() => r.int(0.5, 2)).toThrow(RangeError);
  });

  it('shuffle is an in-place permutation, deterministic per seed; pick picks members', () => {
    const a = Array.from({ length: 50 }, (_, i) => i);
    const s1 = new Rng(9).shuffle([...a]);
    const s2 = new Rng(9).shuffle([...a]);
    expect(s1).toEqual(s2);
    expect([...s1].sort((x, y) => x - y)).toEqual(a);
    expect(s1).not.toEqual(a);
    const arr = [1, 2, 3];
    expect(new Rng(1).shuffle(arr)).toBe(arr);
    const r = new Rng(2);
    for (let i = 0; i < 100; i++) expect(['a', 'b', 'c']).toContain(r.pick(['a', 'b', 'c']));
    expect(() => r.pick([])).toThrow(RangeError);
  });

  it('categorical follows the weights and never picks a zero weight', () => {
    const r = new Rng(4);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 40_000; i++) counts[r.categorical([1, 0, 3, 0])]!++;
    expect(counts[1]).toBe(0);
    expect(counts[3]).toBe(0);
    expect(counts[2]! / counts[0]!).toBeGreaterThan(2.7);
    expect(counts[2]! / counts[0]!).toBeLessThan(3.3);
    expect(new Rng(1).categorical(new Float32Array([0, 0, 5]))).toBe(2);
    expect(() => r.categorical([0, 0])).toThrow(RangeError);
    expect(() => r.categorical([1, -1])).toThrow(RangeError);
    expect(() => r.categorical([1, Number.NaN])).toThrow(RangeError);
  });

  it('normal() has the right mean and spread', () => {
    const r = new Rng(8);
    const n = 50_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const x = r.normal(2, 3);
      expect(Number.isFinite(x)).toBe(true);
      s += x;
      s2 += x * x;
    }
    const mean = s / n;
    const sd = Math.sqrt(s2 / n - mean * mean);
    expect(Math.abs(mean - 2)).toBeLessThan(0.05);
    expect(Math.abs(sd - 3)).toBeLessThan(0.05);
  });

  it('fnv1a32 is the standard 32-bit FNV-1a', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
});
