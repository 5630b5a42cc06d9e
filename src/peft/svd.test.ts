// The float64 SVD and QR behind PiSSA, MiLoRA and OLoRA: reconstruction, orthogonality, ordering,
// sign convention, ill-conditioned and rank-deficient inputs, and a timing note for 1024×1024.
import { describe, expect, it } from 'vitest';
import { Rng } from '../tasks/rng.ts';
import { householderQr, svd, symmetricEigen, symmetricEigenTop, symmetricEigenvalues, type Svd } from './svd.ts';

function randn(rng: Rng, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.normal());
}

/** max |A − U diag(S) Vᵀ| / max |A|. */
function reconErr(a: ArrayLike<number>, d: Svd): number {
  let err = 0, big = 0;
  for (let i = 0; i < d.m; i++) {
    for (let j = 0; j < d.n; j++) {
      let s = 0;
      for (let t = 0; t < d.k; t++) s += d.U[i * d.k + t] * d.S[t] * d.V[j * d.k + t];
      err = Math.max(err, Math.abs(s - a[i * d.n + j]));
      big = Math.max(big, Math.abs(a[i * d.n + j]));
    }
  }
  return big === 0 ? err : err / big;
}

/** max |MᵀM − I| for an r×k row-major M (columns orthonormal?). */
function orthErr(M: Float64Array, rows: number, k: number): number {
  let err = 0;
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      let s = 0;
      for (let i = 0; i < rows; i++) s += M[i * k + a] * M[i * k + b];
      err = Math.max(err, Math.abs(s - (a === b ? 1 : 0)));
    }
  }
  return err;
}

/** A = Q₁ diag(σ) Q₂ᵀ with random orthogonal factors (from QR of Gaussian matrices). */
function withSpectrum(rng: Rng, m: number, n: number, sigma: number[]): Float64Array {
  const k = sigma.length;
  const q1 = householderQr(randn(rng, m * k), m, k).Q, q2 = householderQr(randn(rng, n * k), n, k).Q;
  const a = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += q1[i * k + t] * sigma[t] * q2[j * k + t];
    a[i * n + j] = s;
  }
  return a;
}

describe('svd', () => {
  for (const [m, n] of [[1, 1], [1, 7], [7, 1], [5, 5], [17, 9], [9, 17], [64, 128], [160, 64]]) {
    it(`random ${m}×${n}: reconstruction, orthogonality, descending order, sign convention`, () => {
      const rng = new Rng(`svd:${m}x${n}`);
      const a = randn(rng, m * n);
      const d = svd(a, m, n);
      expect(reconErr(a, d)).toBeLessThan(1e-13);
      expect(orthErr(d.U, m, d.k)).toBeLessThan(1e-13);
      expect(orthErr(d.V, n, d.k)).toBeLessThan(1e-13);
      for (let i = 1; i < d.k; i++) expect(d.S[i]).toBeLessThanOrEqual(d.S[i - 1]);
      for (let t = 0; t < d.k; t++) {
        let big = 0;
        for (let i = 1; i < m; i++) if (Math.abs(d.U[i * d.k + t]) > Math.abs(d.U[big * d.k + t])) big = i;
        expect(d.U[big * d.k + t]).toBeGreaterThan(0);
      }
      // Deterministic: the same input gives bit-identical output.
      const again = svd(a, m, n);
      expect(again.U).toEqual(d.U);
      expect(again.S).toEqual(d.S);
      expect(again.V).toEqual(d.V);
    });
  }

  it('ill-conditioned (cond 1e12): small singular values to relative accuracy, U and V orthogonal', () => {
    const rng = new Rng('svd:ill');
    const sigma = Array.from({ length: 40 }, (_, i) => 10 ** (-12 * i / 39));
    const a = withSpectrum(rng, 60, 40, sigma);
    const d = svd(a, 60, 40);
    expect(reconErr(a, d)).toBeLessThan(1e-13);
    expect(orthErr(d.U, 60, 40)).toBeLessThan(1e-12);
    expect(orthErr(d.V, 40, 40)).toBeLessThan(1e-12);
    // The input itself carries rounding of ~1e-16·‖A‖, so σ near 1e-12 are good to ~1e-4 relative at best.
    for (let i = 0; i < 40; i++) expect(Math.abs(d.S[i] - sigma[i]) / sigma[i]).toBeLessThan(sigma[i] > 1e-8 ? 1e-6 : 1e-2);
  });

  it('rank-deficient and zero matrices: zero singular values, still orthonormal factors', () => {
    const rng = new Rng('svd:rank');
    const a = withSpectrum(rng, 12, 20, [3, 2, 1, 0, 0, 0]);
    const d = svd(a, 12, 20);
    expect(reconErr(a, d)).toBeLessThan(1e-13);
    expect(orthErr(d.U, 12, 12)).toBeLessThan(1e-12);
    expect(orthErr(d.V, 20, 12)).toBeLessThan(1e-12);
    expect(Math.abs(d.S[2] - 1)).toBeLessThan(1e-13);
    expect(d.S[3]).toBeLessThan(1e-13);
    const z = svd(new Float64Array(6 * 4), 6, 4);
    expect([...z.S]).toEqual([0, 0, 0, 0]);
    expect(orthErr(z.U, 6, 4)).toBeLessThan(1e-14);
    expect(orthErr(z.V, 4, 4)).toBeLessThan(1e-14);
  });

  it('repeated singular values', () => {
    const rng = new Rng('svd:rep');
    const a = withSpectrum(rng, 30, 30, Array.from({ length: 30 }, (_, i) => (i < 10 ? 2 : i < 20 ? 1 : 0.5)));
    const d = svd(a, 30, 30);
    expect(reconErr(a, d)).toBeLessThan(1e-13);
    expect(orthErr(d.U, 30, 30)).toBeLessThan(1e-13);
    expect(orthErr(d.V, 30, 30)).toBeLessThan(1e-13);
  });

  it('rejects non-finite input and bad shapes', () => {
    expect(() => svd([1, Number.NaN], 1, 2)).toThrow(/non-finite/);
    expect(() => svd([1, 2, 3], 2, 2)).toThrow(/3 values/);
  });

  it('timing note: 1024×1024 (printed, not asserted)', () => {
    const rng = new Rng('svd:big');
    const a = Float32Array.from(randn(rng, 1024 * 1024));
    const t0 = performance.now();
    const d = svd(a, 1024, 1024);
    const ms = performance.now() - t0;
    console.log(`svd 1024×1024: ${(ms / 1000).toFixed(2)} s, ${d.sweeps} Jacobi sweep(s)`);
    expect(d.S[0]).toBeGreaterThan(d.S[1023]);
  }, 600_000);
});

describe('householderQr', () => {
  for (const [m, n] of [[8, 5], [5, 8], [64, 64], [128, 64]]) {
    it(`${m}×${n}: Q orthonormal, R upper triangular, QR = A, LAPACK signs`, () => {
      const rng = new Rng(`qr:${m}x${n}`);
      const a = randn(rng, m * n);
      const { Q, R, k } = householderQr(a, m, n);
      expect(orthErr(Q, m, k)).toBeLessThan(1e-13);
      for (let i = 0; i < k; i++) for (let j = 0; j < Math.min(i, n); j++) expect(R[i * n + j]).toBe(0);
      let err = 0;
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += Q[i * k + t] * R[t * n + j];
        err = Math.max(err, Math.abs(s - a[i * n + j]));
      }
      expect(err).toBeLessThan(1e-12);
      // geqrf: R[0][0] = −sign(a₀₀)·‖a[:,0]‖.
      expect(Math.sign(R[0])).toBe(-Math.sign(a[0]));
    });
  }
});

describe('symmetricEigenvalues and symmetricEigenTop (the spectral probe\'s partial eigensolvers)', () => {
  /** A symmetric k×k test matrix: a Gram of a random k×q (rank min(k, q): q < k gives a zero cluster),
   * or one with a repeated top eigenvalue. */
  function cases(): [string, Float64Array, number][] {
    const out: [string, Float64Array, number][] = [];
    for (const [k, q] of [[1, 3], [2, 5], [9, 20], [64, 128], [128, 96]]) {
      const x = randn(new Rng(`eig:${k}x${q}`), k * q), g = new Float64Array(k * k);
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let t = 0; t < q; t++) g[i * k + j] += x[i * q + t] * x[j * q + t];
      out.push([`Gram ${k}×${q}`, g, k]);
    }
    const k = 40, sigma = Array.from({ length: k }, (_, i) => (i < 4 ? 5 : 1 / (i + 1)));
    const q1 = householderQr(randn(new Rng('eig:rep'), k * k), k, k).Q, g = new Float64Array(k * k);
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let t = 0; t < k; t++) g[i * k + j] += q1[i * k + t] * sigma[t] * q1[j * k + t];
    out.push(['a fourfold top eigenvalue, 40×40', g, k]);
    return out;
  }

  for (const [what, g, k] of cases()) {
    it(`${what}: the same eigenvalues as symmetricEigen; top-K eigenpairs with residual and orthogonality at rounding`, () => {
      const full = Array.from(symmetricEigen(g.slice(), k).values).sort((a, b) => b - a);
      const scale = Math.max(...full.map(Math.abs));
      const vals = Array.from(symmetricEigenvalues(g.slice(), k)).sort((a, b) => b - a);
      for (let i = 0; i < k; i++) expect(Math.abs(vals[i] - full[i])).toBeLessThan(1e-13 * scale * k);
      for (const K of [...new Set([1, Math.max(1, k >> 2), k])]) {
        const { values, X } = symmetricEigenTop(g.slice(), k, K);
        for (let i = 0; i < k; i++) expect(Math.abs(values[i] - full[i])).toBeLessThan(1e-13 * scale * k);
        for (let i = 1; i < k; i++) expect(values[i]).toBeLessThanOrEqual(values[i - 1]);
        let resid = 0;
        for (let c = 0; c < K; c++) for (let i = 0; i < k; i++) {
          let s = 0;
          for (let j = 0; j < k; j++) s += g[i * k + j] * X[j * K + c];
          resid = Math.max(resid, Math.abs(s - values[c] * X[i * K + c]));
        }
        expect(resid).toBeLessThan(1e-13 * scale * k);
        expect(orthErr(X, k, K)).toBeLessThan(1e-13);
      }
    });
  }
});
