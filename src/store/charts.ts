// Chart preferences (smoothing, log axes) and which runs the charts show.
import { create } from 'zustand';
import type { RunRecord } from './db.ts';
import { useRuns } from './runs.ts';
import { hasLiveRun, useLive, type LiveState } from './training.ts';

export interface ChartPrefs {
  /** EMA weight in [0, 0.99]; 0 shows the raw points only. */
  smoothing: number;
  /** Chart ids drawn on a log y axis. */
  log: Record<string, boolean>;
}

export const useChartPrefs = create<ChartPrefs>()(() => ({ smoothing: 0.6, log: { grad_norm: true, throughput: true } }));

export function setSmoothing(w: number): void {
  if (Number.isFinite(w)) useChartPrefs.setState({ smoothing: Math.min(0.99, Math.max(0, w)) });
}

export function setLog(chart: string, on: boolean): void {
  useChartPrefs.setState((s) => ({ log: { ...s.log, [chart]: on } }));
}

const activeRun = (s: LiveState) => (hasLiveRun(s) ? s.runId : null);

/** The runs on the charts: the selected ones and the run in progress, in list order. */
export function shownRuns(): RunRecord[] {
  const live = activeRun(useLive.getState());
  const { runs, selected } = useRuns.getState();
  return runs.filter((r) => r.id === live || selected.includes(r.id));
}

/** A string that changes whenever the shown runs (or their names and colours) change. */
export function useShownSignature(): string {
  const live = useLive(activeRun);
  return useRuns((s) => s.runs.filter((r) => r.id === live || s.selected.includes(r.id)).map((r) => `${r.id}:${r.color}:${r.name}`).join('|'));
}
