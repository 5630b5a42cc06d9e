// Dense linear algebra for SVD-based adapter inits (PiSSA, MiLoRA) and OLoRA's QR, in float64,
// deterministic (no randomness; one fixed sequence of operations), in plain JS.
//
// SVD of A (m×n), k = min(m, n): let X be A or Aᵀ so that X is k×q with k ≤ q, stored row-major
// so every hot loop walks contiguous rows.
//  1. G = X Xᵀ (k×k), eigendecomposed by Householder tridiagonalisation + implicit QL with
//     Wilkinson-style shifts (EISPACK tql2 as in JAMA): G = U Λ Uᵀ.
//  2. Y = Uᵀ X has nearly orthogonal rows. One-sided Jacobi (Hestenes) sweeps on the rows of Y,
//     with the rotations accumulated into U, make them orthogonal to working precision. This step
//     restores what the Gram matrix squares away: small singular values get relative accuracy and
//     U stays orthogonal even for ill-conditioned A (step 1 alone loses ~ε·cond² there). It
//     converges in one to three sweeps because step 1 leaves Y almost orthogonal.
//  3. σᵢ = ‖Yᵢ‖, vᵢ = Yᵢ/σᵢ (exact-zero rows get an orthonormal completion), sorted descending.
// Signs: each singular pair (uᵢ, vᵢ) is flipped so that the entry of largest magnitude of uᵢ is
// positive (first such index on ties). Singular vectors are otherwise unique up to sign only where
// singular values are distinct.

export interface Svd {
  m: number;
  n: number;
  k: number;
  /** Left singular vectors, m×k row-major (column i is uᵢ). */
  U: Float64Array;
  /** Singular values, descending, length k. */
  S: Float64Array;
  /** Right singular vectors, n×k row-major (column i is vᵢ). */
  V: Float64Array;
  /** Jacobi sweeps used by the refinement (for diagnostics). */
  sweeps: number;
}

const EPS = 2 ** -52;

/** How a tridiagonalisation reads and updates the symmetric matrix: the whole of it, or its lower
 * triangle only. Step c works on the trailing block A₂₂ = A[off.., off..], off = c + 1, L = k − off. */
interface TridiagonalAccess {
  /** x = A[c+1.., c] into v; returns Σ x². */
  column(a: Float64Array, k: number, c: number, v: Float64Array): number;
  /** p = β A₂₂ v; returns pᵀv. */
  product(a: Float64Array, k: number, off: number, v: Float64Array, beta: number, p: Float64Array): number;
  /** A₂₂ −= v wᵀ + w vᵀ (w in p). */
  update(a: Float64Array, k: number, off: number, v: Float64Array, w: Float64Array): void;
}

/** Householder tridiagonalisation of a symmetric k×k matrix `a` (destroyed), read and updated
 * through `access`. Returns diagonal d, sub-diagonal e (e[i] = T[i+1][i], e[k−1] = 0) and the
 * reflectors: Q = H₀ H₁ …, Hc = I − βc vc vcᵀ acting on indices c+1.., with T = Qᵀ A Q. */
function tridiagonal(a: Float64Array, k: number, access: TridiagonalAccess): { d: Float64Array; e: Float64Array; vs: Float64Array[]; betas: number[] } {
  const d = new Float64Array(k), e = new Float64Array(k);
  const vs: Float64Array[] = [], betas: number[] = [];
  const p = new Float64Array(k);
  for (let c = 0; c + 2 < k; c++) {
    d[c] = a[c * k + c];
    const L = k - c - 1, off = c + 1;
    const v = new Float64Array(L);
    const sigma2 = access.column(a, k, c, v);
    // The reflector that maps x to (α, 0, …): v = x − α e₀, β = 2 / vᵀv; none when x is already reduced.
    const sigma = Math.sqrt(sigma2), x0 = v[0];
    if (sigma === 0 || sigma2 - x0 * x0 === 0) {
      e[c] = x0;
      vs.push(v.fill(0));
      betas.push(0);
      continue;
    }
    const alpha = x0 >= 0 ? -sigma : sigma;
    v[0] = x0 - alpha;
    const beta = 1 / (sigma * (sigma + Math.abs(x0)));
    e[c] = alpha;
    // p = β A22 v, K = β/2 pᵀv, w = p − K v, A22 −= v wᵀ + w vᵀ.
    const pv = access.product(a, k, off, v, beta, p);
    const K = 0.5 * beta * pv;
    for (let i = 0; i < L; i++) p[i] -= K * v[i];
    access.update(a, k, off, v, p);
    vs.push(v);
    betas.push(beta);
  }
  if (k >= 2) {
    d[k - 2] = a[(k - 2) * k + k - 2];
    d[k - 1] = a[(k - 1) * k + k - 1];
    e[k - 2] = a[(k - 1) * k + k - 2];
  } else if (k === 1) d[0] = a[0];
  e[k - 1] = 0;
  return { d, e, vs, betas };
}

/** The whole matrix: row c is contiguous, so x is read from it (A is symmetric). */
const WHOLE: TridiagonalAccess = {
  column(a, k, c, v) {
    let sigma2 = 0;
    for (let i = 0; i < v.length; i++) {
      v[i] = a[c * k + c + 1 + i];
      sigma2 += v[i] * v[i];
    }
    return sigma2;
  },
  product(a, k, off, v, beta, p) {
    let pv = 0;
    for (let i = 0; i < v.length; i++) {
      const row = (off + i) * k + off;
      let s = 0;
      for (let j = 0; j < v.length; j++) s += a[row + j] * v[j];
      p[i] = beta * s;
      pv += p[i] * v[i];
    }
    return pv;
  },
  update(a, k, off, v, w) {
    for (let i = 0; i < v.length; i++) {
      const row = (off + i) * k + off, vi = v[i], wi = w[i];
      for (let j = 0; j < v.length; j++) a[row + j] -= vi * w[j] + wi * v[j];
    }
  },
};

/** The lower triangle only: the same reflectors, about two thirds of the work (the rank-2 update
 * touches half the matrix; the product A₂₂v reads each stored entry once for two terms). Its sums
 * run in another order, so its results differ from WHOLE's in the last bits; it is what the
 * spectral probe uses. */
const LOWER: TridiagonalAccess = {
  column(a, k, c, v) {
    let sigma2 = 0;
    for (let i = 0; i < v.length; i++) {
      v[i] = a[(c + 1 + i) * k + c];
      sigma2 += v[i] * v[i];
    }
    return sigma2;
  },
  product(a, k, off, v, beta, p) {
    // Row i's entries j < i add to p_i and (transposed) to p_j.
    const L = v.length;
    p.fill(0, 0, L);
    for (let i = 0; i < L; i++) {
      const row = (off + i) * k + off, vi = v[i];
      let s = a[row + i] * vi;
      for (let j = 0; j < i; j++) {
        const x = a[row + j];
        s += x * v[j];
        p[j] += x * vi;
      }
      p[i] += s;
    }
    let pv = 0;
    for (let i = 0; i < L; i++) {
      p[i] *= beta;
      pv += p[i] * v[i];
    }
    return pv;
  },
  update(a, k, off, v, w) {
    for (let i = 0; i < v.length; i++) {
      const row = (off + i) * k + off, vi = v[i], wi = w[i];
      for (let j = 0; j <= i; j++) a[row + j] -= vi * w[j] + wi * v[j];
    }
  },
};

/** Householder tridiagonalisation with Qᵀ (k×k row-major) formed: T = Qᵀ A Q. */
function tridiagonalize(a: Float64Array, k: number): { d: Float64Array; e: Float64Array; Qt: Float64Array } {
  const { d, e, vs, betas } = tridiagonal(a, k, WHOLE);
  // Q = H₀ H₁ … by backward accumulation (each Hc acts on indices c+1..), then transpose.
  const Q = new Float64Array(k * k);
  for (let i = 0; i < k; i++) Q[i * k + i] = 1;
  const t = new Float64Array(k);
  for (let c = vs.length - 1; c >= 0; c--) {
    const v = vs[c], beta = betas[c];
    if (beta === 0) continue;
    const off = c + 1, L = k - off;
    t.fill(0, 0, L);
    for (let i = 0; i < L; i++) {
      const vi = v[i];
      if (vi === 0) continue;
      const row = (off + i) * k + off;
      for (let j = 0; j < L; j++) t[j] += vi * Q[row + j];
    }
    for (let i = 0; i < L; i++) {
      const f = beta * v[i];
      if (f === 0) continue;
      const row = (off + i) * k + off;
      for (let j = 0; j < L; j++) Q[row + j] -= f * t[j];
    }
  }
  const Qt = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) Qt[j * k + i] = Q[i * k + j];
  return { d, e, Qt };
}

/** The plane rotations of one QL run, in order: rotation t acts on rows (i[t], i[t]+1) with (c[t], s[t]). */
class RotationLog {
  i = new Int32Array(1024);
  c = new Float64Array(1024);
  s = new Float64Array(1024);
  n = 0;
  push(i: number, c: number, s: number): void {
    if (this.n === this.i.length) {
      const grow = <T extends Int32Array | Float64Array>(x: T, y: T): T => (y.set(x), y);
      this.i = grow(this.i, new Int32Array(2 * this.n));
      this.c = grow(this.c, new Float64Array(2 * this.n));
      this.s = grow(this.s, new Float64Array(2 * this.n));
    }
    this.i[this.n] = i;
    this.c[this.n] = c;
    this.s[this.n++] = s;
  }
}

/** Implicit QL on the tridiagonal (d, e) (EISPACK tql2); rotations applied to the rows of Z
 * (Z = Vᵀ: row i is eigenvector i), or with Z null only recorded in `log` (or nowhere: eigenvalues
 * only, tql1). Eigenvalues are left in d (unsorted); d and e evolve identically either way. */
function tql2(d: Float64Array, e: Float64Array, Z: Float64Array | null, k: number, log: RotationLog | null = null): void {
  let f = 0, tst1 = 0;
  for (let l = 0; l < k; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < k && Math.abs(e[m]) > EPS * tst1) m++;
    if (m === k) m = k - 1;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60 * k + 100) throw new Error('svd: QL iteration did not converge');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < k; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1, c2 = c, c3 = c, s = 0, s2 = 0;
        const el1 = e[l + 1];
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          if (Z) {
            const ri = i * k, rj = (i + 1) * k;
            for (let q = 0; q < k; q++) {
              const zi = Z[ri + q], zj = Z[rj + q];
              Z[rj + q] = s * zi + c * zj;
              Z[ri + q] = c * zi - s * zj;
            }
          } else if (log) log.push(i, c, s);
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > EPS * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}

/** Symmetric eigendecomposition of a k×k matrix (destroyed): eigenvalues and Z (row i = eigenvector i). */
export function symmetricEigen(a: Float64Array, k: number): { values: Float64Array; Z: Float64Array } {
  const { d, e, Qt } = tridiagonalize(a, k);
  tql2(d, e, Qt, k);
  return { values: d, Z: Qt };
}

/** Eigenvalues only of a symmetric k×k matrix (destroyed; only its lower triangle is read), unsorted,
 * at a fraction of symmetricEigen's work (no Q formed, no rotations applied: ~2/3·k³ + O(k²)). */
export function symmetricEigenvalues(a: Float64Array, k: number): Float64Array {
  const { d, e } = tridiagonal(a, k, LOWER);
  tql2(d, e, null, k);
  return d;
}

/** The K largest eigenpairs of a symmetric k×k matrix (destroyed): all eigenvalues, descending
 * (ties by index), and the eigenvectors of the first K as the columns of X (k×K row-major).
 * Only the lower triangle of `a` is read. The same QL iteration as symmetricEigen, but its rotations are recorded rather than applied to a
 * k×k matrix, then replayed backwards on K unit vectors only (6·K flops each instead of 6·k) and the
 * K vectors carried back through the Householder reflectors (~2·k²·K): for K ≤ k/4 about a third of
 * the work of symmetricEigen. Deterministic (one fixed sequence of operations). */
export function symmetricEigenTop(a: Float64Array, k: number, K: number): { values: Float64Array; X: Float64Array } {
  if (!(K >= 0 && K <= k)) throw new Error(`symmetricEigenTop: K = ${K} outside 0..${k}`);
  const { d, e, vs, betas } = tridiagonal(a, k, LOWER);
  const log = new RotationLog();
  tql2(d, e, null, k, K > 0 ? log : null);
  const order = Array.from({ length: k }, (_, i) => i).sort((x, y) => d[y] - d[x] || x - y);
  const values = Float64Array.from(order, (i) => d[i]);
  // Row p of the tridiagonal's eigenvector matrix P = R_N ⋯ R_1 is e_pᵀ R_N ⋯ R_1: start from unit
  // rows and apply the rotations from the last back (y ← y R_t on columns i, i+1). Y is k×K: the
  // K rows side by side, so each rotation touches two contiguous K-long rows.
  const X = new Float64Array(k * K);
  for (let r = 0; r < K; r++) X[order[r] * K + r] = 1;
  for (let t = log.n - 1; t >= 0; t--) {
    const ri = log.i[t] * K, rj = ri + K, c = log.c[t], s = log.s[t];
    for (let r = 0; r < K; r++) {
      const yi = X[ri + r], yj = X[rj + r];
      X[ri + r] = c * yi + s * yj;
      X[rj + r] = c * yj - s * yi;
    }
  }
  // Eigenvectors of A: x = Q p = H₀ (H₁ (⋯ p)), the last reflector first.
  const w = new Float64Array(K);
  for (let c = vs.length - 1; c >= 0; c--) {
    const v = vs[c], beta = betas[c];
    if (beta === 0) continue;
    const off = c + 1, L = k - off;
    w.fill(0);
    for (let i = 0; i < L; i++) {
      const vi = v[i];
      if (vi === 0) continue;
      const row = (off + i) * K;
      for (let r = 0; r < K; r++) w[r] += vi * X[row + r];
    }
    for (let i = 0; i < L; i++) {
      const f = beta * v[i];
      if (f === 0) continue;
      const row = (off + i) * K;
      for (let r = 0; r < K; r++) X[row + r] -= f * w[r];
    }
  }
  return { values, X };
}

/** Σ a[ao+i]·b[bo+i], four partial sums (a fixed order: deterministic). */
export function dot(a: Float64Array, ao: number, b: Float64Array, bo: number, n: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[ao + i] * b[bo + i];
    s1 += a[ao + i + 1] * b[bo + i + 1];
    s2 += a[ao + i + 2] * b[bo + i + 2];
    s3 += a[ao + i + 3] * b[bo + i + 3];
  }
  for (; i < n; i++) s0 += a[ao + i] * b[bo + i];
  return s0 + s1 + (s2 + s3);
}

/** Make the rows of Y (k×q) orthogonal by one-sided Jacobi rotations, applying each rotation to the
 * rows of Ut too. Returns the number of sweeps. */
function jacobiRows(Y: Float64Array, Ut: Float64Array, k: number, q: number, tol: number): number {
  const norms = new Float64Array(k);
  for (let sweep = 1; sweep <= 60; sweep++) {
    for (let i = 0; i < k; i++) norms[i] = dot(Y, i * q, Y, i * q, q);
    let rotated = 0, maxRel = 0;
    for (let i = 0; i < k - 1; i++) {
      for (let j = i + 1; j < k; j++) {
        const a = norms[i], b = norms[j];
        if (a === 0 || b === 0) continue;
        const g = dot(Y, i * q, Y, j * q, q);
        const rel = Math.abs(g) / Math.sqrt(a * b);
        if (rel <= tol) continue;
        rotated++;
        if (rel > maxRel) maxRel = rel;
        const zeta = (b - a) / (2 * g);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        const ri = i * q, rj = j * q;
        for (let x = 0; x < q; x++) {
          const yi = Y[ri + x], yj = Y[rj + x];
          Y[ri + x] = c * yi - s * yj;
          Y[rj + x] = s * yi + c * yj;
        }
        const ui = i * k, uj = j * k;
        for (let x = 0; x < k; x++) {
          const a1 = Ut[ui + x], b1 = Ut[uj + x];
          Ut[ui + x] = c * a1 - s * b1;
          Ut[uj + x] = s * a1 + c * b1;
        }
        norms[i] = a - t * g;
        norms[j] = b + t * g;
      }
    }
    // Convergence is quadratic: once the largest rotated coupling is below 1e-9 the next sweep
    // would find nothing above ~1e-18, so the confirming sweep is skipped.
    if (rotated === 0 || maxRel < 1e-9) return sweep;
  }
  return 60;
}

/** Fill rows of R (rows × len) flagged in `missing` with unit vectors orthogonal to all other rows. */
function completeOrthonormal(R: Float64Array, rows: number, len: number, missing: boolean[]): void {
  let basis = 0;
  for (let i = 0; i < rows; i++) {
    if (!missing[i]) continue;
    for (; basis < len; basis++) {
      const v = new Float64Array(len);
      v[basis] = 1;
      for (let pass = 0; pass < 2; pass++) {
        for (let j = 0; j < rows; j++) {
          if (j === i || (missing[j] && j > i)) continue;
          const c = dot(v, 0, R, j * len, len);
          for (let x = 0; x < len; x++) v[x] -= c * R[j * len + x];
        }
      }
      const nv = Math.sqrt(dot(v, 0, v, 0, len));
      if (nv > 1e-8) {
        for (let x = 0; x < len; x++) R[i * len + x] = v[x] / nv;
        basis++;
        break;
      }
    }
    missing[i] = false;
  }
}

/** Thin SVD of the m×n row-major matrix `a` (float32 or float64; not modified). */
export function svd(a: ArrayLike<number>, m: number, n: number): Svd {
  if (!(Number.isInteger(m) && Number.isInteger(n) && m >= 1 && n >= 1)) throw new Error(`svd: invalid shape ${m}×${n}`);
  if (a.length !== m * n) throw new Error(`svd: ${a.length} values for a ${m}×${n} matrix`);
  const trans = m > n, k = Math.min(m, n), q = Math.max(m, n);
  // X (k×q): A itself, or Aᵀ.
  const X = new Float64Array(k * q);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const v = a[i * n + j];
      if (!Number.isFinite(v)) throw new Error(`svd: non-finite value ${v} at (${i}, ${j})`);
      if (trans) X[j * q + i] = v;
      else X[i * q + j] = v;
    }
  }
  const G = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      const g = dot(X, i * q, X, j * q, q);
      G[i * k + j] = g;
      G[j * k + i] = g;
    }
  }
  const { values, Z } = symmetricEigen(G, k);
  // Order eigenpairs by descending eigenvalue before the refinement.
  const order = Array.from({ length: k }, (_, i) => i).sort((x, y) => values[y] - values[x] || x - y);
  const Ut = new Float64Array(k * k);
  order.forEach((src, dst) => Ut.set(Z.subarray(src * k, src * k + k), dst * k));
  // Y = Uᵀ X.
  const Y = new Float64Array(k * q);
  for (let i = 0; i < k; i++) {
    const yi = i * q;
    for (let c = 0; c < k; c++) {
      const u = Ut[i * k + c];
      if (u === 0) continue;
      const xc = c * q;
      for (let x = 0; x < q; x++) Y[yi + x] += u * X[xc + x];
    }
  }
  const sweeps = jacobiRows(Y, Ut, k, q, Math.max(1e-15, EPS * Math.sqrt(q)));
  const sig = new Float64Array(k);
  const missing: boolean[] = [];
  for (let i = 0; i < k; i++) {
    sig[i] = Math.sqrt(dot(Y, i * q, Y, i * q, q));
    missing.push(sig[i] === 0);
    if (sig[i] > 0) for (let x = 0; x < q; x++) Y[i * q + x] /= sig[i];
  }
  completeOrthonormal(Y, k, q, missing);
  const idx = Array.from({ length: k }, (_, i) => i).sort((x, y) => sig[y] - sig[x] || x - y);
  // X = Ut ᵀ diag(σ) Y: left vectors of X are rows of Ut, right vectors rows of Y.
  const left = trans ? Y : Ut, right = trans ? Ut : Y;
  const U = new Float64Array(m * k), V = new Float64Array(n * k), S = new Float64Array(k);
  idx.forEach((src, dst) => {
    S[dst] = sig[src];
    const lu = left.subarray(src * (trans ? q : k), src * (trans ? q : k) + m);
    let big = 0;
    for (let i = 1; i < m; i++) if (Math.abs(lu[i]) > Math.abs(lu[big])) big = i;
    const sign = lu[big] < 0 ? -1 : 1;
    for (let i = 0; i < m; i++) U[i * k + dst] = sign * lu[i];
    const rv = right.subarray(src * (trans ? k : q), src * (trans ? k : q) + n);
    for (let j = 0; j < n; j++) V[j * k + dst] = sign * rv[j];
  });
  return { m, n, k, U, S, V, sweeps };
}

/** Reduced Householder QR of the m×n row-major matrix `a`, with LAPACK's (geqrf/orgqr) sign
 * convention R[j][j] = −sign(x₀)·‖x‖, i.e. what torch.linalg.qr returns. Q is m×k, R is k×n,
 * k = min(m, n). */
export function householderQr(a: ArrayLike<number>, m: number, n: number): { Q: Float64Array; R: Float64Array; k: number } {
  if (a.length !== m * n) throw new Error(`qr: ${a.length} values for a ${m}×${n} matrix`);
  const k = Math.min(m, n);
  const W = Float64Array.from(a);
  const vs: Float64Array[] = [], taus: number[] = [];
  for (let j = 0; j < k; j++) {
    const L = m - j;
    const v = new Float64Array(L);
    for (let i = 0; i < L; i++) v[i] = W[(j + i) * n + j];
    let tail = 0;
    for (let i = 1; i < L; i++) tail += v[i] * v[i];
    const x0 = v[0];
    if (tail === 0) {
      // LAPACK dlarfg: H = I (tau = 0) when x is already e₁-aligned.
      vs.push(v.fill(0));
      taus.push(0);
      continue;
    }
    const norm = Math.sqrt(x0 * x0 + tail);
    const beta = x0 >= 0 ? -norm : norm;
    const tau = (beta - x0) / beta;
    const scale = 1 / (x0 - beta);
    for (let i = 1; i < L; i++) v[i] *= scale;
    v[0] = 1;
    reflect(W, n, j, v, tau);
    W[j * n + j] = beta;
    for (let i = 1; i < L; i++) W[(j + i) * n + j] = 0;
    vs.push(v);
    taus.push(tau);
  }
  const R = new Float64Array(k * n);
  for (let i = 0; i < k; i++) for (let c = i; c < n; c++) R[i * n + c] = W[i * n + c];
  // Q = H₀ … H_{k−1} applied to the first k columns of I (backward accumulation).
  const Q = new Float64Array(m * k);
  for (let i = 0; i < k; i++) Q[i * k + i] = 1;
  for (let j = k - 1; j >= 0; j--) {
    if (taus[j] !== 0) reflect(Q, k, j, vs[j], taus[j]);
  }
  return { Q, R, k };
}

/** X[j.., j..] = H · X[j.., j..] with H = I − τ v vᵀ (v over rows j..j+v.length) for the row-major X
 * of `cols` columns: t = vᵀX, then X −= τ v t. */
function reflect(X: Float64Array, cols: number, j: number, v: Float64Array, tau: number): void {
  const t = new Float64Array(cols - j);
  for (let i = 0; i < v.length; i++) {
    const row = (j + i) * cols + j, vi = v[i];
    for (let c = 0; c < cols - j; c++) t[c] += vi * X[row + c];
  }
  for (let i = 0; i < v.length; i++) {
    const row = (j + i) * cols + j, f = tau * v[i];
    for (let c = 0; c < cols - j; c++) X[row + c] -= f * t[c];
  }
}
