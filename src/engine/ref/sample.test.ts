// The sampling reference checked against its definition (backend.ts `sample`): the uniform is the
// dropout hash's draw, the tempered softmax and its entropy, the top-p threshold against a brute-force
// search over every candidate threshold, the inverse CDF on hand-made cases, where the op writes, and
// the empirical distribution over many draws against p restricted to the top-p set. All draws come
// from the counter hash with fixed seeds, so the statistical bounds are deterministic: they cannot flake.
import { describe, expect, it } from 'vitest';
import { dropoutKeep } from './peft.ref.ts';
import { pickToken, sample, sampleUniform, temperedSoftmax, topPThreshold, writeColumn } from './sample.ref.ts';
import { randArray, rng } from './testutil.ts';

/** Pearson's χ² of counts against probabilities q (Σq = 1) over the entries with q > 0. */
function chiSquare(counts: ArrayLike<number>, q: ArrayLike<number>, n: number): number {
  let x2 = 0;
  for (let v = 0; v < q.length; v++) if (q[v] > 0) x2 += (counts[v] - n * q[v]) ** 2 / (n * q[v]);
  return x2;
}

describe('sampleUniform', () => {
  it('is the dropout draw: u ≥ p ⇔ dropoutKeep(seed, b, p)', () => {
    for (const seed of [0, 1, 12345, 0xffffffff, -7]) {
      for (let b = 0; b < 200; b++) {
        const u = sampleUniform(seed, b);
        expect(u).toBeGreaterThanOrEqual(0);
        expect(u).toBeLessThan(1);
        expect(Number.isInteger(u * 16777216)).toBe(true); // a 24-bit draw
        for (const p of [0.1, 0.5, 0.9, u]) expect(dropoutKeep(seed, b, p)).toBe(u >= p);
      }
    }
  });

  it('is roughly uniform: deciles of 100000 draws within 2% of 10000', () => {
    const bins = new Array<number>(10).fill(0);
    for (let b = 0; b < 100000; b++) bins[Math.floor(sampleUniform(77, b) * 10)]++;
    for (const c of bins) expect(Math.abs(c - 10000)).toBeLessThan(200);
  });
});

describe('temperedSoftmax', () => {
  it('p ∝ exp(x / T), sums to 1; logp = log p; entropy = −Σ p log p', () => {
    const TOL = 1e-14;
    const row = Float64Array.from(randArray(37, 5, 3));
    for (const T of [0.5, 1, 2]) {
      const d = temperedSoftmax(row, T);
      let z = 0;
      for (const x of row) z += Math.exp(x / T);
      let sum = 0, h = 0;
      for (let v = 0; v < row.length; v++) {
        expect(Math.abs(d.p[v] - Math.exp(row[v] / T) / z)).toBeLessThan(TOL);
        expect(Math.abs(d.logp[v] - Math.log(d.p[v]))).toBeLessThan(1e-12);
        sum += d.p[v];
        h -= d.p[v] * Math.log(d.p[v]);
      }
      expect(Math.abs(sum - 1)).toBeLessThan(TOL);
      expect(Math.abs(d.entropy - h)).toBeLessThan(1e-12);
    }
  });

  it('is stable for large logits and exact for a uniform row', () => {
    const d = temperedSoftmax([1000, 1000, 999], 1);
    expect(Math.abs(d.logp[2] - (-1 - Math.log(2 + Math.exp(-1))))).toBeLessThan(1e-12);
    const u = temperedSoftmax([3, 3, 3, 3], 0.7);
    expect(Math.abs(u.entropy - Math.log(4))).toBeLessThan(1e-15);
  });
});

/** The definition, by brute force: among all candidate thresholds (the values of p), the largest whose
 * kept mass Σ_{p_v ≥ τ} p_v reaches topP. */
function bruteThreshold(p: ArrayLike<number>, topP: number): number {
  let best = 0;
  for (let i = 0; i < p.length; i++) {
    let mass = 0;
    for (let v = 0; v < p.length; v++) if (p[v] >= p[i]) mass += p[v];
    if (mass >= topP && p[i] > best) best = p[i];
  }
  return best;
}

describe('topPThreshold', () => {
  it('hand-made: binary fractions, ties at τ all kept', () => {
    const p = [0.125, 0.5, 0.25, 0.125];
    expect(topPThreshold(p, 0.5)).toBe(0.5);
    expect(topPThreshold(p, 0.05)).toBe(0.5);
    expect(topPThreshold(p, 0.6)).toBe(0.25);
    expect(topPThreshold(p, 0.75)).toBe(0.25);
    expect(topPThreshold(p, 0.8)).toBe(0.125); // both 0.125 tokens are kept (mass 1)
    expect(topPThreshold(p, 1)).toBe(0);
    const q = [0.25, 0.25, 0.25, 0.125, 0.125];
    expect(topPThreshold(q, 0.3)).toBe(0.25); // three tied tokens kept, mass 0.75
  });

  it('matches the brute-force definition on random distributions', () => {
    const r = rng(9);
    for (let trial = 0; trial < 200; trial++) {
      const V = 1 + Math.floor(r() * 40);
      const row = Float64Array.from(randArray(V, 1000 + trial, 1 + 3 * r()));
      if (trial % 4 === 0) for (let v = 1; v < V; v += 3) row[v] = row[0]; // ties
      const { p } = temperedSoftmax(row, 0.5 + r());
      for (const topP of [0.05, 0.3, 0.5, 0.9, 0.999, r()]) expect(topPThreshold(p, topP)).toBe(bruteThreshold(p, topP));
    }
  });
});

describe('pickToken', () => {
  const p = [0.125, 0.5, 0.25, 0.125];
  it('walks the kept tokens in index order', () => {
    // all kept: cumulative 0.125, 0.625, 0.875, 1
    expect(pickToken(p, 0, 0)).toBe(0);
    expect(pickToken(p, 0, 0.124)).toBe(0);
    expect(pickToken(p, 0, 0.125)).toBe(1); // strictly exceeds
    expect(pickToken(p, 0, 0.8)).toBe(2);
    expect(pickToken(p, 0, 1 - 2 ** -24)).toBe(3);
    // τ = 0.25 keeps {1, 2} (mass 0.75): cumulative 0.5, 0.75 against u · 0.75
    expect(pickToken(p, 0.25, 0)).toBe(1);
    expect(pickToken(p, 0.25, 0.66)).toBe(1);
    expect(pickToken(p, 0.25, 0.67)).toBe(2);
    expect(pickToken(p, 0.25, 1 - 2 ** -24)).toBe(2);
  });
});

describe('sample (the op)', () => {
  it('writes ids, and logp/entropy at b·stride + offset only', () => {
    const B = 3, V = 7, stride = 5, offset = 2;
    const logits = randArray(B * V, 3, 2);
    const ids = new Int32Array(B + 2).fill(-9);
    const logp = new Float64Array(B * stride).fill(42), ent = new Float64Array(B * stride).fill(43);
    sample(ids, logp, ent, logits, B, V, 0.8, 0.9, 1234, offset, stride);
    expect(Array.from(ids.slice(B))).toEqual([-9, -9]);
    for (let i = 0; i < B * stride; i++) {
      const b = (i - offset) / stride;
      if (Number.isInteger(b) && b >= 0 && b < B) {
        const d = temperedSoftmax(logits.subarray(b * V, (b + 1) * V), 0.8);
        expect(ids[b]).toBe(pickToken(d.p, topPThreshold(d.p, 0.9), sampleUniform(1234, b)));
        expect(logp[i]).toBe(d.logp[ids[b]]);
        expect(ent[i]).toBe(d.entropy);
      } else {
        expect(logp[i]).toBe(42);
        expect(ent[i]).toBe(43);
      }
    }
  });

  it('with a row map, op row n draws and writes as batch row rows[n]: the same as that row of the whole batch', () => {
    const B = 6, V = 9, rows = Int32Array.from([1, 4, 5]);
    const logits = randArray(B * V, 8, 2);
    const all = { ids: new Int32Array(B), lp: new Float64Array(B), ent: new Float64Array(B), col: new Int32Array(B) };
    sample(all.ids, all.lp, all.ent, logits, B, V, 1.3, 0.9, 77, 0, 1);
    writeColumn(all.col, all.ids, B, 0, 1);
    const sub = new Float32Array(rows.length * V);
    rows.forEach((r, n) => sub.set(logits.subarray(r * V, (r + 1) * V), n * V));
    const ids = new Int32Array(rows.length), lp = new Float64Array(B).fill(7), ent = new Float64Array(B).fill(7), col = new Int32Array(B).fill(-1);
    sample(ids, lp, ent, sub, rows.length, V, 1.3, 0.9, 77, 0, 1, rows);
    writeColumn(col, ids, rows.length, 0, 1, rows);
    for (let r = 0; r < B; r++) {
      const n = rows.indexOf(r);
      if (n < 0) {
        expect([lp[r], ent[r], col[r]]).toEqual([7, 7, -1]);
        continue;
      }
      expect(ids[n]).toBe(all.ids[r]);
      expect(col[r]).toBe(all.col[r]);
      expect(lp[r]).toBe(all.lp[r]);
      expect(ent[r]).toBe(all.ent[r]);
    }
  });

  it('rejects temperature ≤ 0 and topP outside (0, 1]', () => {
    const a = new Int32Array(1), f = new Float64Array(1), l = new Float64Array(3);
    expect(() => sample(a, f, f, l, 1, 3, 0, 1, 0, 0, 1)).toThrow(/temperature/);
    expect(() => sample(a, f, f, l, 1, 3, 1, 0, 0, 0, 1)).toThrow(/topP/);
    expect(() => sample(a, f, f, l, 1, 3, 1, 1.01, 0, 0, 1)).toThrow(/topP/);
  });

  // Many rows with the same logits are many independent draws (the hash counter is the row).
  const cases: [number, number, number, number][] = [[11, 1, 1, 5], [11, 0.7, 0.9, 6], [40, 1.5, 0.5, 7], [99, 1, 0.95, 8]];
  for (const [V, T, topP, seed] of cases) {
    it(`draws follow p restricted to top-p and renormalised (χ²), V=${V} T=${T} topP=${topP}`, () => {
      const n = 40000;
      const row = randArray(V, 50 + V, 1.5);
      const logits = new Float32Array(n * V);
      for (let b = 0; b < n; b++) logits.set(row, b * V);
      const ids = new Int32Array(n), lp = new Float64Array(n), ent = new Float64Array(n);
      sample(ids, lp, ent, logits, n, V, T, topP, seed, 0, 1);
      const { p } = temperedSoftmax(row, T);
      const tau = topPThreshold(p, topP);
      let mass = 0;
      for (const x of p) if (x >= tau) mass += x;
      const q = Array.from(p, (x) => (x >= tau ? x / mass : 0));
      const counts = new Array<number>(V).fill(0);
      for (const id of ids) counts[id]++;
      const kept = q.filter((x) => x > 0).length;
      for (let v = 0; v < V; v++) if (q[v] === 0) expect(counts[v]).toBe(0); // nothing outside top-p
      if (topP < 1) expect(kept).toBeLessThan(V); // the truncation really removes tokens
      // χ² with kept − 1 degrees of freedom: mean df, sd √(2df). Bound df + 6√(2df) + 6 (a p-value
      // far below 1e-6 for a correct sampler; deterministic draws, so no flake either way).
      const df = Math.max(kept - 1, 1);
      expect(chiSquare(counts, q, n)).toBeLessThan(df + 6 * Math.sqrt(2 * df) + 6);
    });
  }
});

describe('writeColumn', () => {
  it('writes ids into one column of a token matrix and nothing else', () => {
    const tokens = Int32Array.from({ length: 12 }, (_, i) => -1 - i);
    writeColumn(tokens, Int32Array.from([5, 6, 7, 99]), 3, 2, 4); // rows 0..2 of a (3, 4) matrix, column 2
    expect(Array.from(tokens)).toEqual([-1, -2, 5, -4, -5, -6, 6, -8, -9, -10, 7, -12]);
  });
});
