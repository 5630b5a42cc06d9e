// The spectral records of this page's runs (src/peft/spectral.ts), per run, in step order: what the
// Spectral panel draws. Kept in memory for the page's lifetime (a reload keeps the runs' metrics in
// IndexedDB, not these), and dropped with the run.
import { create } from 'zustand';
import type { SpectralRecord } from '../peft/spectral.ts';

export const useSpectral = create<{ byRun: Record<string, SpectralRecord[]> }>()(() => ({ byRun: {} }));

export function addSpectral(runId: string, r: SpectralRecord): void {
  const byRun = useSpectral.getState().byRun;
  const kept = (byRun[runId] ?? []).filter((x) => x.step < r.step); // a replayed step replaces its record
  useSpectral.setState({ byRun: { ...byRun, [runId]: [...kept, r] } });
}

export function dropSpectral(runId: string): void {
  const { [runId]: _, ...rest } = useSpectral.getState().byRun;
  useSpectral.setState({ byRun: rest });
}
