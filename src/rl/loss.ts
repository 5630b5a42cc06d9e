// The clipped policy-gradient objective of GRPO / DAPO / Dr. GRPO and its gradient with
// respect to the per-token log-probs (METHODS.md, "RL algorithms"; TRL GRPOTrainer._compute_loss).
//
// Division of labour: the model computes log π_θ(token) on the GPU and reads back one float
// per token; this file computes the scalar loss and d loss / d logp per token in float64 on
// the CPU; the engine then backpropagates dlogp through its log-softmax. Because the objective
// depends on θ only through logp, that chain rule is exact.
//
// Per completion token t of sequence s (mask on), with Â = advantages[s]:
//   ρ      = exp(logp − oldLogp)
//   pol_t  = −min(ρÂ, clip(ρ, 1 − ε_low, 1 + ε_high)·Â)
//   kl_t   = exp(ref − logp) − (ref − logp) − 1            (k3 estimator of KL(π_θ‖π_ref))
//   loss   = Σ_t w_t · (pol_t + β·kl_t)
// with the per-token weight w_t set by the aggregation (n_s = completion tokens of s,
// S = sequences in this mini-batch, N = Σ_s n_s, k = gradAccumSteps):
//   grpo    w = 1 / (S · max(n_s, 1) · k)        mean over sequences of each token-mean
//   bnpo    w = 1 / (max(N, 1) · k)              token-mean over the local mini-batch
//   dr_grpo w = 1 / (S · maxCompletionLength · k) constant normaliser, no length bias
//   dapo    w = 1 / max(numItemsInBatch ?? N, 1) token-mean over the global batch (no k)
// The 1/k and dapo's missing 1/k are TRL's: grpo/bnpo/dr_grpo losses are divided by the
// gradient-accumulation steps, while dapo's normaliser already counts every token of every
// accumulated micro-batch, so summing micro-batch gradients gives the global token mean.
//
// Gradient (d/dlogp, dρ/dlogp = ρ), replicating PyTorch autograd at the kinks:
//   • torch.clamp passes the gradient where 1−ε_low ≤ ρ ≤ 1+ε_high (bounds inclusive);
//   • torch.min of two tensors sends the gradient to the smaller one, half to each on a tie.
// Hence d pol/d logp = −Âρ except in the two clipped regions (ρ < 1−ε_low with Â < 0, and
// ρ > 1+ε_high with Â > 0), where it is 0. A tie happens when ρ lies inside the clip range
// (then both halves carry −Âρ/2: full gradient) or Â = 0 (zero anyway). In particular ρ = 1,
// the first update after a rollout, gives the plain policy gradient −Â·w_t.
//   d kl/d logp = 1 − exp(ref − logp).

export type LossType = 'grpo' | 'bnpo' | 'dapo' | 'dr_grpo';
export type LogpArray = Float32Array | Float64Array;

export interface PolicyLossInput {
  /** Sequences (rows) in this mini-batch. */
  numSeqs: number;
  /**
   * Token → sequence layout, one of: `seqLen` for padded rows (token i belongs to sequence
   * floor(i / seqLen), arrays of length numSeqs·seqLen), or `seqIds` (one sequence index per
   * token, for packed rows). Only the mask decides which tokens count.
   */
  seqLen?: number;
  seqIds?: Int32Array | Uint32Array | Uint16Array;
  /** log π_θ per token, the values the gradient is taken with respect to. */
  logp: LogpArray;
  /** log π_old per token (sampling policy). Omitted: equal to logp (ρ ≡ 1), as TRL does with one update per rollout. */
  oldLogp?: LogpArray;
  /** log π_ref per token; required when beta ≠ 0, used for the KL statistic whenever given. */
  refLogp?: LogpArray;
  /** Completion-token mask: nonzero = token counts (prompt and padding are 0). Off-mask values are never read. */
  mask: ArrayLike<number>;
  /** Â per sequence (length numSeqs), broadcast to every token of the sequence. */
  advantages: ArrayLike<number>;
}

export interface PolicyLossConfig {
  lossType: LossType;
  /** Lower clip: ρ is clipped below at 1 − epsLow (TRL `epsilon`). */
  epsLow: number;
  /** Upper clip: ρ is clipped above at 1 + epsHigh (TRL `epsilon_high`; DAPO clip-higher 0.28). */
  epsHigh: number;
  /** KL coefficient β (0: no KL term; the study's setting). */
  beta: number;
  /** dr_grpo's constant per-sequence normaliser (TRL `max_completion_length`); required for dr_grpo. */
  maxCompletionLength?: number;
  /**
   * dapo only: completion tokens (mask count) of the whole batch whose gradients this
   * mini-batch's gradient is summed with — TRL's `num_items_in_batch`, i.e. the token count of
   * the entire generation batch (all micro-batches, all processes). Defaults to this
   * mini-batch's own count, which makes dapo equal bnpo. NB: TRL counts the whole *generation*
   * batch, so when a rollout feeds several optimizer steps each step's loss is its token sum
   * over the rollout's token count; pass the optimizer step's count to normalise per step.
   */
  numItemsInBatch?: number;
  /** Micro-batches accumulated per optimizer step; grpo/bnpo/dr_grpo losses are divided by it (TRL). Default 1. */
  gradAccumSteps?: number;
}

export interface PolicyLossStats {
  numSeqs: number;
  /** Completion tokens counted (mask on) in this mini-batch. */
  numTokens: number;
  /** Sequences with Â = 0 (e.g. from zero-variance groups): their policy gradient is exactly 0. */
  zeroAdvantageSeqs: number;
  /** The policy part and the β·KL part of `loss`, aggregated alike: loss = policyTerm + klTerm. */
  policyTerm: number;
  klTerm: number;
  /** Token-mean of k3 KL over counted tokens (TRL metric `kl`); null without refLogp. */
  klMean: number | null;
  /** TRL clip_ratio/low_mean: fraction of counted tokens with ρ < 1−ε_low and Â < 0 (gradient 0). */
  clipFracLow: number;
  /** TRL clip_ratio/high_mean: fraction with ρ > 1+ε_high and Â > 0 (gradient 0). */
  clipFracHigh: number;
  /** Counts behind the fractions, so callers can pool them across mini-batches exactly. */
  clipCountLow: number;
  clipCountHigh: number;
  ratioMean: number;
  ratioMin: number;
  ratioMax: number;
}

export interface PolicyLossResult<D extends LogpArray> {
  loss: number;
  /** d loss / d logp per token (0 off-mask), same layout as logp. */
  dlogp: D;
  stats: PolicyLossStats;
}

const LOSS_TYPES: readonly LossType[] = ['grpo', 'bnpo', 'dapo', 'dr_grpo'];

/** Completion tokens in a mask (nonzero entries): what to sum across mini-batches for numItemsInBatch. */
export function maskedTokenCount(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) n++;
  return n;
}

/** Sequence index per token, validated against the declared layout. */
function sequenceOf(input: PolicyLossInput): ArrayLike<number> {
  const n = input.logp.length;
  if (input.seqIds !== undefined) {
    if (input.seqIds.length !== n) throw new RangeError(`seqIds has ${input.seqIds.length} entries for ${n} tokens`);
    for (let i = 0; i < n; i++) {
      const id = input.seqIds[i];
      if (input.mask[i] !== 0 && !(id >= 0 && id < input.numSeqs)) throw new RangeError(`seqIds[${i}] = ${id} is not a sequence index`);
    }
    return input.seqIds;
  }
  const len = input.seqLen;
  if (len === undefined || !Number.isInteger(len) || len < 1) throw new RangeError('give seqIds or a positive integer seqLen');
  if (n !== input.numSeqs * len) throw new RangeError(`${n} tokens ≠ numSeqs ${input.numSeqs} × seqLen ${len}`);
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = Math.floor(i / len);
  return ids;
}

function validate(input: PolicyLossInput, cfg: PolicyLossConfig): void {
  const n = input.logp.length;
  if (!LOSS_TYPES.includes(cfg.lossType)) throw new RangeError(`unknown lossType ${String(cfg.lossType)}`);
  if (!Number.isInteger(input.numSeqs) || input.numSeqs < 1) throw new RangeError(`numSeqs must be a positive integer, got ${input.numSeqs}`);
  if (input.advantages.length !== input.numSeqs) throw new RangeError(`${input.advantages.length} advantages for ${input.numSeqs} sequences`);
  for (const [name, arr] of [['mask', input.mask], ['oldLogp', input.oldLogp], ['refLogp', input.refLogp]] as const) {
    if (arr !== undefined && arr.length !== n) throw new RangeError(`${name} has ${arr.length} entries, logp has ${n}`);
  }
  if (!(cfg.epsLow >= 0 && cfg.epsLow < 1)) throw new RangeError(`epsLow must be in [0, 1), got ${cfg.epsLow}`);
  if (!(cfg.epsHigh >= 0) || !Number.isFinite(cfg.epsHigh)) throw new RangeError(`epsHigh must be ≥ 0, got ${cfg.epsHigh}`);
  if (!(cfg.beta >= 0) || !Number.isFinite(cfg.beta)) throw new RangeError(`beta must be ≥ 0, got ${cfg.beta}`);
  if (cfg.beta !== 0 && input.refLogp === undefined) throw new RangeError('beta ≠ 0 needs refLogp');
  const k = cfg.gradAccumSteps ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`gradAccumSteps must be a positive integer, got ${k}`);
  if (cfg.lossType === 'dr_grpo' && !(cfg.maxCompletionLength !== undefined && cfg.maxCompletionLength > 0)) {
    throw new RangeError('dr_grpo needs maxCompletionLength > 0');
  }
  for (let s = 0; s < input.numSeqs; s++) {
    if (!Number.isFinite(input.advantages[s])) throw new RangeError(`advantages[${s}] is not finite`);
  }
}

/**
 * Loss and gradient computed in float64, dlogp returned as Float64Array (for finite-difference
 * checks and CPU callers). See the file header for every formula.
 */
export function policyLossF64(input: PolicyLossInput, cfg: PolicyLossConfig): PolicyLossResult<Float64Array> {
  validate(input, cfg);
  const { logp, oldLogp, refLogp, mask, advantages, numSeqs } = input;
  const seqOf = sequenceOf(input);
  const n = logp.length;

  // Tokens per sequence (grpo's per-sequence mean) and in total (bnpo, dapo default).
  const seqTokens = new Float64Array(numSeqs);
  for (let i = 0; i < n; i++) if (mask[i] !== 0) seqTokens[seqOf[i]] += 1;
  let numTokens = 0;
  for (let s = 0; s < numSeqs; s++) numTokens += seqTokens[s];
  if (cfg.numItemsInBatch !== undefined && !(cfg.numItemsInBatch >= numTokens)) {
    // A global count below the local one can only be a bookkeeping bug upstream.
    throw new RangeError(`numItemsInBatch ${cfg.numItemsInBatch} < this mini-batch's ${numTokens} tokens`);
  }

  // Per-token weight w_t; only grpo depends on the sequence, so keep one factor per sequence.
  const k = cfg.gradAccumSteps ?? 1;
  const seqWeight = new Float64Array(numSeqs);
  for (let s = 0; s < numSeqs; s++) {
    switch (cfg.lossType) {
      case 'grpo': seqWeight[s] = 1 / (numSeqs * Math.max(seqTokens[s], 1) * k); break;
      case 'bnpo': seqWeight[s] = 1 / (Math.max(numTokens, 1) * k); break;
      case 'dr_grpo': seqWeight[s] = 1 / (numSeqs * (cfg.maxCompletionLength ?? 1) * k); break;
      case 'dapo': seqWeight[s] = 1 / Math.max(cfg.numItemsInBatch ?? numTokens, 1); break;
    }
  }

  const lo = 1 - cfg.epsLow;
  const hi = 1 + cfg.epsHigh;
  const dlogp = new Float64Array(n);
  let policyTerm = 0, klTerm = 0, klSum = 0;
  let clipLow = 0, clipHigh = 0, ratioSum = 0, ratioMin = Infinity, ratioMax = -Infinity;
  for (let i = 0; i < n; i++) {
    if (mask[i] === 0) continue;
    const s = seqOf[i];
    const a = advantages[s];
    const w = seqWeight[s];
    const lp = logp[i];
    const old = oldLogp === undefined ? lp : oldLogp[i];
    if (!Number.isFinite(lp) || !Number.isFinite(old)) throw new RangeError(`non-finite log-prob at token ${i}: logp=${lp} old=${old}`);

    const rho = Math.exp(lp - old);
    const inside = rho >= lo && rho <= hi; // torch.clamp's gradient mask (inclusive)
    const clipped = inside ? rho : rho < lo ? lo : hi;
    const t1 = rho * a;
    const t2 = clipped * a;
    // d(min(t1, t2))/dlogp as autograd does it: the smaller branch, half each on a tie.
    const g1 = a * rho; // d t1 / d logp
    const g2 = inside ? a * rho : 0; // d t2 / d logp
    const dmin = t1 < t2 ? g1 : t1 > t2 ? g2 : 0.5 * (g1 + g2);
    policyTerm += w * -Math.min(t1, t2);
    let g = -dmin;

    if (refLogp !== undefined) {
      const d = refLogp[i] - lp;
      if (!Number.isFinite(d)) throw new RangeError(`non-finite refLogp at token ${i}`);
      const ed = Math.exp(d);
      const kl = ed - d - 1;
      klSum += kl;
      if (cfg.beta !== 0) {
        klTerm += w * cfg.beta * kl;
        g += cfg.beta * (1 - ed); // d kl / d logp = −e^d + 1
      }
    }
    dlogp[i] = w * g;

    if (rho < lo && a < 0) clipLow++;
    if (rho > hi && a > 0) clipHigh++;
    ratioSum += rho;
    ratioMin = Math.min(ratioMin, rho);
    ratioMax = Math.max(ratioMax, rho);
  }

  let zeroAdvantageSeqs = 0;
  for (let s = 0; s < numSeqs; s++) if (advantages[s] === 0) zeroAdvantageSeqs++;
  const perToken = (x: number): number => (numTokens > 0 ? x / numTokens : 0);
  return {
    loss: policyTerm + klTerm,
    dlogp,
    stats: {
      numSeqs,
      numTokens,
      zeroAdvantageSeqs,
      policyTerm,
      klTerm,
      klMean: refLogp === undefined ? null : perToken(klSum),
      clipFracLow: perToken(clipLow),
      clipFracHigh: perToken(clipHigh),
      clipCountLow: clipLow,
      clipCountHigh: clipHigh,
      ratioMean: perToken(ratioSum),
      ratioMin: numTokens > 0 ? ratioMin : 1,
      ratioMax: numTokens > 0 ? ratioMax : 1,
    },
  };
}

/** The engine-facing form: same float64 math, dlogp narrowed to a Float32Array for upload. */
export function policyLoss(input: PolicyLossInput, cfg: PolicyLossConfig): PolicyLossResult<Float32Array> {
  const r = policyLossF64(input, cfg);
  return { loss: r.loss, dlogp: Float32Array.from(r.dlogp), stats: r.stats };
}
