// The worker's run loop on the CPU backend, without a worker: start, pause, resume, stop, the
// events it posts, a resume from a checkpoint that replays the same metrics, and the adapter export.
import { describe, expect, it } from 'vitest';
import { defaultConfig, type RLConfig } from '../rl/config.ts';
import { exportBuilt, exportStored } from './export.ts';
import type { CheckpointData, WorkerEvent } from './protocol.ts';
import { Session } from './session.ts';

const tiny = { kind: 'random', size: 'tiny' } as const;

/** LoRA r16 on a random tiny model and the lastdigit warm-up (two new tokens), at a few prompts and steps. */
function config(over: Partial<RLConfig> = {}): RLConfig {
  const c = defaultConfig('lora');
  return {
    ...c, task: 'lastdigit', peft: { ...c.peft, r: 16, alpha: 64, dropout: 0, seed: 0 }, maxNewTokens: 2, overlongShaping: false, lr: 1e-2, seed: 0,
    groupSize: 4, promptsPerStep: 2, miniBatches: 1, dynamicSampling: false, evalProblems: 2, evalK: 1, evalEvery: 0, steps: 4, ...over,
  };
}

function harness() {
  const events: WorkerEvent[] = [];
  let wake: (() => void) | null = null;
  const session = new Session((e) => {
    events.push(e);
    wake?.();
  });
  const until = async (f: () => boolean) => {
    while (!f()) await new Promise<void>((r) => (wake = r));
  };
  const states = () => events.flatMap((e) => (e.type === 'status' ? [e.state] : []));
  const steps = () => events.flatMap((e) => (e.type === 'step' ? [e.metrics] : []));
  return { session, events, until, states, steps };
}

describe('worker session (CPU backend)', () => {
  it('runs to the end, posting steps, groups, evaluations and checkpoints', async () => {
    const h = harness();
    const info = await h.session.start({ type: 'start', runId: 'a', config: config(), model: tiny, backend: 'cpu' });
    expect(info.trainableParams).toBeGreaterThan(0);
    expect(info.reference).toMatch(/β = 0/);
    await h.until(() => h.states().includes('done'));
    expect(h.steps().map((m) => m.step)).toEqual([1, 2, 3, 4]);
    expect(h.events.filter((e) => e.type === 'eval')).toHaveLength(2); // baseline and final
    const groups = h.events.find((e) => e.type === 'groups');
    expect(groups?.type === 'groups' && groups.groups[0].samples).toHaveLength(4);
    expect(h.events.some((e) => e.type === 'checkpoint' && e.step === 4)).toBe(true);
    const out = await exportBuilt(h.session.current!, null);
    expect(Object.keys(out.files).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  }, 120_000);

  it('pause resolves once paused, resume and stop continue; a resumed run replays the same metrics', async () => {
    const h = harness();
    const cfg = config({ steps: 6 });
    await h.session.start({ type: 'start', runId: 'b', config: cfg, model: tiny, backend: 'cpu' });
    await h.until(() => h.steps().length >= 1);
    const { step } = await h.session.pause();
    expect(h.session.state).toBe('paused');
    const ck = h.events.filter((e): e is Extract<WorkerEvent, { type: 'checkpoint' }> => e.type === 'checkpoint').pop()?.checkpoint as CheckpointData;
    expect(ck.meta.trainer.step).toBe(step);
    expect(() => h.session.resume()).not.toThrow();
    await h.until(() => h.steps().length >= step + 1);
    await h.session.stop();
    expect(h.session.state).toBe('stopped');
    await expect(h.session.pause()).rejects.toThrow(/cannot pause/);

    // Continue from the pause checkpoint in a fresh session: the steps after it come out identical.
    const r = harness();
    await r.session.start({ type: 'start', runId: 'b', config: cfg, model: tiny, backend: 'cpu', resumeFrom: ck });
    await r.until(() => r.states().includes('done'));
    const strip = (m: { time_rollout_s: number }) => ({ ...m, time_rollout_s: 0, time_train_s: 0, rollout_tokens_per_s: 0, train_tokens_per_s: 0 });
    const first = h.steps().filter((m) => m.step > step).map(strip);
    expect(r.steps().slice(0, first.length).map(strip)).toEqual(first);

    // A stored run rebuilt from its checkpoint exports the same adapter as the live one.
    const last = r.events.filter((e): e is Extract<WorkerEvent, { type: 'checkpoint' }> => e.type === 'checkpoint').pop()!.checkpoint;
    const live = await exportBuilt(r.session.current!, null);
    const stored = await exportStored(new Session(() => {}), { config: cfg, model: tiny, checkpoint: last }, null);
    expect(stored.files['adapter_model.safetensors']).toEqual(live.files['adapter_model.safetensors']);
  }, 120_000);

  it('reports evaluation and rollout progress between decode chunks; Stop drops the step under way, which then replays identically', async () => {
    // arith: up to 101 new tokens, so decoding passes chunk boundaries (every 16 tokens).
    const cfg = config({ task: 'arith', maxNewTokens: 101, steps: 3, evalProblems: 8, evalK: 2 });
    const h = harness();
    await h.session.start({ type: 'start', runId: 'p', config: cfg, model: tiny, backend: 'cpu' });
    const progress = () => h.events.flatMap((e) => (e.type === 'progress' ? [e] : []));
    await h.until(() => progress().some((p) => p.phase === 'rollout' && p.step === 1));
    // The baseline evaluation reported its progress before its record, ending at all problems.
    const firstEval = h.events.findIndex((e) => e.type === 'eval');
    const evalProgress = h.events.slice(0, firstEval).flatMap((e) => (e.type === 'progress' ? [e] : []));
    expect(evalProgress.some((p) => !Number.isInteger(p.done))).toBe(true); // inside a chunk's decode, not only after it
    expect(evalProgress.every((p) => p.phase === 'eval' && p.step === 0 && p.total === 16 && p.done <= p.total)).toBe(true);
    expect(evalProgress.map((p) => p.done)).toEqual([...evalProgress.map((p) => p.done)].sort((a, b) => a - b));
    expect(evalProgress.at(-1)!.done).toBe(16);
    // Stop in the middle of step 2's rollout: it answers without finishing the step.
    await expect(h.session.stop()).resolves.toEqual({ step: 1 });
    expect(h.steps().map((m) => m.step)).toEqual([1]);
    const ck = h.events.filter((e): e is Extract<WorkerEvent, { type: 'checkpoint' }> => e.type === 'checkpoint').pop()!;
    expect(ck.step).toBe(1);

    const whole = harness();
    await whole.session.start({ type: 'start', runId: 'q', config: cfg, model: tiny, backend: 'cpu' });
    await whole.until(() => whole.states().includes('done'));
    const resumed = harness();
    await resumed.session.start({ type: 'start', runId: 'p', config: cfg, model: tiny, backend: 'cpu', resumeFrom: ck.checkpoint });
    await resumed.until(() => resumed.states().includes('done'));
    const strip = (m: { time_rollout_s: number }) => ({ ...m, time_rollout_s: 0, time_train_s: 0, rollout_tokens_per_s: 0, train_tokens_per_s: 0 });
    expect(resumed.steps().map(strip)).toEqual(whole.steps().slice(1).map(strip));
  }, 120_000);

  it('a Stop while the model is being built still gets its answer, and nothing trains', async () => {
    const h = harness();
    const started = h.session.start({ type: 'start', runId: 'd', config: config(), model: tiny, backend: 'cpu' });
    const stopped = h.session.stop();
    await started;
    await expect(stopped).resolves.toEqual({ step: 0 });
    expect(h.states()).toEqual(['loading', 'stopped']);
    expect(h.steps()).toEqual([]);
  });

  it('rejects an invalid config with the field named', async () => {
    const h = harness();
    await expect(h.session.start({ type: 'start', runId: 'c', config: config({ lr: -1 }), model: tiny, backend: 'cpu' })).rejects.toThrow(/lr: must be in/);
    expect(h.states()).toEqual(['loading', 'failed']);
  });
});
