// Seeded pseudo-random numbers for everything in the lab that must be reproducible: task
// generation, evaluation sets, and (reused by the RL trainer) sampling, shuffling and
// initialisation. One seed gives one sequence on every runtime (browser, worker, Node, Deno),
// because the generator uses only 32-bit integer arithmetic (Math.imul, shifts) — no
// Math.random, no platform floating-point differences.
//
// Algorithm: xoshiro128** 1.1 (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c).
// 128 bits of state (four uint32 words), period 2^128 − 1, passes BigCrush/PractRand, and a
// `jump()` that advances 2^64 steps to give non-overlapping streams. Output checked against the
// authors' C code in rng.test.ts. Seeding follows the authors' advice: the state is filled from
// SplitMix64, so nearby seeds (0, 1, 2 ...) give unrelated streams and the state is never all zero.
//
// The whole state is `getState()`: four numbers, JSON-safe. A checkpoint stores it and
// `setState()` / `Rng.fromState()` resume exactly. Nothing is cached between calls (e.g.
// `normal()` keeps no spare), so the four words really are all the state there is.

/** JSON-safe snapshot of an Rng: the four xoshiro128** words, each an integer in [0, 2^32). */
export interface RngState {
  readonly algo: 'xoshiro128**';
  readonly s: readonly [number, number, number, number];
}

/** A seed: any safe integer (negative ones are taken modulo 2^64) or any string. */
export type Seed = number | string;

const TWO_POW_32 = 4294967296;
const M64 = (1n << 64n) - 1n;

/** SplitMix64 step (the generator the xoshiro authors recommend for seeding), on bigints. */
function splitmix64(x: bigint): [next: bigint, out: bigint] {
  const next = (x + 0x9e3779b97f4a7c15n) & M64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return [next, z ^ (z >> 31n)];
}

/** 64-bit FNV-1a over the string's UTF-16 code units: how a string seed becomes a number. */
function hashString64(s: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * 0x100000001b3n) & M64;
  }
  return h;
}

function seedTo64(seed: Seed): bigint {
  if (typeof seed === 'string') return hashString64(seed);
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new RangeError(`Rng seed must be a safe integer or a string, got ${String(seed)}`);
  }
  return BigInt.asUintN(64, BigInt(seed));
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

// xoshiro128** jump polynomial: equivalent to 2^64 calls to uint32().
const JUMP = [0x8764000b, 0xf542d2d3, 0x6fa035c3, 0x77f2db5b];

export class Rng {
  // The four state words, kept as int32 bit patterns (`| 0`); getState() reports them unsigned.
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** A generator seeded from `seed` (number or string) through SplitMix64. */
  constructor(seed: Seed = 0) {
    let x = seedTo64(seed);
    let a: bigint;
    let b: bigint;
    [x, a] = splitmix64(x);
    [x, b] = splitmix64(x);
    // Low word first: matches C code that fills uint32_t s[4] from two uint64 outputs.
    this.s0 = Number(a & 0xffffffffn) | 0;
    this.s1 = Number(a >> 32n) | 0;
    this.s2 = Number(b & 0xffffffffn) | 0;
    this.s3 = Number(b >> 32n) | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // unreachable in practice
  }

  /** A generator resuming exactly from a snapshot taken with getState(). */
  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  /** Next raw output: a uniformly distributed integer in [0, 2^32). The core of everything else. */
  uint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 = s1 ^ this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Uniform float in [0, 1) with 32 random bits (one draw). Drop-in for Math.random(). */
  next(): number {
    return this.uint32() / TWO_POW_32;
  }

  /**
   * Uniform float in [0, 1) with 24 random bits (one draw), exactly representable as a float32
   * and strictly below 1 after conversion — use this for values that go to the GPU in a
   * Float32Array (next() can round up to 1.0 in float32).
   */
  nextF32(): number {
    return (this.uint32() >>> 8) / 16777216;
  }

  /**
   * Uniform integer in [lo, hi], both ends included, without modulo bias (rejection sampling).
   * lo and hi are safe integers with hi − lo < 2^32. Throws RangeError otherwise.
   */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi < lo) {
      throw new RangeError(`Rng.int: need integers lo <= hi, got ${lo}, ${hi}`);
    }
    const range = hi - lo + 1;
    if (range > TWO_POW_32) throw new RangeError(`Rng.int: range ${range} exceeds 2^32`);
    // Accept u below the largest multiple of range that fits in 2^32; reject (rarely) above.
    const limit = TWO_POW_32 - (TWO_POW_32 % range);
    let u = this.uint32();
    while (u >= limit) u = this.uint32();
    return lo + (u % range);
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return this.int(0, n - 1);
  }

  /** true with probability p (default 1/2). */
  bool(p = 0.5): boolean {
    return this.next() < p;
  }

  /** A uniformly chosen element. Throws on an empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.pick: empty array');
    return items[this.int(0, items.length - 1)] as T;
  }

  /** Shuffles `items` in place (Fisher–Yates, unbiased) and returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  /**
   * Index drawn with probability proportional to weights[i] (non-negative, finite, not all
   * zero; need not sum to 1). One draw; linear scan. Throws RangeError on invalid weights.
   */
  categorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] as number;
      if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`Rng.categorical: bad weight ${w} at ${i}`);
      total += w;
    }
    if (!(total > 0)) throw new RangeError('Rng.categorical: weights sum to zero');
    const u = this.next() * total;
    let acc = 0;
    let last = -1;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] as number;
      if (w === 0) continue;
      acc += w;
      last = i;
      if (u < acc) return i;
    }
    return last; // u landed on the top edge through rounding: the last positive weight
  }

  /** Normal deviate N(mean, std²) by Box–Muller: two draws, nothing cached. */
  normal(mean = 0, std = 1): number {
    const u1 = 1 - this.next(); // (0, 1]: log is finite
    const u2 = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Advances this generator by 2^64 draws (xoshiro's jump polynomial). */
  jump(): void {
    let t0 = 0;
    let t1 = 0;
    let t2 = 0;
    let t3 = 0;
    for (const word of JUMP) {
      for (let b = 0; b < 32; b++) {
        if ((word >>> b) & 1) {
          t0 ^= this.s0;
          t1 ^= this.s1;
          t2 ^= this.s2;
          t3 ^= this.s3;
        }
        this.uint32();
      }
    }
    this.s0 = t0;
    this.s1 = t1;
    this.s2 = t2;
    this.s3 = t3;
  }

  /**
   * An independent stream: returns a generator at this one's current state, then jumps this
   * one ahead 2^64 draws. The two sequences cannot overlap unless the child draws 2^64 times.
   * Deterministic: the same parent state always gives the same child.
   */
  split(): Rng {
    const child = this.clone();
    this.jump();
    return child;
  }

  /** A copy with the same state; the two then advance independently (and identically). */
  clone(): Rng {
    return Rng.fromState(this.getState());
  }

  /** Snapshot of the full state (JSON-safe). */
  getState(): RngState {
    return { algo: 'xoshiro128**', s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0] };
  }

  /** Restores a snapshot; throws TypeError on anything that is not a valid state. */
  setState(state: RngState): void {
    const v: unknown = state;
    if (typeof v !== 'object' || v === null) throw new TypeError('Rng.setState: not an object');
    const o = v as { algo?: unknown; s?: unknown };
    if (o.algo !== 'xoshiro128**') throw new TypeError(`Rng.setState: algo must be "xoshiro128**", got ${JSON.stringify(o.algo)}`);
    const s = o.s;
    if (!Array.isArray(s) || s.length !== 4) throw new TypeError('Rng.setState: s must be an array of 4 words');
    const words = s.map((w: unknown) => {
      if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w >= TWO_POW_32) {
        throw new TypeError(`Rng.setState: word ${String(w)} is not an integer in [0, 2^32)`);
      }
      return w | 0;
    });
    if (words.every((w) => w === 0)) throw new TypeError('Rng.setState: the all-zero state is invalid');
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
  }
}

/** 32-bit FNV-1a of a string: a cheap stable hash for keys and checksums (not for seeding). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
