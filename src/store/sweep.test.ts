// The sweep's queue moves on when a run settles, even when the run settles while the sweep is still
// awaiting that run's (re)start: a short run resumed after a reload can finish before resumeRun's
// promise does, and the "settled" call that comes meanwhile must not be lost.
import { describe, expect, it, vi } from 'vitest';
import { create } from 'zustand';

const runs = new Map<string, { id: string; status: string }>();
const live = create<{ state: string; runId: string | null }>()(() => ({ state: 'idle', runId: null }));
const started: string[] = [];

vi.mock('./db.ts', () => ({ getKv: async () => undefined, putKv: async () => {} }));
vi.mock('./runs.ts', () => ({ runById: (id: string | null) => (id ? runs.get(id) : undefined) }));
vi.mock('./training.ts', () => ({
  useLive: live,
  hasLiveRun: (s: { state: string }) => s.state === 'running' || s.state === 'paused' || s.state === 'loading',
  newId: () => `run-${started.length + 1}`,
  // The resumed run runs to its end before the start request returns.
  resumeRun: async (runId: string) => {
    live.setState({ state: 'running', runId });
    runs.set(runId, { id: runId, status: 'done' });
    live.setState({ state: 'done' });
    await new Promise((r) => setTimeout(r, 10));
  },
  startRun: async (opts: { id: string }) => {
    started.push(opts.id);
    live.setState({ state: 'running', runId: opts.id });
    return opts.id;
  },
}));

const { advance, useSweep } = await import('./sweep.ts');

describe('sweep queue', () => {
  it('starts the next item when the resumed run finishes before its start returns', async () => {
    runs.set('r0', { id: 'r0', status: 'interrupted' });
    const item = (runId: string | null, status: 'running' | 'queued') => ({ label: runId ?? 'next', config: {} as never, runId, status });
    useSweep.setState({
      sweep: {
        id: 's', name: 'S', createdAt: 0, model: { kind: 'random', size: 'tiny' } as never, backend: 'cpu' as never, active: true, note: null,
        items: [item('r0', 'running'), item(null, 'queued')],
      },
    });
    await advance();
    await vi.waitFor(() => expect(started).toEqual(['run-1']));
    expect(useSweep.getState().sweep?.items.map((it) => it.status)).toEqual(['done', 'running']);
  });
});
