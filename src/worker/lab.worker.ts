/// <reference lib="webworker" />
// The training worker: owns the GPU device (training, the GPU card's description, the engine
// check), the model and the Trainer, so the page's main thread only renders. Every Request gets exactly one Reply; events stream in between.
import { baseModelName } from '../model/source.ts';
import { exportBuilt, exportStored } from './export.ts';
import { checkEngine, gpuReport } from './gpu.ts';
import { dispatch, type Handlers, type Reply, type RequestMessage, type WorkerEvent, type WorkerMessage } from './protocol.ts';
import { errorText, Session } from './session.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

function send(msg: WorkerMessage, transfer: Transferable[] = []): void {
  scope.postMessage(msg, transfer);
}

const session = new Session((event: WorkerEvent, transfer?: Transferable[]) => send({ type: 'event', event }, transfer));

/** Buffers inside a reply value that can be moved rather than copied. */
function transferables(value: unknown): Transferable[] {
  if (value instanceof Uint8Array) return [value.buffer as ArrayBuffer];
  if (typeof value !== 'object' || value === null) return [];
  return Object.values(value).flatMap((v) => (v instanceof Uint8Array ? [v.buffer as ArrayBuffer] : typeof v === 'object' && v !== null ? transferables(v) : []));
}

const handlers: Handlers = {
  start: (req) => session.start(req),
  loadModel: async (req) => (await session.checkpoints.load(req.base, req.expect)).summary,
  pause: () => session.pause(),
  resume: () => session.resume(),
  stop: () => session.stop(),
  dispose: async () => {
    if (session.active) await session.stop();
    session.dispose();
    return null;
  },
  checkpoint: () => session.checkpoint(),
  exportAdapter: (req) => {
    const live = session.current;
    if (live && live.runId === req.runId && session.state !== 'lost' && session.state !== 'failed') {
      return exportBuilt(live, req.model ? baseModelName(req.model) : null);
    }
    if (!req.stored) throw new Error('this run is no longer in memory and has no stored checkpoint to rebuild it from');
    return exportStored(session, req.stored, baseModelName(req.stored.model));
  },
  loseDevice: () => {
    session.loseDevice();
    return null;
  },
  gpu: () => gpuReport(async () => (await session.webgpu()).handle),
  checkEngine: async () => checkEngine((await session.webgpu()).handle, (progress) => send({ type: 'event', event: { type: 'check', progress } })),
};

scope.onmessage = (ev: MessageEvent<RequestMessage>) => {
  const req = ev.data;
  // A handler that throws synchronously rejects like one that fails later.
  Promise.resolve().then(() => dispatch(handlers, req)).then(
    (value) => send({ type: 'reply', id: req.id, ok: true, value } satisfies Reply, transferables(value)),
    (e: unknown) => send({ type: 'reply', id: req.id, ok: false, error: errorText(e) } satisfies Reply),
  );
};
