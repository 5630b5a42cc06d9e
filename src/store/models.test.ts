// The page's model choice in the config store, with the worker and the network replaced: the bare
// page takes the catalogue's default model and its task, a link's model is kept, a missing
// catalogue leaves the random tiny model, and a failed download becomes the model field's issue
// until Retry succeeds, with the settings untouched.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { CheckpointSummary, WorkerEvent } from '../worker/protocol.ts';

const worker = vi.hoisted(() => ({
  listeners: [] as ((e: WorkerEvent) => void)[],
  requests: [] as { type: string; base?: string; expect?: unknown }[],
  reply: null as null | ((req: { base: string }) => Promise<unknown>),
}));
vi.mock('./worker.ts', () => ({
  onWorkerEvent: (l: (e: WorkerEvent) => void) => worker.listeners.push(l),
  labClient: () => ({
    request: (req: { type: string; base: string }) => {
      worker.requests.push(req);
      return worker.reply ? worker.reply(req) : Promise.reject(new Error('no reply'));
    },
  }),
}));

const CATALOGUE = {
  models: [
    { name: 'a', path: '/models/a', description: 'A.', parameters: 100, task: 'countdown', bytes: 400, sha256: 'f'.repeat(64) },
    { name: 'b', path: '/models/b', description: 'B.', parameters: 200, task: 'arith', bytes: 800, default: true,
      settings: { 'peft.method': 'dora', 'peft.r': 8, lr: 0.002, steps: 60 } },
  ],
};
const summary = (base: string) => ({ base, cfg: { hidden: 64 }, parameters: 100, bytes: 400, sha256Checked: false }) as unknown as CheckpointSummary;

async function freshStore(catalogue: Response | Error) {
  vi.resetModules();
  worker.listeners.length = 0;
  worker.requests.length = 0;
  worker.reply = async (req) => summary(req.base);
  vi.stubGlobal('fetch', vi.fn(async () => {
    if (catalogue instanceof Error) throw catalogue;
    return catalogue.clone();
  }));
  return import('./config.ts');
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('model choice', () => {
  beforeEach(() => vi.unstubAllGlobals());

  it('the bare page takes the catalogue default, its task and room for its answers, and downloads it', async () => {
    const c = await freshStore(Response.json(CATALOGUE));
    c.loadFromLink('');
    await settle();
    const s = c.useConfig.getState();
    expect(s.model).toEqual({ kind: 'url', base: '/models/b' });
    expect(s.config.task).toBe('arith');
    expect(s.config.maxNewTokens).toBe(101); // arith answers are at most 100 characters, + <eos>
    expect(s.config.peft).toMatchObject({ method: 'dora', r: 8 }); // the entry's settings, method first
    expect([s.config.lr, s.config.steps]).toEqual([0.002, 60]);
    expect(worker.requests).toEqual([{ type: 'loadModel', base: '/models/b', expect: { bytes: 800 } }]);
    expect(s.modelLoad).toMatchObject({ base: '/models/b', status: 'ready', received: 400, total: 400 });
    expect(c.modelConfigOf(s)).toEqual({ hidden: 64 });
  });

  it('a link keeps its own model and settings; the catalogue still fills the picker', async () => {
    const c = await freshStore(Response.json(CATALOGUE));
    c.loadFromLink('?lr=0.02&model=small');
    await settle();
    const s = c.useConfig.getState();
    expect(s.model).toEqual({ kind: 'random', size: 'small' });
    expect(s.config.task).toBe('lastdigit');
    expect(s.catalogue.status).toBe('ready');
    expect(worker.requests).toEqual([]);
  });

  it('choosing a shipped model sets its task, keeps a larger maxNewTokens, and sends its hash', async () => {
    const c = await freshStore(Response.json(CATALOGUE));
    c.loadFromLink('?maxNewTokens=120');
    await settle();
    c.chooseShipped(CATALOGUE.models[0] as never);
    await settle();
    const s = c.useConfig.getState();
    expect(s.config.task).toBe('countdown');
    expect(s.config.maxNewTokens).toBe(120);
    expect(worker.requests.at(-1)).toEqual({ type: 'loadModel', base: '/models/a', expect: { bytes: 400, sha256: 'f'.repeat(64) } });
  });

  it('without a catalogue the page keeps the random tiny model and records why', async () => {
    const c = await freshStore(new Response('nope', { status: 404 }));
    c.loadFromLink('');
    await settle();
    const s = c.useConfig.getState();
    expect(s.model).toEqual({ kind: 'random', size: 'tiny' });
    expect(s.catalogue).toEqual({ status: 'failed', error: '/models/index.json was not found (HTTP 404)' });
  });

  it('progress events move the bar; a failure is the model field\'s issue until Retry succeeds; settings stay', async () => {
    const c = await freshStore(Response.json(CATALOGUE));
    let finish: (v: unknown) => void = () => {};
    let fail: (e: Error) => void = () => {};
    worker.reply = () => new Promise((res, rej) => ((finish = res), (fail = rej)));
    c.loadFromLink('');
    await settle();
    for (const l of worker.listeners) l({ type: 'download', base: '/models/b', file: '/models/b/model.safetensors', received: 300, total: 800 });
    expect(c.useConfig.getState().modelLoad).toMatchObject({ status: 'loading', received: 300, total: 800 });
    c.setText('lr', '0.05');
    fail(new Error('/models/b/model.safetensors is truncated: 300 of 800 bytes arrived (0.00 MB of 0.00 MB)'));
    await settle();
    expect(c.currentIssues().find((i) => i.path === 'model')?.message).toMatch(/is truncated/);
    c.retryModel();
    expect(c.useConfig.getState().modelLoad).toMatchObject({ status: 'loading', received: 0, error: null });
    await settle();
    finish(summary('/models/b'));
    await settle();
    expect(c.currentIssues().some((i) => i.path === 'model')).toBe(false);
    expect(c.useConfig.getState().config.lr).toBe(0.05);
    expect(c.useConfig.getState().model).toEqual({ kind: 'url', base: '/models/b' });
  });
});
