// CPU reference: drawing one token per row with temperature and top-p (nucleus) truncation.
// Written from the op definition in ../backend.ts, independently of the WGSL kernel: float64
// throughout, the top-p threshold found by sorting (the kernel bisects on bit patterns instead).
//
// For row b of logits (B,V):
//   p_v      = softmax(logits[b] / temperature)_v                  (the full tempered distribution)
//   τ        = the largest threshold whose kept mass Σ_{p_v ≥ τ} p_v is ≥ topP; with p sorted
//              descending, τ = p_(k) for the smallest k whose prefix sum reaches topP. Every token
//              with p_v ≥ τ is kept, ties at τ included. topP ≥ 1 keeps every token.
//   u        = (pcg(b ^ pcg(seed)) >>> 8) / 2²⁴                     (pcg: the dropout hash, peft.ref.ts)
//   id       = the first v in index order, among kept tokens, whose running kept mass exceeds u · M,
//              M = the kept mass
//   logp     = log p_id                                             (under the full tempered p)
//   entropy  = −Σ_v p_v log p_v                                      (of the full tempered p)
import { pcgHash } from './peft.ref.ts';

type F = Float32Array | Float64Array;

/** The uniform draw of row b: a 24-bit integer from the counter hash, divided by 2²⁴, in [0, 1). */
export function sampleUniform(seed: number, b: number): number {
  return (pcgHash((b ^ pcgHash(seed >>> 0)) >>> 0) >>> 8) / 16777216;
}

/** The tempered distribution of one row: p (float64, sums to 1), its log (exact to float64, no
 * log of a rounded p) and entropy. */
export function temperedSoftmax(row: ArrayLike<number>, temperature: number): { p: Float64Array; logp: Float64Array; entropy: number } {
  const V = row.length;
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, row[v] / temperature);
  let z = 0;
  for (let v = 0; v < V; v++) z += Math.exp(row[v] / temperature - max);
  const logZ = Math.log(z);
  const p = new Float64Array(V), logp = new Float64Array(V);
  let entropy = 0;
  for (let v = 0; v < V; v++) {
    logp[v] = row[v] / temperature - max - logZ;
    p[v] = Math.exp(logp[v]);
    if (p[v] > 0) entropy -= p[v] * logp[v];
  }
  return { p, logp, entropy };
}

/** The top-p threshold τ of a distribution p: sort descending, τ = p_(k) for the smallest k with
 * p_(1) + … + p_(k) ≥ topP. topP ≥ 1 (or a total that rounding left short of topP) gives τ = 0:
 * everything is kept. */
export function topPThreshold(p: ArrayLike<number>, topP: number): number {
  if (topP >= 1) return 0;
  const sorted = Float64Array.from(p).sort().reverse();
  let cum = 0;
  for (const q of sorted) {
    cum += q;
    if (cum >= topP) return q;
  }
  return 0;
}

/** Inverse CDF over the kept tokens in index order: the first kept v whose running kept mass exceeds
 * u · M. Rounding cannot leave it unfound in exact arithmetic; if it does, the last kept token. */
export function pickToken(p: ArrayLike<number>, tau: number, u: number): number {
  let mass = 0;
  for (let v = 0; v < p.length; v++) if (p[v] >= tau) mass += p[v];
  const target = u * mass;
  let cum = 0, last = -1;
  for (let v = 0; v < p.length; v++) {
    if (p[v] < tau) continue;
    cum += p[v];
    last = v;
    if (cum > target) return v;
  }
  return last;
}

/** The op (see the header): ids (B) i32; logp and entropy written at r·stride + offset only, where
 * r = rows[b] when a row map is given (Backend.TokenColumn.rows; also the draw's counter), else b. */
export function sample(ids: Int32Array, logp: F, entropy: F, logits: F, B: number, V: number, temperature: number, topP: number,
  seed: number, offset: number, stride: number, rows?: Int32Array): void {
  if (!(temperature > 0 && Number.isFinite(temperature))) throw new RangeError(`sample: temperature must be > 0, got ${temperature}`);
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`sample: topP must be in (0, 1], got ${topP}`);
  if (!(V >= 1)) throw new RangeError(`sample: V must be at least 1, got ${V}`);
  for (let b = 0; b < B; b++) {
    const d = temperedSoftmax(logits.subarray(b * V, (b + 1) * V), temperature);
    const r = rows ? rows[b] : b;
    const id = pickToken(d.p, topPThreshold(d.p, topP), sampleUniform(seed, r));
    ids[b] = id;
    logp[r * stride + offset] = d.logp[id];
    entropy[r * stride + offset] = d.entropy;
  }
}

/** The token column a decoding op also writes (Backend.TokenColumn): tokens[r·stride + offset] = ids[n]
 * for n < rows, r = map[n] when a row map is given, else n; every other entry of tokens is left as it was. */
export function writeColumn(tokens: Int32Array, ids: Int32Array, rows: number, offset: number, stride: number, map?: Int32Array): void {
  for (let n = 0; n < rows; n++) tokens[(map ? map[n] : n) * stride + offset] = ids[n];
}
