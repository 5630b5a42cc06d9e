import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { namedConfig, randomWeights } from '../model/init.ts';
import { Model } from '../model/model.ts';
import { defaultConfig } from '../rl/config.ts';
import { rollout } from '../rl/rollout.ts';
import { charTokenizer, getTask, Rng } from '../tasks/index.ts';
import { LabClient, type WorkerLike } from './client.ts';
import { groupViews } from './inspector.ts';
import type { Request, WorkerEvent, WorkerMessage } from './protocol.ts';

class FakeWorker implements WorkerLike {
  onmessage: ((ev: MessageEvent<WorkerMessage>) => void) | null = null;
  onerror: ((ev: ErrorEvent) => void) | null = null;
  sent: Request[] = [];
  postMessage(msg: unknown): void {
    this.sent.push(msg as Request);
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
    const a = c.request<'pause'>({ type: 'pause' });
    const b = c.request<'stop'>({ type: 'stop' });
    w.reply({ type: 'reply', id: w.sent[1].id, ok: false, error: 'nope' });
    w.reply({ type: 'event', event: { kind: 'status', runId: 'r', state: 'paused', step: 3 } });
    w.reply({ type: 'reply', id: w.sent[0].id, ok: true, value: { step: 3 } });
    await expect(a).resolves.toEqual({ step: 3 });
    await expect(b).rejects.toThrow('nope');
    expect(events).toHaveLength(1);
    const d = c.request<'dispose'>({ type: 'dispose' });
    c.terminate();
    await expect(d).rejects.toThrow(/stopped/);
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
