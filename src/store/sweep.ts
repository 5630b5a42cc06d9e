// The sweep runner: a queue of configs that run one after another through the same worker. The
// queue lives in IndexedDB, so a reload picks it up again: the run that was in progress continues
// from its last checkpoint, then the queue moves on.
import { create } from 'zustand';
import type { ModelSource } from '../model/source.ts';
import type { RLConfig } from '../rl/config.ts';
import type { BackendChoice } from '../worker/protocol.ts';
import { getKv, putKv } from './db.ts';
import type { GridItem } from './grid.ts';
import { runById } from './runs.ts';
import { hasLiveRun, newId, resumeRun, startRun, useLive } from './training.ts';

export type ItemStatus = 'queued' | 'running' | 'done' | 'failed' | 'stopped';

export interface SweepItem {
  label: string;
  config: RLConfig;
  runId: string | null;
  status: ItemStatus;
}

export interface Sweep {
  id: string;
  name: string;
  createdAt: number;
  model: ModelSource;
  backend: BackendChoice;
  items: SweepItem[];
  /** Runs the next item whenever nothing is training. */
  active: boolean;
  note: string | null;
}

export const useSweep = create<{ sweep: Sweep | null }>()(() => ({ sweep: null }));

const KEY = 'sweep';

function save(sweep: Sweep | null): void {
  useSweep.setState({ sweep });
  void putKv(KEY, sweep);
}

function patch(f: (s: Sweep) => Sweep): void {
  const s = useSweep.getState().sweep;
  if (s) save(f(s));
}

export function createSweep(name: string, items: GridItem[], model: ModelSource, backend: BackendChoice): void {
  save({
    id: newId(), name: name.trim().slice(0, 60) || 'Sweep', createdAt: Date.now(), model, backend, active: true, note: null,
    items: items.map((it) => ({ label: it.label, config: it.config, runId: null, status: 'queued' })),
  });
  void advance();
}

export function pauseSweep(): void {
  patch((s) => ({ ...s, active: false, note: 'Paused: the current run finishes, then the queue waits.' }));
}

export function continueSweep(): void {
  patch((s) => ({ ...s, active: true, note: null }));
  void advance();
}

export function clearSweep(): void {
  save(null);
}

let advancing = false;
/** A call that came while another was advancing: that one runs again when it is done. (A short run
 * can finish while its start is still being awaited; its "settled" call must not be lost.) */
let again = false;

/** Settle the running item from its run's status, then start the next queued one. */
export async function advance(): Promise<void> {
  if (advancing) {
    again = true;
    return;
  }
  advancing = true;
  try {
    const sweep = useSweep.getState().sweep;
    if (!sweep) return;
    const live = useLive.getState();
    let items = sweep.items.map((it) => {
      if (it.status !== 'running' || !it.runId) return it;
      if (it.runId === live.runId && hasLiveRun(live)) return it;
      const run = runById(it.runId);
      if (!run) return { ...it, status: 'queued' as const, runId: null }; // the page closed before the run was created
      const st = run.status;
      const next: ItemStatus | null = st === 'done' ? 'done' : st === 'failed' ? 'failed' : st === 'stopped' || st === 'lost' ? 'stopped' : null;
      return next ? { ...it, status: next } : it;
    });
    const stopped = items.some((it, i) => it.status === 'stopped' && sweep.items[i].status === 'running');
    const active = sweep.active && !stopped;
    const note = stopped ? 'Paused: a run of the sweep was stopped (or lost its GPU). Continue the sweep to go on.' : sweep.note;
    save({ ...sweep, items, active, note });
    if (!active || hasLiveRun(useLive.getState())) return;
    // A run interrupted by a reload, or stopped, continues from its checkpoint before the queue moves on.
    const unfinished = items.findIndex((it) => it.runId && (it.status === 'stopped' || (it.status === 'running' && runById(it.runId)?.status === 'interrupted')));
    if (unfinished >= 0) {
      const runId = items[unfinished].runId as string;
      save({ ...(useSweep.getState().sweep as Sweep), items: items.map((it, k) => (k === unfinished ? { ...it, status: 'running' } : it)) });
      await resumeRun(runId);
      return;
    }
    const i = items.findIndex((it) => it.status === 'queued');
    if (i < 0) {
      save({ ...useSweep.getState().sweep as Sweep, active: false, note: 'Finished.' });
      return;
    }
    const item = items[i];
    // The run's id goes into the queue before the run exists, so a reload in between cannot start it twice.
    const id = newId();
    save({ ...(useSweep.getState().sweep as Sweep), items: items.map((it, k) => (k === i ? { ...it, runId: id, status: 'running' } : it)) });
    const runId = await startRun({ id, config: item.config, model: sweep.model, backend: sweep.backend, sweepId: sweep.id, name: `${sweep.name}: ${item.label}`, select: false });
    if (!runId) save({ ...(useSweep.getState().sweep as Sweep), items: (useSweep.getState().sweep as Sweep).items.map((it, k) => (k === i ? { ...it, status: 'failed' } : it)) });
  } finally {
    advancing = false;
    if (again) {
      again = false;
      void advance();
    }
  }
}

/** Bring a sweep back after a reload (call after the runs are loaded). */
export async function loadSweep(): Promise<void> {
  const s = await getKv<Sweep | null>(KEY);
  if (!s || !Array.isArray(s.items)) return;
  useSweep.setState({ sweep: s });
  if (s.active) void advance();
}

// Whenever the live run settles, the queue moves on.
useLive.subscribe((s, prev) => {
  if (s.state !== prev.state && !hasLiveRun(s) && useSweep.getState().sweep?.active) setTimeout(() => void advance(), 0);
});
