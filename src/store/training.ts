// The live run: the worker client, the run's state as the worker reports it, the latest step's
// values (components select single fields), the group inspector's data, and the run controls as
// module-level actions (start, pause, resume, stop, reset).
import { create } from 'zustand';
import type { ModelSource } from '../model/source.ts';
import type { EvalRecord, StepMetrics } from '../rl/trainer.ts';
import type { BackendChoice, CheckpointData, GroupView, RunInfo, RunState, WorkerEvent } from '../worker/protocol.ts';
import type { RLConfig } from '../rl/config.ts';
import { loadModelFiles, modelConfigOf, settledBackend, useConfig } from './config.ts';
import { configIssues } from './validate.ts';
import { getCheckpoint, putCheckpoint, putEval, putSpectral, putStep, truncateRun, type RunRecord } from './db.ts';
import { nextColor, patchRun, removeRun, runById, saveRun, setSelected, useRuns } from './runs.ts';
import { seriesFor, tick } from './series.ts';
import { addSpectral } from './spectral.ts';
import { labClient, onWorkerEvent } from './worker.ts';

export type LiveStatus = RunState | 'idle';
export type Pending = 'start' | 'pause' | 'resume' | 'stop' | 'reset' | 'export' | null;

export interface LiveState {
  runId: string | null;
  state: LiveStatus;
  step: number;
  message: string | null;
  info: RunInfo | null;
  latest: StepMetrics | null;
  gpuBytes: number | null;
  evals: EvalRecord[];
  evalSeconds: number | null;
  groups: { step: number; groups: GroupView[] } | null;
  /** The action waiting for the worker's reply, if any. */
  pending: Pending;
  /** The last action's error, in words. */
  error: string | null;
  /** Step of the last checkpoint the page holds for the live run. */
  checkpointStep: number | null;
  /** Where sampling is inside the current step or evaluation (null between them). */
  progress: { phase: 'rollout' | 'eval'; step: number; done: number; total: number } | null;
}

const initial: LiveState = {
  runId: null, state: 'idle', step: 0, message: null, info: null, latest: null, gpuBytes: null, evals: [], evalSeconds: null,
  groups: null, pending: null, error: null, checkpointStep: null, progress: null,
};

export const useLive = create<LiveState>()(() => ({ ...initial }));

onWorkerEvent(onEvent);

const isLive = (runId: string) => useLive.getState().runId === runId;

function onEvent(e: WorkerEvent): void {
  switch (e.type) {
    case 'status': {
      if (isLive(e.runId)) useLive.setState({ state: e.state, step: e.step, message: e.message ?? null, ...(e.state === 'running' ? {} : { progress: null }) });
      void patchRun(e.runId, { status: e.state, step: e.step, message: e.message });
      return;
    }
    case 'step': {
      seriesFor(e.runId).pushStep(e.metrics, e.gpuBytes);
      tick();
      if (isLive(e.runId)) useLive.setState({ latest: e.metrics, gpuBytes: e.gpuBytes, step: e.metrics.step, progress: null });
      const r = runById(e.runId);
      if (r) void patchRun(e.runId, { step: e.metrics.step, seconds: r.seconds + e.metrics.time_rollout_s + e.metrics.time_train_s });
      void putStep({ ...e.metrics, runId: e.runId, gpu_bytes: e.gpuBytes });
      return;
    }
    case 'eval': {
      const s = seriesFor(e.runId);
      for (const r of e.records) {
        s.pushEval(r);
        void putEval({ ...r, runId: e.runId });
      }
      tick();
      if (isLive(e.runId)) useLive.setState({ evals: e.records, evalSeconds: e.seconds, progress: null });
      return;
    }
    case 'groups':
      if (isLive(e.runId)) useLive.setState({ groups: { step: e.step, groups: e.groups } });
      return;
    case 'checkpoint':
      if (isLive(e.runId)) useLive.setState({ checkpointStep: e.step });
      void putCheckpoint({ runId: e.runId, step: e.step, checkpoint: e.checkpoint });
      return;
    case 'progress':
      if (isLive(e.runId) && useLive.getState().state === 'running') useLive.setState({ progress: { phase: e.phase, step: e.step, done: e.done, total: e.total } });
      return;
    case 'download':
      return; // the model loader's (config.ts)
    case 'check':
    case 'gpuLost':
      return; // the GPU card's and the engine check's (lab.ts)
    case 'spectral':
      addSpectral(e.runId, e.record);
      void putSpectral({ ...e.record, runId: e.runId });
      return;
    default: {
      const never: never = e;
      throw new Error(`unexpected event ${JSON.stringify(never)}`);
    }
  }
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function act<T>(pending: Pending, f: () => Promise<T>): Promise<T | undefined> {
  useLive.setState({ pending, error: null });
  try {
    return await f();
  } catch (e) {
    useLive.setState({ error: message(e) });
    return undefined;
  } finally {
    useLive.setState({ pending: null });
  }
}

function newRunName(runs: RunRecord[]): string {
  const n = runs.reduce((m, r) => Math.max(m, Number(/^Run (\d+)$/.exec(r.name)?.[1] ?? 0)), 0);
  return `Run ${n + 1}`;
}

export function newId(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export interface StartOptions {
  config?: RLConfig;
  model?: ModelSource;
  backend?: BackendChoice;
  sweepId?: string;
  /** The run's id, when the caller must record it before the run exists (a sweep's queue). */
  id?: string;
  name?: string;
  /** Overlay the new run on the charts (sweeps do not, to keep the charts readable). */
  select?: boolean;
}

/** A checkpoint base model downloaded and checked (the worker keeps it); random models need nothing. */
async function modelReady(model: ModelSource): Promise<void> {
  if (model.kind === 'url') await loadModelFiles(model.base);
}

/** Start a new run with the configured experiment (or the given one). Resolves once the worker has built it. */
export async function startRun(opts: StartOptions = {}): Promise<string | undefined> {
  const cs = useConfig.getState();
  const config = opts.config ?? cs.config, model = opts.model ?? cs.model;
  if (hasLiveRun(useLive.getState())) return undefined;
  // The model first (usually already downloaded while the visitor chose settings): its config sizes the checks.
  const ready = await act('start', () => modelReady(model).then(() => true));
  if (!ready) return undefined;
  const issues = configIssues(config, modelConfigOf({ config, model, modelLoad: useConfig.getState().modelLoad }));
  if (issues.length) {
    useLive.setState({ error: `Fix ${issues.length === 1 ? 'the highlighted setting' : `the ${issues.length} highlighted settings`} first.` });
    return undefined;
  }
  if (hasLiveRun(useLive.getState())) return undefined;
  const backend = opts.backend ?? (await settledBackend());
  if (hasLiveRun(useLive.getState())) return undefined;
  const runs = useRuns.getState().runs;
  const run: RunRecord = {
    id: opts.id ?? newId(), name: opts.name ?? newRunName(runs), color: nextColor(runs), createdAt: Date.now(), config, model,
    backend, status: 'loading', step: 0, seconds: 0, sweepId: opts.sweepId,
  };
  useLive.setState({ ...initial, runId: run.id, state: 'loading' });
  await saveRun(run);
  if (opts.select !== false) setSelected(run.id, true);
  seriesFor(run.id);
  tick();
  return act('start', async () => {
    const info = await labClient().request({ type: 'start', runId: run.id, config: run.config, model: run.model, backend: run.backend });
    useLive.setState({ info });
    await patchRun(run.id, { info });
    return run.id;
  });
}

export function pauseRun(): Promise<unknown> {
  return act('pause', () => labClient().request({ type: 'pause' }));
}

/** Resume a paused run, or continue a run from its last checkpoint (after a lost device, a stop, or a reload). */
export async function resumeRun(runId: string | null = useLive.getState().runId): Promise<unknown> {
  const live = useLive.getState();
  if (runId && runId === live.runId && live.state === 'paused') return act('resume', () => labClient().request({ type: 'resume' }));
  const run = runById(runId);
  if (!run) return undefined;
  return act('resume', async () => {
    await modelReady(run.model); // a failure leaves the run as it was
    const ck = await getCheckpoint(run.id);
    const from = ck?.step ?? -1;
    await truncateRun(run.id, from);
    seriesFor(run.id).truncateAfter(from);
    tick();
    useLive.setState({ ...initial, runId: run.id, state: 'loading', step: Math.max(0, from), checkpointStep: ck?.step ?? null, pending: 'resume' });
    const resumeFrom: CheckpointData | undefined = ck?.checkpoint;
    const info = await labClient().request({ type: 'start', runId: run.id, config: run.config, model: run.model, backend: run.backend, resumeFrom });
    useLive.setState({ info });
    await patchRun(run.id, { info });
  });
}

export function stopRun(): Promise<unknown> {
  return act('stop', () => labClient().request({ type: 'stop' }));
}

/** Back to step 0: free the model in the worker and throw an unfinished live run away (a finished
 * one stays in the list); Start then repeats the experiment with the same seed. */
export async function resetRun(): Promise<void> {
  const { runId, state } = useLive.getState();
  await act('reset', async () => {
    await labClient().request({ type: 'dispose' });
    if (runId && state !== 'done') await removeRun(runId);
  });
  useLive.setState({ ...initial });
}

/** Test aid (dev builds): lose the GPU device as a driver reset would. */
export function loseDevice(): Promise<unknown> {
  return labClient().request({ type: 'loseDevice' });
}

export function hasLiveRun(s: LiveState): boolean {
  return s.state === 'running' || s.state === 'paused' || s.state === 'loading';
}

/** The run's trained adapter as PEFT files (or, for full fine-tuning, the model's weights): from the
 * live run in the worker, or rebuilt on the CPU from the run's stored checkpoint. */
export async function adapterFiles(runId: string): Promise<{ files: Record<string, Uint8Array | string>; format: 'peft' | 'safetensors' } | undefined> {
  const run = runById(runId);
  if (!run) return undefined;
  return act('export', async () => {
    const live = useLive.getState();
    const inMemory = live.runId === runId && live.state !== 'lost' && live.state !== 'failed' && live.state !== 'idle';
    if (inMemory && live.state === 'running') throw new Error('pause or stop the run first, then export');
    const ck = inMemory ? undefined : await getCheckpoint(runId);
    if (!inMemory && !ck) throw new Error('this run has no stored checkpoint (it is written every 5 steps, on pause, stop and at the end)');
    if (!inMemory) await modelReady(run.model);
    return labClient().request({
      type: 'exportAdapter', runId, model: run.model, stored: ck ? { config: run.config, model: run.model, checkpoint: ck.checkpoint } : undefined,
    });
  });
}
