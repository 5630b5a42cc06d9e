// The study's results as data: one run's JSON lines (what `npm run train` writes) reduced to a cell
// record, cells grouped over seeds into table rows (mean ± sample standard deviation, n), and the
// study's findings judged against them. Pure: the CLI (src/cli/study.ts), the page's Study view and
// the tests all use it.
import type { MethodId } from '../peft/types.ts';
import type { RLConfig } from '../rl/config.ts';

export const PRESET_IDS = ['methods', 'loss', 'lr', 'rank', 'batch'] as const;
export type StudyPreset = (typeof PRESET_IDS)[number];

/** One held-out evaluation of a run (a subset of the train CLI's 'eval' record). */
export interface CellEval {
  step: number;
  split: string;
  k: number;
  avg: number;
  se: number;
  pass: number;
  problems: number;
  correct: number[];
}

/** The per-step metrics a cell keeps (the curves). */
export interface CellStep {
  step: number;
  reward: number;
  accuracy: number;
  entropy: number;
  kl: number | null;
  response_len: number;
  grad_norm: number;
  seconds: number;
}

export interface Cell {
  id: string;
  label: string;
  /** The label without its seed: the table row it belongs to. */
  group: string;
  method: MethodId;
  seed: number;
  config: RLConfig;
  trainable: number;
  steps: CellStep[];
  /** In-distribution held-out evaluations at the first and the last step. */
  start: CellEval;
  end: CellEval;
  /** end − start avg@k, paired by problem, and its standard error. */
  change: { delta: number; se: number };
  seconds: number;
  /** The model-average spectral records of the run (npm run train --spectral-every), if it has them:
   * principal share and its random baseline per k (fractions of the rank), effective rank. */
  spectral: { step: number; fractions: number[]; share: number[]; random: number[]; effRank: number }[];
}

type Line = Record<string, unknown>;

const num = (x: unknown, what: string): number => {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${what}: expected a finite number, got ${JSON.stringify(x)}`);
  return x;
};

function toEval(r: Line): CellEval {
  return {
    step: num(r.step, 'eval step'), split: String(r.split), k: num(r.k, 'eval k'), avg: num(r.avg_at_k, 'avg_at_k'),
    se: num(r.avg_at_k_se, 'avg_at_k_se'), pass: num(r.pass_at_k, 'pass_at_k'), problems: num(r.problems, 'problems'),
    correct: Array.isArray(r.correct_by_problem) ? (r.correct_by_problem as number[]) : [],
  };
}

/** Paired change of avg@k between two evaluations of the same problems and sampling seeds. */
export function pairedChange(a: CellEval, b: CellEval): { delta: number; se: number } {
  if (a.correct.length !== b.correct.length || a.correct.length === 0) return { delta: b.avg - a.avg, se: Math.hypot(a.se, b.se) };
  const d = a.correct.map((c, i) => (b.correct[i] - c) / a.k);
  const mean = d.reduce((s, x) => s + x, 0) / d.length;
  const sd = d.length > 1 ? Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (d.length - 1)) : 0;
  return { delta: mean, se: sd / Math.sqrt(d.length) };
}

/** A finished run's JSON lines → its cell. Throws on a run without its config, evaluations or summary. */
export function cellFromLines(id: string, label: string, lines: Line[]): Cell {
  const config = lines.find((l) => l.type === 'config');
  const summary = lines.find((l) => l.type === 'summary');
  if (!config || !summary) throw new Error(`${id}: the run has no ${config ? 'summary (it did not finish)' : 'config line'}`);
  const cfg = config.config as RLConfig;
  const evals = lines.filter((l) => l.type === 'eval' && l.split === 'in-dist').map(toEval);
  if (evals.length < 2) throw new Error(`${id}: needs an in-dist evaluation at the start and the end, found ${evals.length}`);
  const steps = lines.filter((l) => l.type === 'step').map((s) => ({
    step: num(s.step, 'step'), reward: num(s.reward_mean, 'reward_mean'), accuracy: num(s.accuracy, 'accuracy'), entropy: num(s.entropy, 'entropy'),
    kl: typeof s.kl === 'number' ? s.kl : null, response_len: num(s.response_len, 'response_len'), grad_norm: num(s.grad_norm, 'grad_norm'),
    seconds: num(s.time_rollout_s, 'time_rollout_s') + num(s.time_train_s, 'time_train_s'),
  }));
  const spectral = lines.filter((l) => l.type === 'spectral').map((l) => {
    const m = l.mean as { share: number[]; random: number[]; effRank: number };
    return { step: num(l.step, 'spectral step'), fractions: l.fractions as number[], share: m.share, random: m.random, effRank: m.effRank };
  });
  const start = evals[0], end = evals[evals.length - 1];
  return {
    id, label, group: groupOf(label), method: cfg.peft.method, seed: cfg.seed, config: cfg, trainable: num(config.trainable_params, 'trainable_params'),
    steps, start, end, change: pairedChange(start, end), seconds: num(summary.seconds, 'seconds'), spectral,
  };
}

export const groupOf = (label: string) => label.replace(/ · seed \d+$/, '');

export function parseJsonLines(text: string, what: string): Line[] {
  return text.split('\n').filter((l) => l.trim()).map((l, i) => {
    try {
      return JSON.parse(l) as Line;
    } catch {
      throw new Error(`${what}: line ${i + 1} is not JSON`);
    }
  });
}

export interface Stat {
  mean: number;
  /** Sample standard deviation over seeds (0 for one seed). */
  sd: number;
  n: number;
}

export function stat(xs: number[]): Stat {
  const n = xs.length;
  const mean = n ? xs.reduce((a, b) => a + b, 0) / n : Number.NaN;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, n };
}

export interface Row {
  group: string;
  method: MethodId;
  /** What the preset varies, for this row (e.g. 'lr 0.003', 'r16', 'grpo', '16 prompts'). */
  setting: string;
  start: Stat;
  end: Stat;
  change: Stat;
  trainable: number;
  seconds: number;
  /** The principal share at the run's end, k = SHARE_FRACTION of the rank, over the seeds that have
   * spectral records (null when none has), and a random update's expectation. */
  share: (Stat & { random: number }) | null;
  cells: string[];
  /** Each seed's config, in cell order (what "Load config" puts into the experiment panel). */
  configs: RLConfig[];
  /** Training reward per step over the seeds: mean, min and max (the curve and its band). */
  curve: { step: number[]; mean: number[]; lo: number[]; hi: number[] };
}

/** Training reward per step over cells: steps every cell has, mean, min, max. */
export function rewardCurve(cells: Cell[]): Row['curve'] {
  const n = Math.min(...cells.map((c) => c.steps.length));
  const out: Row['curve'] = { step: [], mean: [], lo: [], hi: [] };
  for (let i = 0; i < n; i++) {
    const xs = cells.map((c) => c.steps[i].reward);
    out.step.push(cells[0].steps[i].step);
    out.mean.push(xs.reduce((a, b) => a + b, 0) / xs.length);
    out.lo.push(Math.min(...xs));
    out.hi.push(Math.max(...xs));
  }
  return out;
}

/** What distinguishes a row within its preset, read from its first cell's config. */
export function settingOf(preset: StudyPreset, c: RLConfig): string {
  switch (preset) {
    case 'methods': return c.peft.method;
    case 'loss': return c.lossType;
    case 'lr': return `lr ${Number(c.lr.toPrecision(3))}`;
    case 'rank': return `r${c.peft.r}`;
    case 'batch': return `${c.promptsPerStep} prompts`;
  }
}

/** The k (as a fraction of the rank) the tables report the principal share at. */
export const SHARE_FRACTION = 1 / 8;

function finalShare(cs: Cell[]): Row['share'] {
  const last = cs.map((c) => c.spectral[c.spectral.length - 1]).filter((r) => r !== undefined);
  const at = (r: Cell['spectral'][number], xs: number[]) => xs[r.fractions.indexOf(SHARE_FRACTION)];
  const vals = last.map((r) => at(r, r.share)).filter((x) => Number.isFinite(x));
  return vals.length ? { ...stat(vals), random: at(last[0], last[0].random) } : null;
}

/** Cells grouped over seeds, in the order the groups first appear. */
export function tableRows(preset: StudyPreset, cells: Cell[]): Row[] {
  const groups = new Map<string, Cell[]>();
  for (const c of cells) groups.set(c.group, [...(groups.get(c.group) ?? []), c]);
  return [...groups].map(([group, cs]) => ({
    group, method: cs[0].method, setting: settingOf(preset, cs[0].config),
    start: stat(cs.map((c) => c.start.avg)), end: stat(cs.map((c) => c.end.avg)), change: stat(cs.map((c) => c.change.delta)),
    trainable: cs[0].trainable, seconds: stat(cs.map((c) => c.seconds)).mean, share: finalShare(cs), cells: cs.map((c) => c.id),
    configs: cs.map((c) => c.config), curve: rewardCurve(cs),
  }));
}

/** The results file of one preset (public/study/<preset>.json). */
export interface StudyResults {
  preset: StudyPreset;
  name: string;
  command: string;
  machine: string;
  createdAt: string;
  /** The model every run started from: its folder on the site (a ModelSource url base). */
  model: string;
  base: RLConfig;
  /** What was scaled from the paper, and why (shown with the table). */
  scaled: string[];
  rows: Row[];
  /** The cells' files, relative to the results file (runs/<id>.json). */
  cellFiles: string[];
}
