// Group-relative advantages and reward shaping for the RL step (METHODS.md, "RL algorithms").
//
// Pure float64 CPU math: rewards arrive per completion, G completions per prompt laid out
// contiguously (completion j of prompt g sits at index g·G + j, the order TRL's
// `repeat_interleave` produces). Nothing here touches the GPU.
//
// Formulas (checked against TRL's GRPOTrainer, sum_then_normalize path):
//   mean_g  = (1/G) Σ_j R_{g,j}
//   std_g   = sqrt( Σ_j (R_{g,j} − mean_g)² / (G − 1) )      unbiased (Bessel), 0 when G = 1
//   std_b   = same unbiased std over all B rewards of the batch, 0 when B = 1
//   Â_{g,j} = R_{g,j} − mean_g                                 scaleRewards 'none' (Dr. GRPO)
//   Â_{g,j} = (R_{g,j} − mean_g) / (std_g + 1e-4)              scaleRewards 'group' (GRPO)
//   Â_{g,j} = (R_{g,j} − mean_g) / (std_b + 1e-4)              scaleRewards 'batch' (centred per group,
//                                                              scaled by the whole batch's std)
// The epsilon is added to the std, outside the square root, exactly where TRL puts it
// (`advantages / (std_rewards + 1e-4)`), not inside as sqrt(var + eps).

export type ScaleRewards = 'group' | 'batch' | 'none';

/** Added to the std before dividing (TRL's placement: Â = (R − mean)/(std + STD_EPS)). */
export const STD_EPS = 1e-4;

export interface GroupAdvantages {
  /** Â per completion (length B). Exactly 0 for every completion of a zero-variance group. */
  advantages: Float64Array;
  /** Mean reward of each group (length B/G). */
  groupMean: Float64Array;
  /** Unbiased std of each group (length B/G); 0 when G = 1. Reported whatever scaleRewards is. */
  groupStd: Float64Array;
  /** Unbiased std over the whole batch; 0 when B = 1. */
  batchStd: number;
  /** 1 where every reward of the group is identical (no learning signal); see zeroVarianceGroups. */
  zeroVariance: Uint8Array;
  numGroups: number;
}

function checkFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new RangeError(`${what}[${i}] is not finite: ${values[i]}`);
  }
}

function checkGroups(n: number, groupSize: number): number {
  if (!Number.isInteger(groupSize) || groupSize < 1) throw new RangeError(`groupSize must be a positive integer, got ${groupSize}`);
  if (n % groupSize !== 0) throw new RangeError(`${n} rewards do not split into groups of ${groupSize}`);
  return n / groupSize;
}

/** Unbiased (n − 1) standard deviation of xs[start, end), two-pass in float64; 0 when fewer than 2 values. */
export function unbiasedStd(xs: ArrayLike<number>, start = 0, end = xs.length): number {
  const n = end - start;
  if (n < 2) return 0; // TRL returns 0 for a single generation (group) or a single reward (batch)
  let sum = 0;
  for (let i = start; i < end; i++) sum += xs[i];
  const mean = sum / n;
  let ss = 0;
  for (let i = start; i < end; i++) ss += (xs[i] - mean) * (xs[i] - mean);
  return Math.sqrt(ss / (n - 1));
}

/**
 * Groups whose values are all equal (max − min ≤ tol): with a shared baseline their advantages
 * are all zero, so they carry no gradient. DAPO's dynamic sampling drops them and samples more
 * prompts. Pass whichever per-completion metric the filter should use (DAPO filters on
 * accuracy; filtering on the shaped reward keeps groups that differ only by length penalty).
 * Equality is exact by default: TRL's logging test `isclose(std, 0)` (std ≤ 1e-8) agrees on
 * any realistic reward, and exact comparison cannot be fooled by rounding in the mean.
 */
export function zeroVarianceGroups(values: ArrayLike<number>, groupSize: number, tol = 0): Uint8Array {
  const numGroups = checkGroups(values.length, groupSize);
  checkFinite(values, 'values');
  const flags = new Uint8Array(numGroups);
  for (let g = 0; g < numGroups; g++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = g * groupSize; j < (g + 1) * groupSize; j++) {
      lo = Math.min(lo, values[j]);
      hi = Math.max(hi, values[j]);
    }
    flags[g] = hi - lo <= tol ? 1 : 0;
  }
  return flags;
}

/** Advantages from rewards, G = groupSize completions per prompt (formulas at the top of the file). */
export function groupAdvantages(rewards: ArrayLike<number>, groupSize: number, scaleRewards: ScaleRewards): GroupAdvantages {
  const numGroups = checkGroups(rewards.length, groupSize);
  checkFinite(rewards, 'rewards');
  // Configs arrive as JSON, so a typo must fail loudly rather than silently mean 'batch'.
  if (scaleRewards !== 'group' && scaleRewards !== 'batch' && scaleRewards !== 'none') {
    throw new RangeError(`scaleRewards must be 'group', 'batch' or 'none', got ${String(scaleRewards)}`);
  }
  const zeroVariance = zeroVarianceGroups(rewards, groupSize);
  const groupMean = new Float64Array(numGroups);
  const groupStd = new Float64Array(numGroups);
  for (let g = 0; g < numGroups; g++) {
    const start = g * groupSize;
    let sum = 0;
    for (let j = start; j < start + groupSize; j++) sum += rewards[j];
    groupMean[g] = sum / groupSize;
    groupStd[g] = unbiasedStd(rewards, start, start + groupSize);
  }
  const batchStd = unbiasedStd(rewards);
  const advantages = new Float64Array(rewards.length);
  for (let g = 0; g < numGroups; g++) {
    // Identical rewards: the mean of G copies of x can round to x ± 1 ulp (e.g. 0.1 × 3), and
    // dividing that residue by 1e-4 would hand out a tiny spurious advantage. Pin it to 0.
    if (zeroVariance[g]) continue;
    const std = scaleRewards === 'group' ? groupStd[g] : batchStd;
    const denom = scaleRewards === 'none' ? 1 : std + STD_EPS;
    for (let j = g * groupSize; j < (g + 1) * groupSize; j++) advantages[j] = (rewards[j] - groupMean[g]) / denom;
  }
  return { advantages, groupMean, groupStd, batchStd, zeroVariance, numGroups };
}

/**
 * DAPO soft overlong punishment (DAPO eq. 13; TRL `get_soft_overlong_punishment`), for a
 * completion of `length` tokens (the same tokens the loss mask counts), L = maxLen, C = cacheLen:
 *   0                        if length ≤ L − C
 *   ((L − C) − length) / C   if L − C < length ≤ L     (linear from 0 to exactly −1 at length = L)
 *   −1                       if length > L
 * cacheLen = 0 degenerates to a step: 0 up to L, −1 beyond. With generation capped at L
 * tokens the last branch never fires, and the ramp is the whole effect.
 */
export function overlongPenalty(length: number, maxLen: number, cacheLen: number): number {
  if (!Number.isFinite(length) || length < 0) throw new RangeError(`length must be ≥ 0, got ${length}`);
  if (!(maxLen > 0) || !(cacheLen >= 0) || cacheLen > maxLen) {
    throw new RangeError(`need 0 ≤ cacheLen ≤ maxLen and maxLen > 0, got maxLen=${maxLen} cacheLen=${cacheLen}`);
  }
  const start = maxLen - cacheLen;
  if (length <= start) return 0;
  if (length <= maxLen) return (start - length) / cacheLen; // cacheLen > 0 here, since start < length ≤ maxLen
  return -1;
}

/**
 * Rewards plus the overlong penalty: R'_i = R_i + factor · overlongPenalty(len_i, L, C).
 * `factor` mirrors verl's overlong_penalty_factor (DAPO uses 1). Apply before groupAdvantages.
 */
export function applyOverlongShaping(
  rewards: ArrayLike<number>,
  lengths: ArrayLike<number>,
  maxLen: number,
  cacheLen: number,
  factor = 1,
): Float64Array {
  if (rewards.length !== lengths.length) throw new RangeError(`${rewards.length} rewards but ${lengths.length} lengths`);
  checkFinite(rewards, 'rewards');
  const out = new Float64Array(rewards.length);
  for (let i = 0; i < rewards.length; i++) out[i] = rewards[i] + factor * overlongPenalty(lengths[i], maxLen, cacheLen);
  return out;
}
