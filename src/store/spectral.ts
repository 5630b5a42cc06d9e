// The spectral records of the stored runs (src/peft/spectral.ts), per run, in step order: what the
// Spectral panel draws. Written to IndexedDB as they arrive (training.ts), read back on page load
// (runs.ts), dropped with the run.
import { create } from 'zustand';
import type { SpectralRecord } from '../peft/spectral.ts';

export const useSpectral = create<{ byRun: Record<string, SpectralRecord[]> }>()(() => ({ byRun: {} }));

export function addSpectral(runId: string, r: SpectralRecord): void {
  const byRun = useSpectral.getState().byRun;
  const kept = (byRun[runId] ?? []).filter((x) => x.step < r.step); // a replayed step replaces its record
  useSpectral.setState({ byRun: { ...byRun, [runId]: [...kept, r] } });
}

/** A run's records as stored (page load). */
export function setSpectral(runId: string, records: SpectralRecord[]): void {
  if (!records.length) return;
  useSpectral.setState((s) => ({ byRun: { ...s.byRun, [runId]: [...records].sort((a, b) => a.step - b.step) } }));
}

export function dropSpectral(runId: string): void {
  const { [runId]: _, ...rest } = useSpectral.getState().byRun;
  useSpectral.setState({ byRun: rest });
}
