// The runs slice: every stored run (IndexedDB), its colour, which ones are overlaid on the charts,
// and the actions on the list (load, select, delete, rename). Metrics go to the ring buffers in
// series.ts, spectral records to spectral.ts, not here.
import { create } from 'zustand';
import { dropSpectral, setSpectral } from './spectral.ts';
import { allRuns, deleteRun, putRun, runEvals, runSpectral, runSteps, type RunRecord } from './db.ts';
import { dropSeries, seriesFor, tick } from './series.ts';

export interface RunsState {
  runs: RunRecord[];
  /** Runs overlaid on the charts (the live run is always shown). */
  selected: string[];
  loaded: boolean;
  /** A message about the last list action (import, delete), for a status line. */
  notice: string | null;
}

export const useRuns = create<RunsState>()(() => ({ runs: [], selected: [], loaded: false, notice: null }));

/** Distinct colours that read on light and dark backgrounds. */
export const PALETTE = ['#2f6fde', '#e0592a', '#1d9a6c', '#a347c9', '#c9a200', '#d6336c', '#1597b5', '#7a6cf0', '#6b8e23', '#8c564b'];

export function nextColor(runs: RunRecord[]): string {
  const used = new Set(runs.map((r) => r.color));
  return PALETTE.find((c) => !used.has(c)) ?? PALETTE[runs.length % PALETTE.length];
}

// The overlay selection is a small preference: kept in localStorage, written synchronously, so a
// reload right after a click keeps it (an IndexedDB write can be cut off by the unload).
const SELECTED_KEY = 'rlvr-lab:selected';

function storedSelection(): string[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(SELECTED_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function storeSelection(): void {
  try {
    localStorage.setItem(SELECTED_KEY, JSON.stringify(useRuns.getState().selected));
  } catch {
    // storage full or disabled: the selection just does not survive a reload
  }
}

export function runById(id: string | null): RunRecord | undefined {
  return id ? useRuns.getState().runs.find((r) => r.id === id) : undefined;
}

/** Put a run in the list and in IndexedDB. */
export async function saveRun(r: RunRecord): Promise<void> {
  useRuns.setState((s) => {
    const i = s.runs.findIndex((x) => x.id === r.id);
    return { runs: i < 0 ? [...s.runs, r] : s.runs.map((x) => (x.id === r.id ? r : x)) };
  });
  await putRun(r);
}

export function patchRun(id: string, patch: Partial<RunRecord>): Promise<void> {
  const r = runById(id);
  return r ? saveRun({ ...r, ...patch }) : Promise.resolve();
}

async function fillSeries(id: string): Promise<void> {
  const [steps, evals, spectral] = await Promise.all([runSteps(id), runEvals(id), runSpectral(id)]);
  const s = seriesFor(id);
  for (const row of steps) s.pushStep(row, row.gpu_bytes);
  for (const e of evals.sort((a, b) => a.step - b.step)) s.pushEval(e);
  setSpectral(id, spectral.map(({ runId: _r, ...r }) => r));
}

/** Read every run back from IndexedDB (page load). Runs that were live when the page closed are
 * marked interrupted: their checkpoint lets them continue. */
export async function loadRuns(): Promise<void> {
  try {
    const runs = await allRuns();
    for (const r of runs) {
      if (r.status === 'running' || r.status === 'paused' || r.status === 'loading') {
        r.status = 'interrupted';
        r.message = 'The page was closed while this run was in progress.';
        await putRun(r);
      }
    }
    await Promise.all(runs.map((r) => fillSeries(r.id)));
    const selected = storedSelection().filter((id) => runs.some((r) => r.id === id));
    useRuns.setState({ runs, selected, loaded: true });
    tick();
  } catch (e) {
    useRuns.setState({ loaded: true, notice: `Stored runs could not be read: ${e instanceof Error ? e.message : String(e)}` });
  }
}

export function setSelected(id: string, on: boolean): void {
  useRuns.setState((s) => ({ selected: on ? [...new Set([...s.selected, id])] : s.selected.filter((x) => x !== id) }));
  storeSelection();
  tick();
}

/** The run leaves the list at once; "Deleted …" is said once it is gone from storage too. */
export async function removeRun(id: string): Promise<void> {
  const r = runById(id);
  useRuns.setState((s) => ({ runs: s.runs.filter((x) => x.id !== id), selected: s.selected.filter((x) => x !== id), notice: null }));
  dropSeries(id);
  dropSpectral(id);
  storeSelection();
  await deleteRun(id);
  if (r) useRuns.setState({ notice: `Deleted ${r.name}.` });
}

export function setNotice(notice: string | null): void {
  useRuns.setState({ notice });
}
