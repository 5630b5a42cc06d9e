// How every number in the bench is taken: warm-up runs first (pipeline compilation, buffer
// creation, first-touch costs), then `reps` timed runs; the reported figure is the median, and
// every run's time is kept for the JSON.
//
// GPU timings encode `iters` iterations into the open command encoder untimed, then time
// submit → onSubmittedWorkDone: the time the GPU needs for the work plus one submission's latency,
// spread over the iterations. `iters` is chosen so the GPU work of a run lasts about `targetMs`,
// from the slope between warm-up runs of 1 and of several iterations (a runtime's completion latency
// can be far above the work: Deno/wgpu reported completion ~11 ms after submit on an H200, where a
// small matmul takes 0.03 ms), but capped so every iteration fits in one submission (the context
// flushes when its uniform arena is full, and an early flush would start the clock late). Wall timings (a training step, a
// rollout) are end to end, CPU encoding and readbacks included, one iteration per run.

export interface TimeOptions {
  /** Untimed runs before the timed ones (at least 1). */
  warmup: number;
  /** Timed runs. */
  reps: number;
  /** Aim for a timed run of about this long (GPU timings). */
  targetMs: number;
  /** Never encode more iterations than this per run. */
  maxIters: number;
}

export interface Timing {
  /** Median per-iteration time over the timed runs, ms. */
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Every timed run's per-iteration time, ms, in the order taken. */
  runsMs: number[];
  /** Iterations per timed run. */
  iters: number;
  /** Untimed warm-up runs. */
  warmup: number;
  /** gpu: submit → onSubmittedWorkDone around pre-encoded iterations; wall: end-to-end. */
  clock: 'gpu' | 'wall';
}

export const now = (): number => globalThis.performance.now();

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

function summarise(runsMs: number[], iters: number, warmup: number, clock: Timing['clock']): Timing {
  return { medianMs: median(runsMs), minMs: Math.min(...runsMs), maxMs: Math.max(...runsMs), runsMs, iters, warmup, clock };
}

/** What a GPU timing needs from whoever encodes the work. */
export interface GpuClock {
  /** Submit everything encoded so far and wait until the GPU has finished it. */
  finish(): Promise<void>;
  /** Submissions so far (to detect an early flush while encoding); null when unknown. */
  submissions(): number | null;
  /** Dispatches so far (to size `iters` against the one-submission cap); null when unknown. */
  dispatches(): number | null;
}

/** The most dispatches one timed run may encode: the engine's uniform arena holds 4096 slots. */
export const MAX_DISPATCHES_PER_RUN = 4000;

/** Time `encode` (which only encodes work) on the GPU; see the file header. */
export async function timeGpu(encode: () => void, clock: GpuClock, o: TimeOptions): Promise<Timing> {
  await clock.finish();
  const run = async (k: number): Promise<number> => {
    const t0 = now();
    for (let i = 0; i < k; i++) encode();
    await clock.finish();
    return now() - t0;
  };
  // The first warm-up compiles and allocates; it also counts the dispatches of one iteration.
  const d0 = clock.dispatches();
  let one = await run(1);
  const d1 = clock.dispatches();
  const perIter = d0 !== null && d1 !== null ? Math.max(1, d1 - d0) : 1;
  const cap = Math.max(1, Math.min(o.maxIters, Math.floor(MAX_DISPATCHES_PER_RUN / perIter)));
  for (let w = 1; w < Math.max(1, o.warmup); w++) one = Math.min(one, await run(1));
  // Grow the run until its work clearly exceeds the fixed latency, then take the slope.
  let k = 1, tk = one;
  while (k < cap && tk < 2 * one + o.targetMs / 4) tk = await run((k = Math.min(cap, k * 8)));
  const slope = k > 1 && tk > one ? (tk - one) / (k - 1) : tk / k;
  const iters = Math.max(1, Math.min(cap, Math.round(o.targetMs / Math.max(slope, 1e-3))));
  const runs: number[] = [];
  for (let r = 0; r < o.reps; r++) {
    const s0 = clock.submissions();
    for (let i = 0; i < iters; i++) encode();
    const early = s0 !== null && clock.submissions() !== s0;
    const t0 = now();
    await clock.finish();
    const dt = now() - t0;
    if (early) throw new Error('a timed run flushed while encoding: lower maxIters');
    runs.push(dt / iters);
  }
  return summarise(runs, iters, Math.max(1, o.warmup), 'gpu');
}

/** Time an end-to-end async operation, one iteration per run. `after` (untimed) runs after each. */
export async function timeWall(run: () => Promise<void>, o: Pick<TimeOptions, 'warmup' | 'reps'>): Promise<Timing> {
  for (let w = 0; w < o.warmup; w++) await run();
  const runs: number[] = [];
  for (let r = 0; r < o.reps; r++) {
    const t0 = now();
    await run();
    runs.push(now() - t0);
  }
  return summarise(runs, 1, o.warmup, 'wall');
}

/** Summarise runs measured by the caller (e.g. one phase of a multi-phase step). */
export function fromRuns(runsMs: number[], warmup: number, clock: Timing['clock'] = 'wall'): Timing {
  return summarise(runsMs, 1, warmup, clock);
}
