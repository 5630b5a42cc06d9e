// Where RL's updates land: for every adapted layer, the effective update ΔW = W_now − W_0 (the merged
// weight against the pretrained one; for PiSSA/MiLoRA/OLoRA W_0 is the weight before the init split
// it) measured against W_0's singular directions, as the study explains its PiSSA result (METHODS.md):
//   principal share(k) = ‖U_kᵀ ΔW V_k‖²_F / ‖ΔW‖²_F   (U_k, V_k: W_0's top-k singular vectors);
//   a random update of the same shape gives k²/(m·n) in expectation (the k×k block of m·n entries
//   of a rotation-invariant matrix);
//   ΔW's singular values (top 8) and effective rank exp(H(σ/Σσ)) (Roy & Vetterli);
//   principal angles between the top-k left singular subspaces of W_0 and W_now (degrees).
// W_0's decomposition is taken once per run. Each record is, per layer, in float64 (deterministic:
// one fixed sequence of operations, so the same weights give the same bits on every backend):
//   ΔW's singular values: its smaller-side Gram matrix, eigenvalues only (Householder on the lower
//     triangle + QL without vectors; no Q formed): the effective rank needs all of them;
//   W_now's top-K singular vectors (K = min(m, n)/4, the largest k): the same for W_now's Gram, the QL
//     rotations replayed on K vectors only and carried back through the reflectors
//     (symmetricEigenTop), not a full eigendecomposition;
//   the share: U₀ᵀ ΔW by contiguous dot products; the angles' cosines U₀ᵀ U_now from V_now and that
//     same U₀ᵀ ΔW when m > n (U₀ᵀ W₀ = Σ₀ V₀ᵀ), so U_now is never formed there.
// The math stays on the CPU in float64: the backends' matmuls are float32, and a float32 Gram squares
// away what the effective rank and small singular values need (σ below ~3e-4·σ₁ would read as noise).
// It runs off the training loop's thread where a worker is given (spectral-thread.ts): the loop waits
// only for W_now's read-back. What a record costs, measured beside real steps: `npx tsx
// src/peft/spectral.bench.ts`, numbers in docs/STUDY.md.
// Each record also carries the method's internals where it has
// them (AdaLoRA's ranks, DoRA's magnitudes, VeRA's and IA³'s scales; src/peft/internals.ts).
import type { ModelConfig } from '../model/config.ts';
import { paramShapes } from '../model/config.ts';
import { InternalsProbe, type Internals } from './internals.ts';
import { dot, svd, symmetricEigenTop, symmetricEigenvalues } from './svd.ts';
import type { PeftInstance } from './types.ts';

/** k as fractions of min(m, n) (at least 1 each). */
export const SPECTRAL_FRACTIONS = [1 / 32, 1 / 8, 1 / 4];

export interface SpectralLayer {
  name: string;
  m: number;
  n: number;
  ks: number[];
  /** ‖ΔW‖_F */
  norm: number;
  /** Principal share per k (NaN when ΔW = 0). */
  share: number[];
  /** k²/(m·n): a random update's expected share. */
  random: number[];
  /** ΔW's largest singular values (up to 8). */
  sv: number[];
  effRank: number;
  /** Largest principal angle between W_0's and W_now's top-k left subspaces, per k, degrees. */
  angle: number[];
}

export interface SpectralRecord {
  type: 'spectral';
  step: number;
  fractions: number[];
  layers: SpectralLayer[];
  /** Over layers with a nonzero update: mean share and mean random baseline per k, mean effective rank. */
  mean: { share: number[]; random: number[]; effRank: number };
  /** The method's internals at this step (absent for methods without them). */
  internals?: Internals;
  /** Of `seconds`, the internals' part. */
  internalsSeconds?: number;
  /** Reading W_now and the internals, and measuring. */
  seconds: number;
  /** Of `seconds`, what the training loop waited for: all of it when measured on its thread, the
   * reading only when measured on another (offThread). */
  waitSeconds: number;
  offThread: boolean;
}

/** The Gram matrix of a's smaller side (a: m×n row-major), eigendecomposed: all singular values
 * (descending) and, for k > 0, the top-k eigenvectors Z (min(m, n)×k row-major, column c for σ_c):
 * U's columns when m ≤ n, V's when m > n. k = 0: singular values only (no eigenvectors formed). */
function gramEigen(a: ArrayLike<number>, m: number, n: number, k: number): { S: Float64Array; Z: Float64Array } {
  const small = Math.min(m, n), q = Math.max(m, n);
  // X (small×q): A, or Aᵀ, in float64, so the Gram is rows against rows, contiguous.
  const X = new Float64Array(small * q);
  if (m <= n) for (let i = 0; i < m * n; i++) X[i] = a[i];
  else for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) X[j * q + r] = a[r * n + j];
  const g = new Float64Array(small * small);
  for (let i = 0; i < small; i++) for (let j = 0; j <= i; j++) g[i * small + j] = dot(X, i * q, X, j * q, q);
  const sqrt = (v: number) => Math.sqrt(Math.max(0, v));
  if (k === 0) return { S: symmetricEigenvalues(g, small).sort().reverse().map(sqrt), Z: new Float64Array(0) };
  const { values, X: Z } = symmetricEigenTop(g, small, k);
  return { S: values.map(sqrt), Z };
}

/** Top-k left singular vectors of a (m×n row-major) as an m×k row-major matrix, from the Gram
 * matrix of the smaller side; also all singular values (descending). k = 0: singular values only. */
export function leftSubspace(a: ArrayLike<number>, m: number, n: number, k: number): { U: Float64Array; S: Float64Array } {
  const { S, Z } = gramEigen(a, m, n, k);
  if (m <= n || k === 0) return { U: Z, S }; // G = A Aᵀ: its eigenvectors are U
  // G = Aᵀ A: its eigenvectors are V; U = A V / σ.
  const U = new Float64Array(m * k), inv = Float64Array.from({ length: k }, (_, c) => 1 / (S[c] > 0 ? S[c] : 1));
  for (let r = 0; r < m; r++) {
    const ur = r * k;
    for (let j = 0; j < n; j++) {
      const x = a[r * n + j];
      if (x !== 0) for (let c = 0; c < k; c++) U[ur + c] += x * Z[j * k + c];
    }
    for (let c = 0; c < k; c++) U[ur + c] *= inv[c];
  }
  return { U, S };
}

/** ‖U_kᵀ D V_k‖²_F for every k in ks (ascending), from one product at the largest k: the smaller
 * k's block is the top-left corner of the larger one. U: m×K, V: n×K row-major, K ≥ max(ks). */
export function principalEnergy(d: ArrayLike<number>, m: number, n: number, U: Float64Array, V: Float64Array, K: number, ks: number[]): number[] {
  return projected(Float64Array.from(d), m, n, transpose(U, m, K), V, K, ks).energy;
}

/** a (rows×cols row-major) transposed. */
function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

/** principalEnergy's work, with Uᵀ given (Ut: K×m) and Uᵀ D (kmax×n) returned too. Every product is
 * a dot of two contiguous rows (four partial sums, a fixed order). */
function projected(d: Float64Array, m: number, n: number, Ut: Float64Array, V: Float64Array, K: number, ks: number[]): { energy: number[]; UtD: Float64Array } {
  const kmax = ks[ks.length - 1];
  const Dt = transpose(d, m, n); // n×m
  const UtD = new Float64Array(kmax * n); // Uᵀ D
  for (let c = 0; c < kmax; c++) for (let j = 0; j < n; j++) UtD[c * n + j] = dot(Ut, c * m, Dt, j * m, m);
  const block = new Float64Array(kmax * kmax); // Uᵀ D V
  for (let c = 0; c < kmax; c++) for (let j = 0; j < n; j++) {
    const x = UtD[c * n + j];
    if (x !== 0) for (let e = 0; e < kmax; e++) block[c * kmax + e] += x * V[j * K + e];
  }
  const energy = ks.map((k) => {
    let s = 0;
    for (let c = 0; c < k; c++) for (let e = 0; e < k; e++) s += block[c * kmax + e] ** 2;
    return s;
  });
  return { energy, UtD };
}

/** exp of the entropy of σ/Σσ: 1 for a rank-1 update, min(m, n) for a flat spectrum. */
export function effectiveRank(sv: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < sv.length; i++) total += sv[i];
  if (!(total > 0)) return 0;
  let h = 0;
  for (let i = 0; i < sv.length; i++) {
    const p = sv[i] / total;
    if (p > 0) h -= p * Math.log(p);
  }
  return Math.exp(h);
}

/** Largest principal angle (degrees) between the column spans of A and B (m×k, orthonormal columns,
 * row-major with row stride K): acos of the smallest singular value of AᵀB. */
export function largestAngle(A: Float64Array, B: Float64Array, m: number, K: number, k: number): number {
  const c = new Float64Array(k * k);
  for (let r = 0; r < m; r++) for (let i = 0; i < k; i++) {
    const a = A[r * K + i];
    if (a !== 0) for (let j = 0; j < k; j++) c[i * k + j] += a * B[r * K + j];
  }
  return angleOf(c, k);
}

/** acos (degrees) of the smallest singular value of the k×k matrix c (a cosine matrix AᵀB). */
function angleOf(c: Float64Array, k: number): number {
  const s = svd(c, k, k).S;
  return (Math.acos(Math.min(1, Math.max(-1, s[k - 1]))) * 180) / Math.PI;
}

interface Base { name: string; m: number; n: number; w0: Float32Array; U: Float64Array; V: Float64Array; K: number; ks: number[]; Ut: Float64Array; S: Float64Array }

/** One adapted layer as the probe sees it: its HF name, shape, the ks measured and W_0. */
export interface LayerSpec { name: string; m: number; n: number; ks: number[]; w0: Float32Array }

/** The measurement itself, on whichever thread holds it: each layer's base (W_0's SVD) taken once, then
 * the statistics of any W_now (`now[i]` for `specs[i]`). Plain float64 loops: the same bits on every
 * thread and runtime. */
export class SpectralMath {
  private readonly bases: Base[];
  constructor(specs: LayerSpec[]) {
    this.bases = specs.map((s) => baseOf(s.name, s.w0, s.m, s.n, s.ks));
  }

  measure(now: Float32Array[]): SpectralLayer[] {
    return this.bases.map((b, i) => measure(b, now[i]));
  }
}

/** Where a probe's records are measured when not on its own thread: W_0's specs once, then W_now per
 * record, results in order (SpectralThread in spectral-thread.ts is one). */
export interface MeasuringThread {
  init(layers: LayerSpec[]): void;
  measure(now: Float32Array[]): Promise<{ layers: SpectralLayer[]; seconds: number }>;
  close(): void;
}

export class SpectralProbe {
  private math: SpectralMath | null = null;
  private warned = false;
  private constructor(private readonly inst: PeftInstance, private readonly specs: LayerSpec[], readonly fractions: number[],
    private readonly internals: InternalsProbe | null, private thread: MeasuringThread | null) {}

  /** Takes W_0 (the merged weights now, before training) per 2-D adapted layer and the method's
   * internal tensors as they start (InternalsProbe). With a `thread` (spectral-thread.ts), W_0's SVDs
   * and every record's measurement run there, off the training loop's thread; without one, here. */
  static async create(inst: PeftInstance, cfg: ModelConfig, opts: { fractions?: number[]; thread?: MeasuringThread | null } = {}): Promise<SpectralProbe> {
    const fractions = opts.fractions ?? SPECTRAL_FRACTIONS;
    const shapes = paramShapes(cfg);
    const specs: LayerSpec[] = [];
    for (const [name, w0] of await inst.merged()) {
      const shape = shapes.get(name);
      if (!shape || shape.length !== 2 || name.includes('embed_tokens') || name.startsWith('lm_head')) continue;
      const [m, n] = shape;
      const ks = [...new Set(fractions.map((f) => Math.max(1, Math.round(f * Math.min(m, n)))))].sort((a, b) => a - b);
      specs.push({ name, m, n, ks, w0: Float32Array.from(w0) });
    }
    const thread = opts.thread ?? null;
    if (thread && !specs.length) thread.close(); // nothing to measure there
    const probe = new SpectralProbe(inst, specs, fractions, await InternalsProbe.create(inst), specs.length ? thread : null);
    if (probe.thread) probe.thread.init(specs);
    else if (specs.length) probe.math = new SpectralMath(specs);
    return probe;
  }

  get layerCount(): number {
    return this.specs.length;
  }

  /** Whether records are measured on another thread. */
  get offThread(): boolean {
    return this.thread !== null;
  }

  /** False for a method with neither an adapted weight matrix nor internals (LN tuning trains norm
   * vectors only): its records would be empty, so callers write none. */
  get measures(): boolean {
    return this.specs.length > 0 || this.internals !== null;
  }

  /** Reads W_now and the method's internals at `step` (the part a training loop waits for; it must
   * not change the weights before this resolves) and starts the measurement: on the probe's thread
   * when it has one, so `record` settles later, while training goes on. Records settle in the order
   * they were captured. */
  async capture(step: number): Promise<{ record: Promise<SpectralRecord> }> {
    const t0 = performance.now();
    const merged = await this.inst.merged();
    const now = this.specs.map((s) => merged.get(s.name)!);
    const t1 = performance.now();
    const internals = this.internals ? await this.internals.record(step) : null;
    const t2 = performance.now();
    const assemble = (layers: SpectralLayer[], measureSeconds: number, offThread: boolean): SpectralRecord => {
      const moved = layers.filter((l) => l.norm > 0);
      const avg = (f: (l: SpectralLayer) => number) => (moved.length ? moved.reduce((s, l) => s + f(l), 0) / moved.length : Number.NaN);
      const nk = layers[0]?.ks.length ?? 0;
      const read = (t2 - t0) / 1000;
      return {
        type: 'spectral', step, fractions: this.fractions, layers,
        mean: { share: Array.from({ length: nk }, (_, i) => avg((l) => l.share[i])), random: Array.from({ length: nk }, (_, i) => avg((l) => l.random[i])), effRank: avg((l) => l.effRank) },
        ...(internals ? { internals, internalsSeconds: (t2 - t1) / 1000 } : {}),
        seconds: read + measureSeconds, waitSeconds: offThread ? read : read + measureSeconds, offThread,
      };
    };
    const here = (): SpectralRecord => {
      const t = performance.now();
      this.math ??= new SpectralMath(this.specs);
      const layers = this.math.measure(now);
      return assemble(layers, (performance.now() - t) / 1000, false);
    };
    if (!this.thread) return { record: Promise.resolve(here()) };
    const thread = this.thread;
    const record = thread.measure(now).then(({ layers, seconds }) => assemble(layers, seconds, true), (e: unknown) => {
      // The thread failed (it could not start, or died): measure here from now on, this record too.
      if (this.thread === thread) {
        this.thread = null;
        thread.close();
      }
      if (!this.warned) console.warn(`spectral: the measuring thread failed (${e instanceof Error ? e.message : String(e)}); measuring on the training thread from now on`);
      this.warned = true;
      return here();
    });
    return { record };
  }

  /** capture(step) and its record. */
  async record(step: number): Promise<SpectralRecord> {
    return (await this.capture(step)).record;
  }

  /** Ends the probe's thread (pending records are dropped). */
  close(): void {
    this.thread?.close();
    this.thread = null;
  }
}

/** One layer's statistics for W_now against its base. */
export function measure(b: Base, wNow: Float32Array): SpectralLayer {
  const { m, n, ks, K } = b;
  const d = new Float64Array(m * n);
  let e2 = 0;
  for (let i = 0; i < d.length; i++) {
    d[i] = wNow[i] - b.w0[i];
    e2 += d[i] * d[i];
  }
  const random = ks.map((k) => (k * k) / (m * n));
  if (e2 === 0) return { name: b.name, m, n, ks, norm: 0, share: ks.map(() => Number.NaN), random, sv: [], effRank: 0, angle: ks.map(() => 0) };
  const { energy, UtD } = projected(d, m, n, b.Ut, b.V, K, ks);
  const sv = gramEigen(d, m, n, 0).S;
  // Principal angles: the cosines U₀ᵀ U_now, K×K. For m > n the Gram gives V_now, and
  // U₀ᵀ U_now = U₀ᵀ W_now V_now / σ = (Σ₀ V₀ᵀ + U₀ᵀ ΔW) V_now / σ (U₀ᵀ W₀ = Σ₀ V₀ᵀ), from the
  // U₀ᵀ ΔW the share already took: no m×n×K product for U_now.
  const now = gramEigen(wNow, m, n, K);
  const cos = new Float64Array(K * K);
  if (m <= n) {
    for (let r = 0; r < m; r++) for (let i = 0; i < K; i++) {
      const a = b.U[r * K + i];
      if (a !== 0) for (let j = 0; j < K; j++) cos[i * K + j] += a * now.Z[r * K + j];
    }
  } else {
    for (let i = 0; i < K; i++) for (let c = 0; c < n; c++) {
      const x = b.S[i] * b.V[c * K + i] + UtD[i * n + c];
      if (x !== 0) for (let j = 0; j < K; j++) cos[i * K + j] += x * now.Z[c * K + j];
    }
    for (let j = 0; j < K; j++) {
      const inv = 1 / (now.S[j] > 0 ? now.S[j] : 1);
      for (let i = 0; i < K; i++) cos[i * K + j] *= inv;
    }
  }
  const lead = (k: number) => {
    const c = new Float64Array(k * k);
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) c[i * k + j] = cos[i * K + j];
    return c;
  };
  return {
    name: b.name, m, n, ks, norm: Math.sqrt(e2), share: energy.map((x) => x / e2), random, sv: Array.from(sv.slice(0, 8)), effRank: effectiveRank(sv),
    angle: ks.map((k) => angleOf(lead(k), k)),
  };
}

/** A layer's base: W_0 and its top-K singular vectors and values, K the largest k. */
export function baseOf(name: string, w0: Float32Array, m: number, n: number, ks: number[]): Base {
  const K = ks[ks.length - 1];
  const d = svd(w0, m, n);
  const U = new Float64Array(m * K), V = new Float64Array(n * K);
  for (let r = 0; r < m; r++) for (let c = 0; c < K; c++) U[r * K + c] = d.U[r * d.k + c];
  for (let r = 0; r < n; r++) for (let c = 0; c < K; c++) V[r * K + c] = d.V[r * d.k + c];
  return { name, m, n, w0: Float32Array.from(w0), U, V, K, ks, Ut: transpose(U, m, K), S: d.S.slice(0, K) };
}
