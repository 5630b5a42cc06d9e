// High-frequency metrics live here, outside React state: one typed ring buffer per metric per run.
// Charts subscribe to `seriesClock` (a zustand store holding only a version number) and redraw
// on canvas when it ticks; no React render happens per data point.
import { createStore } from 'zustand/vanilla';
import type { EvalRecord, StepMetrics } from '../rl/trainer.ts';

/** A fixed-capacity FIFO of float64 values: pushing past capacity drops the oldest. */
export class Ring {
  private readonly data: Float64Array;
  private start = 0;
  length = 0;

  constructor(readonly capacity: number) {
    this.data = new Float64Array(capacity);
  }

  push(x: number): void {
    if (this.length < this.capacity) this.data[(this.start + this.length++) % this.capacity] = x;
    else {
      this.data[this.start] = x;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  get(i: number): number {
    return this.data[(this.start + i) % this.capacity];
  }

  /** Keep the first n values. */
  truncate(n: number): void {
    this.length = Math.max(0, Math.min(this.length, n));
  }

  toArray(): Float64Array {
    const out = new Float64Array(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.get(i);
    return out;
  }
}

/** The numeric step metrics the lab plots, plus the GPU bytes in use. */
export const STEP_KEYS = [
  'reward_mean', 'reward_std', 'accuracy', 'malformed_frac', 'loss', 'policy_loss', 'kl_loss', 'kl', 'entropy',
  'response_len', 'groups_kept', 'groups_total', 'clip_frac_low', 'clip_frac_high', 'grad_norm', 'lr',
  'rollout_tokens_per_s', 'train_tokens_per_s', 'time_rollout_s', 'time_train_s', 'gpu_bytes',
] as const;
export type StepKey = (typeof STEP_KEYS)[number];

export const CAPACITY = 20_000;

export class RunSeries {
  readonly step = new Ring(CAPACITY);
  readonly cols = Object.fromEntries(STEP_KEYS.map((k) => [k, new Ring(CAPACITY)])) as Record<StepKey, Ring>;
  /** Held-out evaluations by split: step, avg@k, pass@k. */
  readonly evals = new Map<string, { step: Ring; avg: Ring; pass: Ring }>();

  pushStep(m: StepMetrics, gpuBytes: number | null): void {
    // A replayed step (after a device loss, resumed from a checkpoint) replaces what followed it.
    const n = this.step.length;
    if (n > 0 && this.step.get(n - 1) >= m.step) this.truncateAfter(m.step - 1);
    this.step.push(m.step);
    for (const k of STEP_KEYS) {
      const v = k === 'gpu_bytes' ? gpuBytes : m[k];
      this.cols[k].push(v === null || v === undefined ? Number.NaN : v);
    }
  }

  pushEval(r: EvalRecord): void {
    let e = this.evals.get(r.split);
    if (!e) this.evals.set(r.split, (e = { step: new Ring(CAPACITY), avg: new Ring(CAPACITY), pass: new Ring(CAPACITY) }));
    const n = e.step.length;
    if (n > 0 && e.step.get(n - 1) >= r.step) {
      let keep = n;
      while (keep > 0 && e.step.get(keep - 1) >= r.step) keep--;
      for (const ring of [e.step, e.avg, e.pass]) ring.truncate(keep);
    }
    e.step.push(r.step);
    e.avg.push(r.avg_at_k);
    e.pass.push(r.pass_at_k);
  }

  /** Drop every step after `step` (a resume from an earlier checkpoint). */
  truncateAfter(step: number): void {
    let keep = this.step.length;
    while (keep > 0 && this.step.get(keep - 1) > step) keep--;
    this.step.truncate(keep);
    for (const k of STEP_KEYS) this.cols[k].truncate(keep);
    for (const e of this.evals.values()) {
      let k = e.step.length;
      while (k > 0 && e.step.get(k - 1) > step) k--;
      for (const ring of [e.step, e.avg, e.pass]) ring.truncate(k);
    }
  }

  get length(): number {
    return this.step.length;
  }
}

const registry = new Map<string, RunSeries>();

/** Ticks whenever any series changes; charts subscribe to it (transient updates). */
export const seriesClock = createStore<{ version: number }>(() => ({ version: 0 }));

export function tick(): void {
  seriesClock.setState((s) => ({ version: s.version + 1 }));
}

export function seriesFor(runId: string): RunSeries {
  let s = registry.get(runId);
  if (!s) registry.set(runId, (s = new RunSeries()));
  return s;
}

export function peekSeries(runId: string): RunSeries | undefined {
  return registry.get(runId);
}

export function dropSeries(runId: string): void {
  registry.delete(runId);
  tick();
}
