// Sweeps as data: a grid over method, rank, learning rate, loss type, batch size (prompts per
// step) and seed, expanded into configs; the study's experiments as presets at the lab's scale;
// and the results table (method × final and best held-out accuracy, mean ± spread over seeds).
import { methodIds } from '../peft/registry.ts';
import type { MethodId } from '../peft/types.ts';
import { PRESETS, type PresetId, type RLConfig } from '../rl/config.ts';
import type { LossType } from '../rl/loss.ts';
import { pagePeft } from './defaults.ts';

export interface GridSpec {
  methods: MethodId[];
  ranks: number[];
  /** Empty: the experiment's learning rate. */
  lrs: number[];
  lossTypes: LossType[];
  batchSizes: number[];
  seeds: number[];
}

export interface GridItem {
  label: string;
  config: RLConfig;
}

/** Methods whose size is not set by a rank. */
const RANKLESS: MethodId[] = ['full', 'ia3', 'ln_tuning'];

/** The study's comparison: every method the lab has (full fine-tuning and the fourteen PEFT methods). */
export const PAPER_METHODS: MethodId[] = ['full', 'lora', 'dora', 'adalora', 'miss', 'pissa', 'milora', 'olora', 'vera', 'ia3', 'lora_r1', 'rslora', 'lora_plus', 'lora_fa', 'ln_tuning'];

// Each preset varies what its name says; everything else (learning rate, α, recipe, steps, sampling)
// is the experiment's, and the panel lists it before the sweep starts.
export const SWEEP_PRESETS: Record<string, { name: string; spec: Partial<GridSpec> }> = {
  methods: { name: 'Method comparison (the study’s main table)', spec: { methods: PAPER_METHODS, ranks: [], lrs: [], lossTypes: [], seeds: [0, 1, 2] } },
  rank: { name: 'Rank ablation (1, 4, 16, 64)', spec: { methods: ['lora'], ranks: [1, 4, 16, 64], lrs: [], lossTypes: [], seeds: [0, 1, 2] } },
  lr: { name: 'Learning-rate ablation (the experiment’s ÷ 3, × 1, × 3)', spec: { methods: ['lora'], ranks: [], lossTypes: [], seeds: [0, 1, 2] } },
  loss: { name: 'Loss-type ablation (grpo, dapo, dr_grpo)', spec: { methods: ['lora'], ranks: [], lrs: [], lossTypes: ['grpo', 'dapo', 'dr_grpo'], seeds: [0, 1, 2] } },
  batch: { name: 'Batch-size ablation (prompts per step)', spec: { methods: ['lora'], ranks: [], lrs: [], lossTypes: [], batchSizes: [4, 8, 16], seeds: [0, 1, 2] } },
};

/** A preset's whole grid for an experiment: its spec, with the lr ablation's rates (the experiment's
 * ÷ 3, × 1, × 3) filled in. */
export function presetSpec(key: string, base: RLConfig): GridSpec {
  const p = SWEEP_PRESETS[key]?.spec;
  if (!p) throw new Error(`unknown sweep preset "${key}"; valid: ${Object.keys(SWEEP_PRESETS).join(', ')}`);
  return {
    methods: p.methods ?? [base.peft.method], ranks: p.ranks ?? [], lossTypes: p.lossTypes ?? [], batchSizes: p.batchSizes ?? [], seeds: p.seeds ?? [base.seed],
    lrs: p.lrs ?? (key === 'lr' ? [base.lr / 3, base.lr, base.lr * 3] : []),
  };
}

/** What a run of the sweep costs, measured: seconds per sampled completion (rollout and update) of a
 * run that has taken steps on the same model, task and backend. */
export interface CostSample {
  name: string;
  secondsPerSample: number;
}

/** The sweep's expected wall time from a measured cost: each run's training samples (steps × prompts ×
 * group) and evaluation samples (every evalEvery steps, at the start and the end: sets × problems × k),
 * at the measured rate; null without a measurement. */
export function estimateSweepSeconds(items: GridItem[], cost: CostSample | null, evalSets = 2): number | null {
  if (!cost) return null;
  let samples = 0;
  for (const { config: c } of items) {
    const evals = (c.evalEvery > 0 ? Math.floor((c.steps - 1) / c.evalEvery) : 0) + 2;
    samples += c.steps * c.promptsPerStep * c.groupSize + evals * evalSets * c.evalProblems * c.evalK;
  }
  return samples * cost.secondsPerSample;
}

/** Reported average accuracies (DeepSeek-R1-Distill-Qwen-1.5B, docs METHODS.md), for reference only:
 * the lab's tiny models and tasks are not comparable in absolute terms. */
export const PAPER_ACCURACY: Partial<Record<MethodId, number>> = {
  dora: 0.466, full: 0.449, pissa: 0.002, milora: 0.18, vera: 0.407, lora_r1: 0.405, ia3: 0.22,
};

/** "1, 8, 16" → [1, 8, 16], or an error naming the bad entry. */
export function parseList(text: string, what: string, integer: boolean, min: number): { values: number[]; error: string | null } {
  const parts = text.split(/[\s,]+/).filter(Boolean);
  const values: number[] = [];
  for (const p of parts) {
    const v = Number(p);
    if (!Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min) return { values, error: `${what}: "${p.slice(0, 20)}" is not ${integer ? 'a whole number' : 'a number'} ≥ ${min}` };
    if (!values.includes(v)) values.push(v);
  }
  if (parts.length > 50) return { values, error: `${what}: at most 50 values` };
  return { values, error: null };
}

const fmt = (v: number) => String(Number(v.toPrecision(3)));

/** A method's adapter settings in a sweep: the experiment's own when it is the experiment's method;
 * otherwise that method's page defaults with the experiment's α, dropout and init seed (LoRA-r1 keeps
 * its own α = 2, IA³ its own targets). α does not follow the rank: a rank sweep changes r only. */
export function sweepPeft(base: RLConfig, method: MethodId): RLConfig['peft'] {
  if (method === base.peft.method) return { ...base.peft };
  const def = pagePeft(method, base.peft.seed);
  return { ...def, alpha: method === 'lora_r1' ? def.alpha : base.peft.alpha, dropout: base.peft.dropout };
}

/** Every combination, in a stable order; rank collapses for methods without one. Everything the grid
 * does not vary is the experiment's (learning rate, α, steps, sampling, …). */
export function expandGrid(base: RLConfig, g: GridSpec): GridItem[] {
  const out: GridItem[] = [];
  const seen = new Set<string>();
  const dims = (xs: number[], dflt: number) => (xs.length ? xs : [dflt]);
  for (const method of g.methods.filter((m) => methodIds.includes(m))) {
    const def = sweepPeft(base, method);
    for (const r of RANKLESS.includes(method) || method === 'lora_r1' ? [def.r] : dims(g.ranks, def.r)) {
      for (const lr of dims(g.lrs, base.lr)) {
        for (const loss of g.lossTypes.length ? g.lossTypes : [base.lossType]) {
          for (const bs of dims(g.batchSizes, base.promptsPerStep)) {
            for (const seed of dims(g.seeds, base.seed)) {
              const preset = loss in PRESETS ? PRESETS[loss as PresetId] : { lossType: loss };
              // The loss preset only when the grid varies the loss type; otherwise the experiment's recipe stays whole.
              const recipe = g.lossTypes.length ? { ...preset, overlongShaping: base.overlongShaping && preset.lossType === 'dapo' } : {};
              const config: RLConfig = { ...base, ...recipe, lr, promptsPerStep: bs, seed, peft: { ...def, r, seed } };
              const label = [method, RANKLESS.includes(method) ? null : `r${r}`, `lr ${fmt(lr)}`, loss, `${bs}×${config.groupSize}`, `seed ${seed}`].filter(Boolean).join(' · ');
              if (seen.has(label)) continue;
              seen.add(label);
              out.push({ label, config });
            }
          }
        }
      }
    }
  }
  return out;
}

/** A results-table group: the item label without its seed. */
export const groupKey = (label: string) => label.replace(/ · seed \d+$/, '');

export interface ResultInput {
  label: string;
  method: MethodId;
  /** Held-out accuracy (avg@k, in-distribution) at each evaluation, in step order. */
  evals: number[];
  trainable: number | null;
  seconds: number;
}

export interface ResultRow {
  group: string;
  method: MethodId;
  runs: number;
  final: { mean: number; spread: number };
  best: { mean: number; spread: number };
  trainable: number | null;
  seconds: number;
  paper: number | null;
}

function stats(xs: number[]): { mean: number; spread: number } {
  if (xs.length === 0) return { mean: Number.NaN, spread: Number.NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const spread = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, spread };
}

/** Mean ± sample standard deviation over the seeds of each group, best final accuracy first. */
export function aggregate(items: ResultInput[]): ResultRow[] {
  const groups = new Map<string, ResultInput[]>();
  for (const it of items) {
    if (it.evals.length === 0) continue;
    const k = groupKey(it.label);
    groups.set(k, [...(groups.get(k) ?? []), it]);
  }
  return [...groups].map(([group, xs]) => ({
    group, method: xs[0].method, runs: xs.length,
    final: stats(xs.map((x) => x.evals[x.evals.length - 1])),
    best: stats(xs.map((x) => Math.max(...x.evals))),
    trainable: xs[0].trainable, seconds: xs.reduce((a, x) => a + x.seconds, 0) / xs.length,
    paper: PAPER_ACCURACY[xs[0].method] ?? null,
  })).sort((a, b) => b.final.mean - a.final.mean);
}
