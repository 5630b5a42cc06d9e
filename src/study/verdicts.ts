// The study's findings, each judged against the lab's results. A finding compares rows of a preset's
// table by their final held-out accuracy (every run starts from the same model and is evaluated on
// the same problems, so the final accuracy and the change rank methods alike): the difference of
// the means over seeds, with the standard error √(sd₁²/n₁ + sd₂²/n₂). A claim "A beats B" reproduces
// when A − B > 2 s.e., does not when B − A > 2 s.e. (the opposite holds), and is inconclusive in
// between; "A is at least B" does not reproduce only when B − A > 2 s.e., and reproduces when A ≥ B.
import type { Row, StudyPreset, StudyResults } from './results.ts';

export type Verdict = 'reproduces' | 'does not reproduce' | 'inconclusive' | 'not run';

export interface Comparison {
  /** e.g. 'dora − lora' */
  what: string;
  delta: number;
  se: number;
}

export interface Finding {
  id: string;
  preset: StudyPreset;
  /** The study's claim, in its words as the lab tests it. */
  claim: string;
  /** How it is tested here. */
  test: string;
  verdict: Verdict;
  comparisons: Comparison[];
}

function row(rows: Row[], setting: string): Row | undefined {
  return rows.find((r) => r.setting === setting);
}

function compare(a: Row, b: Row): Comparison {
  const se = Math.sqrt(a.end.sd ** 2 / a.end.n + b.end.sd ** 2 / b.end.n);
  return { what: `${a.setting} − ${b.setting}`, delta: a.end.mean - b.end.mean, se };
}

/** "A beats B" for every comparison: all above 2 s.e. reproduces; any below −2 s.e. does not. */
function beats(cs: Comparison[]): Verdict {
  if (cs.length === 0) return 'not run';
  if (cs.some((c) => c.delta < -2 * c.se)) return 'does not reproduce';
  if (cs.every((c) => c.delta > 2 * c.se)) return 'reproduces';
  return 'inconclusive';
}

/** "A is at least B" for every comparison. */
function atLeast(cs: Comparison[]): Verdict {
  if (cs.length === 0) return 'not run';
  if (cs.some((c) => c.delta < -2 * c.se)) return 'does not reproduce';
  if (cs.every((c) => c.delta >= 0)) return 'reproduces';
  return 'inconclusive';
}

/** Every row's own change over its run (end − start, paired by problem) is positive beyond 2 s.e. of
 * the mean over seeds. */
function allLearn(rows: Row[]): { verdict: Verdict; comparisons: Comparison[] } {
  const comparisons = rows.map((r) => ({ what: `${r.setting}: end − start`, delta: r.change.mean, se: r.change.n > 1 ? r.change.sd / Math.sqrt(r.change.n) : 0 }));
  return { verdict: beats(comparisons), comparisons };
}

function pairs(rows: Row[], as: string[], bs: string[]): Comparison[] {
  const out: Comparison[] = [];
  for (const a of as) for (const b of bs) {
    const ra = row(rows, a), rb = row(rows, b);
    if (ra && rb) out.push(compare(ra, rb));
  }
  return out;
}

/** The findings that the presets present in `results` can test. */
export function judge(results: Partial<Record<StudyPreset, StudyResults>>): Finding[] {
  const out: Finding[] = [];
  const m = results.methods?.rows;
  if (m) {
    const f = (id: string, claim: string, test: string, cs: Comparison[], v: (c: Comparison[]) => Verdict) =>
      out.push({ id, preset: 'methods', claim, test, comparisons: cs, verdict: v(cs) });
    f('structural', 'Structural variants (DoRA, AdaLoRA, MiSS) beat plain LoRA.', 'each of dora, adalora, miss above lora',
      pairs(m, ['dora', 'adalora', 'miss'], ['lora']), beats);
    f('dora-full', 'DoRA matches or beats full fine-tuning.', 'dora at least full',
      pairs(m, ['dora'], ['full']), atLeast);
    f('svd-init', 'SVD-informed initialisations fail under RL: PiSSA collapses, MiLoRA degrades.', 'lora above each of pissa, milora',
      pairs(m, ['lora'], ['pissa', 'milora']), beats);
    const sl = row(m, 'lora')?.share, sp = row(m, 'pissa')?.share;
    const spectral = sl && sp ? [{ what: 'principal share: pissa − lora', delta: sp.mean - sl.mean, se: Math.sqrt(sp.sd ** 2 / sp.n + sl.sd ** 2 / sl.n) }] : [];
    f('spectral', 'Why: RL\'s updates lie off the principal singular directions of the pretrained weights, and PiSSA forces them onto exactly those.', 'the share of the final update in W₀\'s top-k subspace (k = rank/8) higher for pissa than for lora',
      spectral, beats);
    f('bottleneck', 'Extreme parameter reduction bottlenecks: VeRA, rank-1 LoRA and IA³ fall behind LoRA.', 'lora above each of vera, lora_r1, ia3',
      pairs(m, ['lora'], ['vera', 'lora_r1', 'ia3']), beats);
  }
  const loss = results.loss?.rows;
  if (loss) {
    const l = allLearn(loss);
    out.push({ id: 'loss', preset: 'loss', claim: 'The findings hold across RL loss formulations (grpo, dapo, dr_grpo): LoRA learns under each.', test: 'each loss type raises held-out accuracy (mean change over seeds > 2 s.e.)', ...l });
  }
  const lr = results.lr?.rows;
  if (lr) {
    const sorted = [...lr].sort((a, b) => a.group.localeCompare(b.group));
    const byLr = sorted.map((r) => ({ r, lr: Number(r.setting.replace('lr ', '')) })).sort((a, b) => a.lr - b.lr);
    const cs = byLr.length >= 2 ? [compare(byLr[byLr.length - 2].r, byLr[0].r)] : [];
    out.push({ id: 'lr', preset: 'lr', claim: 'Within a stable range, the larger learning rate (the study used the top of its range) trains better.', test: 'the experiment\'s lr above a third of it', comparisons: cs, verdict: beats(cs) });
  }
  const rank = results.rank?.rows;
  if (rank) {
    const enough = pairs(rank, ['r16'], ['r64']);
    const low = pairs(rank, ['r16'], ['r1']);
    const vEnough: Verdict = enough.length === 0 ? 'not run' : enough.some((c) => Math.abs(c.delta) > 2 * c.se && c.delta < 0) ? 'does not reproduce' : 'reproduces';
    const vLow = beats(low);
    const verdict: Verdict = vEnough === 'does not reproduce' || vLow === 'does not reproduce' ? 'does not reproduce'
      : vEnough === 'reproduces' && vLow === 'reproduces' ? 'reproduces' : vEnough === 'not run' || vLow === 'not run' ? 'not run' : 'inconclusive';
    out.push({ id: 'rank', preset: 'rank', claim: 'Ranks 16–32 are enough; rank 1 bottlenecks.', test: 'r16 not below r64 by > 2 s.e., and r16 above r1', comparisons: [...enough, ...low], verdict });
  }
  const batch = results.batch?.rows;
  if (batch) {
    const l = allLearn(batch);
    out.push({ id: 'batch', preset: 'batch', claim: 'The findings hold across batch sizes: LoRA learns at each.', test: 'each batch size raises held-out accuracy (mean change over seeds > 2 s.e.)', ...l });
  }
  return out;
}
