import { describe, expect, expectTypeOf, it } from 'vitest';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { namedConfig, randomWeights } from '../model/init.ts';
import { Model } from '../model/model.ts';
import { defaultConfig } from '../rl/config.ts';
import { rollout } from '../rl/rollout.ts';
import { charTokenizer, getTask, Rng } from '../tasks/index.ts';
import { LabClient, type WorkerLike } from './client.ts';
import { groupViews } from './inspector.ts';
import { dispatch, type CheckpointSummary, type Handlers, type RequestMessage, type RunInfo, type WorkerEvent, type WorkerMessage } from './protocol.ts';

class FakeWorker implements WorkerLike {
  onmessage: ((ev: MessageEvent<WorkerMessage>) => void) | null = null;
  onerror: ((ev: ErrorEvent) => void) | null = null;
  sent: RequestMessage[] = [];
  postMessage(msg: unknown): void {
    this.sent.push(msg as RequestMessage);
  }
  terminate(): void {}
  reply(msg: WorkerMessage): void {
    this.onmessage?.({ data: msg } as MessageEvent<WorkerMessage>);
  }
}

describe('worker client', () => {
  it('every request resolves or rejects with its own reply; events go to the listener', async () => {
    const w = new FakeWorker();
    const events: WorkerEvent[] = [];
    const c = new LabClient(w, (e) => events.push(e));
    const a = c.request({ type: 'pause' });
    const b = c.request({ type: 'stop' });
    w.reply({ type: 'reply', id: w.sent[1].id, ok: false, error: 'nope' });
    w.reply({ type: 'event', event: { type: 'status', runId: 'r', state: 'paused', step: 3 } });
    w.reply({ type: 'reply', id: w.sent[0].id, ok: true, value: { step: 3 } });
    await expect(a).resolves.toEqual({ step: 3 });
    await expect(b).rejects.toThrow('nope');
    expect(events).toHaveLength(1);
    const d = c.request({ type: 'dispose' });
    c.terminate();
    await expect(d).rejects.toThrow(/stopped/);
  });

  it('request() infers its reply from the body\'s type, and checks the body against it', async () => {
    const c = new LabClient(new FakeWorker(), () => {});
    const started = c.request({ type: 'start', runId: 'r', config: defaultConfig('lora'), model: { kind: 'random', size: 'tiny' }, backend: 'cpu' });
    const loading = c.request({ type: 'loadModel', base: '/models/m' });
    const pausing = c.request({ type: 'pause' });
    expectTypeOf(started).toEqualTypeOf<Promise<RunInfo>>();
    expectTypeOf(loading).toEqualTypeOf<Promise<CheckpointSummary>>();
    expectTypeOf(pausing).toEqualTypeOf<Promise<{ step: number }>>();
    // @ts-expect-error loadModel needs the folder
    void c.request({ type: 'loadModel' }).catch(() => {});
    // @ts-expect-error no such request
    void c.request({ type: 'bogus' }).catch(() => {});
    c.terminate();
    for (const p of [started, loading, pausing]) await expect(p).rejects.toThrow(/stopped/);
  });
});

describe('worker handlers', () => {
  const never = () => {
    throw new Error('not called');
  };
  const handlers: Handlers = {
    start: never, loadModel: never, pause: () => ({ step: 7 }), resume: async () => ({ step: 8 }), stop: never, dispose: () => null,
    checkpoint: never, exportAdapter: never, loseDevice: never, gpu: never, checkEngine: never,
  };

  it('dispatch runs the handler of the request\'s type; an unknown type is named', async () => {
    expect(dispatch(handlers, { type: 'pause' })).toEqual({ step: 7 });
    await expect(dispatch(handlers, { type: 'resume' })).resolves.toEqual({ step: 8 });
    expect(() => dispatch(handlers, { type: 'bogus' } as never)).toThrow(/unexpected message \{"type":"bogus"\}/);
  });

  it('a handler must return its own type\'s reply', () => {
    // @ts-expect-error pause answers { step }, not null
    const wrong: Handlers['pause'] = () => null;
    // @ts-expect-error a handler map lists every request type
    const missing: Handlers = { pause: () => ({ step: 1 }) };
    expect([wrong, missing]).toHaveLength(2);
  });
});

describe('group inspector data', () => {
  it('has G samples per group, advantages that sum to 0 per group, and marks zero-variance groups', async () => {
    const cfg = { ...defaultConfig('full'), task: 'lastdigit', maxNewTokens: 2, overlongShaping: false };
    const task = getTask('lastdigit');
    const mc = namedConfig('tiny', charTokenizer.vocabSize, 40);
    const model = new Model(new CpuBackend(), mc, randomWeights(mc, 0));
    const rng = new Rng('t');
    const problems = Array.from({ length: 6 }, () => task.generate(rng));
    const ro = await rollout(model, charTokenizer, task, problems, 4, { temperature: 1, topP: 1, maxNewTokens: 2, seed: 1 });
    const groups = groupViews(ro, cfg, charTokenizer);
    expect(groups).toHaveLength(6);
    for (const g of groups) {
      expect(g.samples).toHaveLength(4);
      const sum = g.samples.reduce((a, s) => a + s.advantage, 0);
      expect(Math.abs(sum)).toBeLessThan(1e-9);
      expect(g.zeroVariance).toBe(g.samples.every((s) => s.reward === g.samples[0].reward));
      for (const s of g.samples) expect(s.tokens.length).toBeLessThanOrEqual(2); // maxNewTokens
    }
  });
});
