import { describe, it, expect } from 'vitest';
import { rng } from '../engine/ref/testutil.ts';
import { policyLoss, policyLossF64, maskedTokenCount, type LossType, type PolicyLossConfig, type PolicyLossInput } from './loss.ts';

const LOSS_TYPES: LossType[] = ['grpo', 'bnpo', 'dapo', 'dr_grpo'];
const base: Omit<PolicyLossConfig, 'lossType'> = { epsLow: 0.2, epsHigh: 0.28, beta: 0 };

const close = (got: ArrayLike<number>, want: number[], digits = 12): void => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], digits);
};

/** Tokens whose log-ratio logp − old is ln ρ: logp is a fixed −1.3, old = logp − ln ρ. */
function withRatios(ratios: number[]): { logp: Float64Array; oldLogp: Float64Array } {
  const logp = new Float64Array(ratios.length).fill(-1.3);
  const oldLogp = logp.map((lp, i) => lp - Math.log(ratios[i]));
  return { logp, oldLogp };
}

// Two padded rows of 3: seq 0 has 3 completion tokens, seq 1 has 2 (last slot is padding).
// ρ = 1 (oldLogp omitted), Â = [+1, −1]; per-token policy term −Â: seq 0 → −1 ×3, seq 1 → +1 ×2.
const onPolicy: PolicyLossInput = {
  numSeqs: 2,
  seqLen: 3,
  logp: new Float64Array([-1, -2, -0.5, -1.5, -0.7, 0]),
  mask: new Uint8Array([1, 1, 1, 1, 1, 0]),
  advantages: [1, -1],
};

describe('aggregations at ρ = 1 (one update per rollout: plain policy gradient −Â·w)', () => {
  it('grpo: mean over sequences of each token-mean', () => {
    // seq means: −3/3 = −1 and +2/2 = +1 → loss (−1 + 1)/2 = 0
    // w = 1/(S·n_s): seq 0 1/(2·3) = 1/6, seq 1 1/(2·2) = 1/4 → dlogp = −Â·w
    const r = policyLossF64(onPolicy, { ...base, lossType: 'grpo' });
    expect(r.loss).toBeCloseTo(0, 15);
    close(r.dlogp, [-1 / 6, -1 / 6, -1 / 6, 1 / 4, 1 / 4, 0]);
    expect(r.stats.numTokens).toBe(5);
  });

  it('bnpo: token-mean over the local batch', () => {
    // Σ = −3 + 2 = −1, N = 5 → −0.2; w = 1/5
    const r = policyLossF64(onPolicy, { ...base, lossType: 'bnpo' });
    expect(r.loss).toBeCloseTo(-0.2, 15);
    close(r.dlogp, [-0.2, -0.2, -0.2, 0.2, 0.2, 0]);
  });

  it('dapo: sum over the global batch token count (numItemsInBatch), defaulting to local', () => {
    // numItemsInBatch = 10 (this mini-batch is half the tokens): −1/10; w = 1/10
    const r = policyLossF64(onPolicy, { ...base, lossType: 'dapo', numItemsInBatch: 10 });
    expect(r.loss).toBeCloseTo(-0.1, 15);
    close(r.dlogp, [-0.1, -0.1, -0.1, 0.1, 0.1, 0]);
    // default: the local 5 tokens → same as bnpo, −0.2
    expect(policyLossF64(onPolicy, { ...base, lossType: 'dapo' }).loss).toBeCloseTo(-0.2, 15);
    // a global count below the local one is a bookkeeping bug
    expect(() => policyLossF64(onPolicy, { ...base, lossType: 'dapo', numItemsInBatch: 4 })).toThrow(RangeError);
  });

  it('dapo over a rollout split in two mini-batches: each step divides by the rollout token count (TRL)', () => {
    // Mini-batch 1 = onPolicy (Σ pol = −1 over 5 tokens); mini-batch 2: one sequence, Â = +1, 3 tokens (Σ = −3).
    // Rollout: 8 tokens. dapo: −1/8 and −3/8, summing to the rollout's token mean −4/8; per-token w = 1/8.
    // bnpo (each step's own mean): −1/5 and −3/3 = −1, gradients 8/5 and 8/3 times larger.
    const second: PolicyLossInput = { numSeqs: 1, seqLen: 3, logp: new Float64Array([-0.3, -0.9, -1.1]), mask: new Uint8Array([1, 1, 1]), advantages: [1] };
    const N = maskedTokenCount(onPolicy.mask) + maskedTokenCount(second.mask);
    expect(N).toBe(8);
    const d1 = policyLossF64(onPolicy, { ...base, lossType: 'dapo', numItemsInBatch: N });
    const d2 = policyLossF64(second, { ...base, lossType: 'dapo', numItemsInBatch: N });
    expect(d1.loss).toBeCloseTo(-1 / 8, 15);
    expect(d2.loss).toBeCloseTo(-3 / 8, 15);
    expect(d1.loss + d2.loss).toBeCloseTo(-0.5, 15);
    close(d1.dlogp, [-1 / 8, -1 / 8, -1 / 8, 1 / 8, 1 / 8, 0]);
    close(d2.dlogp, [-1 / 8, -1 / 8, -1 / 8]);
    expect(policyLossF64(onPolicy, { ...base, lossType: 'bnpo' }).loss).toBeCloseTo(-1 / 5, 15);
    expect(policyLossF64(second, { ...base, lossType: 'bnpo' }).loss).toBeCloseTo(-1, 15);
  });

  it('dr_grpo: sum / (S · maxCompletionLength)', () => {
    // −1 / (2·4) = −0.125; w = 1/8
    const r = policyLossF64(onPolicy, { ...base, lossType: 'dr_grpo', maxCompletionLength: 4 });
    expect(r.loss).toBeCloseTo(-0.125, 15);
    close(r.dlogp, [-0.125, -0.125, -0.125, 0.125, 0.125, 0]);
    expect(() => policyLossF64(onPolicy, { ...base, lossType: 'dr_grpo' })).toThrow(RangeError);
  });

  it('gradAccumSteps divides grpo/bnpo/dr_grpo (TRL) but not dapo', () => {
    // bnpo −0.2/2 = −0.1; dr_grpo −0.125/2 = −0.0625; dapo stays −1/10
    expect(policyLossF64(onPolicy, { ...base, lossType: 'bnpo', gradAccumSteps: 2 }).loss).toBeCloseTo(-0.1, 15);
    expect(policyLossF64(onPolicy, { ...base, lossType: 'dr_grpo', maxCompletionLength: 4, gradAccumSteps: 2 }).loss).toBeCloseTo(-0.0625, 15);
    expect(policyLossF64(onPolicy, { ...base, lossType: 'dapo', numItemsInBatch: 10, gradAccumSteps: 2 }).loss).toBeCloseTo(-0.1, 15);
  });
});

describe('clipping', () => {
  // seq 0 Â = +1, ρ = [1.5, 0.5, 1.1]; seq 1 Â = −1, ρ = [0.5, 1.5, 0.9]; ε_low 0.2 → [0.8, 1.28]
  //  Â=+1 ρ=1.5: min(1.5, 1.28)   = 1.28  → pol −1.28, grad 0       (high-clipped)
  //  Â=+1 ρ=0.5: min(0.5, 0.8)    = 0.5   → pol −0.5,  grad −0.5    (ρ<lo but Â>0: not clipped)
  //  Â=+1 ρ=1.1: min(1.1, 1.1)    = 1.1   → pol −1.1,  grad −1.1
  //  Â=−1 ρ=0.5: min(−0.5, −0.8)  = −0.8  → pol +0.8,  grad 0       (low-clipped)
  //  Â=−1 ρ=1.5: min(−1.5, −1.28) = −1.5  → pol +1.5,  grad +1.5    (ρ>hi but Â<0: not clipped)
  //  Â=−1 ρ=0.9: min(−0.9, −0.9)  = −0.9  → pol +0.9,  grad +0.9
  // Σpol = −2.88 + 3.2 = 0.32; bnpo over 6 tokens → 0.32/6 = 0.0533…; grads /6.
  const { logp, oldLogp } = withRatios([1.5, 0.5, 1.1, 0.5, 1.5, 0.9]);
  const input: PolicyLossInput = { numSeqs: 2, seqLen: 3, logp, oldLogp, mask: new Uint8Array(6).fill(1), advantages: [1, -1] };

  it('both bounds, values, gradients and TRL clip fractions', () => {
    const r = policyLossF64(input, { ...base, lossType: 'bnpo' });
    expect(r.loss).toBeCloseTo(0.32 / 6, 12);
    close(r.dlogp, [0, -0.5 / 6, -1.1 / 6, 0, 1.5 / 6, 0.9 / 6]);
    expect(r.stats.clipCountLow).toBe(1);
    expect(r.stats.clipCountHigh).toBe(1);
    expect(r.stats.clipFracLow).toBeCloseTo(1 / 6, 15);
    expect(r.stats.clipFracHigh).toBeCloseTo(1 / 6, 15);
    expect(r.stats.ratioMin).toBeCloseTo(0.5, 12);
    expect(r.stats.ratioMax).toBeCloseTo(1.5, 12);
    expect(r.stats.ratioMean).toBeCloseTo(6 / 6, 12); // (1.5+0.5+1.1+0.5+1.5+0.9)/6 = 1
  });

  it('symmetric ε (0.2/0.2) clips ρ = 1.25 that clip-higher (0.28) lets through', () => {
    // Â=+1, ρ=1.25: ε_high 0.2 → min(1.25, 1.2) = 1.2, grad 0; ε_high 0.28 → 1.25, grad −1.25
    const t = withRatios([1.25]);
    const one: PolicyLossInput = { numSeqs: 1, seqLen: 1, ...t, mask: [1], advantages: [1] };
    const sym = policyLossF64(one, { lossType: 'bnpo', epsLow: 0.2, epsHigh: 0.2, beta: 0 });
    expect(sym.loss).toBeCloseTo(-1.2, 12);
    expect(Math.abs(sym.dlogp[0])).toBe(0); // (autograd gives −0 here too)
    const dapo = policyLossF64(one, { lossType: 'bnpo', epsLow: 0.2, epsHigh: 0.28, beta: 0 });
    expect(dapo.loss).toBeCloseTo(-1.25, 12);
    expect(dapo.dlogp[0]).toBeCloseTo(-1.25, 12);
  });

  it('ρ exactly on a bound: autograd semantics (clamp passes the gradient, min splits a tie) = full gradient', () => {
    // ρ = e^{0.25} = 1.2840254166877414 with ε_high = ρ − 1 (exact in float64): t1 = t2, clamp
    // inclusive → grad ½(−Âρ) + ½(−Âρ) = −ρ. Same at the lower bound with ρ = e^{−0.25}, Â = −1: grad +ρ.
    const hiRho = Math.exp(0.25);
    const loRho = Math.exp(-0.25);
    const t = withRatios([hiRho, loRho]);
    const inp: PolicyLossInput = { numSeqs: 2, seqLen: 1, ...t, mask: [1, 1], advantages: [1, -1] };
    const cfg: PolicyLossConfig = { lossType: 'bnpo', epsLow: 1 - loRho, epsHigh: hiRho - 1, beta: 0 };
    const r = policyLossF64(inp, cfg);
    const rhoHi = Math.exp(t.logp[0] - t.oldLogp[0]);
    const rhoLo = Math.exp(t.logp[1] - t.oldLogp[1]);
    // The tie must be a real tie for this test to mean anything: assert it explicitly.
    expect(rhoHi).toBe(1 + cfg.epsHigh);
    expect(rhoLo).toBe(1 - cfg.epsLow);
    close(r.dlogp, [-rhoHi / 2, rhoLo / 2], 14); // bnpo over 2 tokens: w = 1/2
    expect(r.stats.clipCountLow + r.stats.clipCountHigh).toBe(0); // strict inequalities, as TRL
  });
});

describe('masking, zero-variance groups, layouts', () => {
  it('off-mask tokens are never read and get zero gradient', () => {
    const garbage = { ...onPolicy, logp: Float64Array.from(onPolicy.logp, (v, i) => (i === 5 ? Number.NaN : v)) };
    const r = policyLossF64(garbage, { ...base, lossType: 'bnpo' });
    expect(r.loss).toBeCloseTo(-0.2, 15);
    expect(r.dlogp[5]).toBe(0);
    // prompt tokens masked at the start of a row: mask [0,1,1 | 0,0,1], Â = [2, 1], ρ = 1
    // grpo: seq means −2 and −1 → −1.5; w = 1/(2·2), 1/(2·1)
    const r2 = policyLossF64({ ...onPolicy, mask: [0, 1, 1, 0, 0, 1], advantages: [2, 1] }, { ...base, lossType: 'grpo' });
    expect(r2.loss).toBeCloseTo(-1.5, 15);
    close(r2.dlogp, [0, -0.5, -0.5, 0, 0, -0.5]);
  });

  it('a fully masked sequence still counts in grpo/dr_grpo’s S (TRL clamp(min=1))', () => {
    // seq 1 has no tokens: grpo = (−1 + 0)/2 = −0.5; dr_grpo (L=3) = −3/(2·3) = −0.5; bnpo = −3/3 = −1
    const inp = { ...onPolicy, mask: [1, 1, 1, 0, 0, 0] };
    expect(policyLossF64(inp, { ...base, lossType: 'grpo' }).loss).toBeCloseTo(-0.5, 15);
    expect(policyLossF64(inp, { ...base, lossType: 'dr_grpo', maxCompletionLength: 3 }).loss).toBeCloseTo(-0.5, 15);
    expect(policyLossF64(inp, { ...base, lossType: 'bnpo' }).loss).toBeCloseTo(-1, 15);
    // nothing counted at all: loss 0, stats defined, no NaN
    const empty = policyLossF64({ ...onPolicy, mask: new Uint8Array(6) }, { ...base, lossType: 'dapo' });
    expect(empty.loss).toBe(0);
    expect(empty.stats.numTokens).toBe(0);
    expect(empty.stats.clipFracLow).toBe(0);
  });

  it('zero-variance groups (Â = 0): zero loss and gradient, and stats say why', () => {
    const { logp, oldLogp } = withRatios([1.5, 0.5, 1.1, 0.7]);
    const r = policyLossF64({ numSeqs: 2, seqLen: 2, logp, oldLogp, mask: [1, 1, 1, 1], advantages: [0, 0] }, { ...base, lossType: 'dapo' });
    expect(r.loss).toBe(0);
    expect(Array.from(r.dlogp).every((g) => g === 0)).toBe(true);
    expect(r.stats.zeroAdvantageSeqs).toBe(2);
    expect(r.stats.policyTerm).toBe(0);
  });

  it('packed rows (seqIds) give the same result as padded rows', () => {
    // drop the padding slot: tokens of seq 0 then seq 1
    const packed: PolicyLossInput = { numSeqs: 2, seqIds: new Int32Array([0, 0, 0, 1, 1]), logp: onPolicy.logp.slice(0, 5), mask: [1, 1, 1, 1, 1], advantages: [1, -1] };
    for (const lossType of LOSS_TYPES) {
      const cfg = { ...base, lossType, maxCompletionLength: 4 };
      const a = policyLossF64(packed, cfg);
      const b = policyLossF64(onPolicy, cfg);
      expect(a.loss).toBeCloseTo(b.loss, 15);
      close(a.dlogp, Array.from(b.dlogp.slice(0, 5)), 15);
    }
    expect(maskedTokenCount(onPolicy.mask)).toBe(5);
  });

  it('rejects inconsistent inputs', () => {
    const cfg: PolicyLossConfig = { ...base, lossType: 'bnpo' };
    expect(() => policyLossF64({ ...onPolicy, seqLen: 4 }, cfg)).toThrow(RangeError);
    expect(() => policyLossF64({ ...onPolicy, advantages: [1] }, cfg)).toThrow(RangeError);
    expect(() => policyLossF64({ ...onPolicy, oldLogp: new Float64Array(5) }, cfg)).toThrow(RangeError);
    expect(() => policyLossF64(onPolicy, { ...cfg, beta: 0.1 })).toThrow(/refLogp/);
    expect(() => policyLossF64({ ...onPolicy, logp: Float64Array.of(-1, Number.NaN, 0, 0, 0, 0) }, cfg)).toThrow(RangeError);
    expect(() => policyLossF64(onPolicy, { ...cfg, lossType: 'ppo' as LossType })).toThrow(RangeError);
  });
});

describe('KL to the reference (k3)', () => {
  it('value, gradient and the policy/KL split', () => {
    // one token, logp = ln 0.5, ref = ln 0.25 → d = ref − logp = ln 0.5 = −0.6931471805599453
    // kl = e^d − d − 1 = 0.5 + 0.6931471805599453 − 1 = 0.1931471805599453
    // d kl/d logp = 1 − e^d = 0.5;  β = 0.1 → KL term 0.01931471805599453, its grad 0.05
    // with Â = 2, ρ = 1: policy term −2, grad −2 → loss −1.9806852819440055, dlogp −1.95
    const inp: PolicyLossInput = {
      numSeqs: 1,
      seqLen: 1,
      logp: Float64Array.of(Math.log(0.5)),
      refLogp: Float64Array.of(Math.log(0.25)),
      mask: [1],
      advantages: [2],
    };
    const r = policyLossF64(inp, { ...base, beta: 0.1, lossType: 'bnpo' });
    expect(r.stats.klMean).toBeCloseTo(0.1931471805599453, 14);
    expect(r.stats.klTerm).toBeCloseTo(0.01931471805599453, 14);
    expect(r.stats.policyTerm).toBeCloseTo(-2, 14);
    expect(r.loss).toBeCloseTo(-1.9806852819440055, 14);
    expect(r.dlogp[0]).toBeCloseTo(-1.95, 14);
    // β = 0 with a reference: KL is reported but not in the loss
    const r0 = policyLossF64(inp, { ...base, lossType: 'bnpo' });
    expect(r0.stats.klMean).toBeCloseTo(0.1931471805599453, 14);
    expect(r0.stats.klTerm).toBe(0);
    expect(r0.loss).toBeCloseTo(-2, 14);
    // KL is 0 (and its gradient 0) when the policy equals the reference
    const same = policyLossF64({ ...inp, refLogp: inp.logp }, { ...base, beta: 0.1, lossType: 'bnpo' });
    expect(same.stats.klMean).toBe(0);
    expect(same.dlogp[0]).toBeCloseTo(-2, 15);
  });
});

describe('dlogp against central finite differences (float64)', () => {
  const S = 6;
  const T = 8;
  const cfgBase = { epsLow: 0.2, epsHigh: 0.28, beta: 0.04, maxCompletionLength: 9, gradAccumSteps: 2 };

  function randomInput(seed: number): PolicyLossInput {
    const rand = rng(seed);
    const n = S * T;
    const logp = new Float64Array(n);
    const oldLogp = new Float64Array(n);
    const refLogp = new Float64Array(n);
    const mask = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      logp[i] = -0.05 - 3 * rand();
      // ρ ∈ [0.5, 1.6] spans both clip regions; keep 1e-3 away from the kinks at 0.8 and 1.28
      let rho = 0.5 + 1.1 * rand();
      while (Math.abs(rho - 0.8) < 1e-3 || Math.abs(rho - 1.28) < 1e-3) rho = 0.5 + 1.1 * rand();
      oldLogp[i] = logp[i] - Math.log(rho);
      refLogp[i] = logp[i] + (rand() - 0.5);
    }
    // variable lengths with a prompt prefix: row s has tokens [1, 1 + len_s), len_s ∈ 1..T−1
    for (let s = 0; s < S; s++) {
      const len = 1 + Math.floor(rand() * (T - 1));
      for (let t = 1; t < 1 + len; t++) mask[s * T + t] = 1;
    }
    const advantages = Array.from({ length: S }, (_, s) => (s === 2 ? 0 : 2 * rand() - 1)); // one zero-variance seq
    return { numSeqs: S, seqLen: T, logp, oldLogp, refLogp, mask, advantages };
  }

  for (const lossType of LOSS_TYPES) {
    it(`${lossType}`, () => {
      let clipLow = 0;
      let clipHigh = 0;
      for (const seed of [1, 2, 3, 4]) {
        const input = randomInput(seed);
        const cfg: PolicyLossConfig = { ...cfgBase, lossType, numItemsInBatch: lossType === 'dapo' ? 60 : undefined };
        const { dlogp, stats } = policyLossF64(input, cfg);
        clipLow += stats.clipCountLow;
        clipHigh += stats.clipCountHigh;
        const h = 1e-6;
        let maxErr = 0;
        let maxAbs = 0;
        for (let i = 0; i < input.logp.length; i++) {
          const plus = Float64Array.from(input.logp);
          const minus = Float64Array.from(input.logp);
          plus[i] += h;
          minus[i] -= h;
          const fd = (policyLossF64({ ...input, logp: plus }, cfg).loss - policyLossF64({ ...input, logp: minus }, cfg).loss) / (2 * h);
          maxErr = Math.max(maxErr, Math.abs(fd - dlogp[i]));
          maxAbs = Math.max(maxAbs, Math.abs(dlogp[i]));
        }
        expect(maxAbs).toBeGreaterThan(1e-3); // a non-trivial gradient was checked
        expect(maxErr).toBeLessThan(1e-8);
      }
      // the checked tokens really include both zero-gradient clipped regions
      expect(clipLow).toBeGreaterThan(0);
      expect(clipHigh).toBeGreaterThan(0);
    });
  }

  it('the Float32 engine form matches the float64 math', () => {
    const input = randomInput(7);
    const cfg: PolicyLossConfig = { ...cfgBase, lossType: 'dapo' };
    const a = policyLossF64(input, cfg);
    const b = policyLoss({ ...input, logp: Float32Array.from(input.logp) }, cfg);
    expect(b.dlogp).toBeInstanceOf(Float32Array);
    expect(b.loss).toBeCloseTo(a.loss, 5); // logp rounded to float32 on input
    for (let i = 0; i < a.dlogp.length; i++) expect(b.dlogp[i]).toBeCloseTo(a.dlogp[i], 5);
  });
});
