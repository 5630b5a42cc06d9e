/// <reference lib="webworker" />
// The training worker: owns the GPU device, the model and the Trainer, so the page's main thread
// only renders. Every Request gets exactly one Reply; events stream in between.
import { baseModelName } from '../model/source.ts';
import { exportBuilt, exportStored } from './export.ts';
import { unreachable, type Reply, type Request, type RequestMap, type RequestType, type WorkerEvent, type WorkerMessage } from './protocol.ts';
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

async function handle(req: Request): Promise<RequestMap[RequestType]['res']> {
  switch (req.type) {
    case 'start':
      return session.start(req);
    case 'loadModel':
      return (await session.checkpoints.load(req.base, req.expect)).summary;
    case 'pause':
      return session.pause();
    case 'resume':
      return session.resume();
    case 'stop':
      return session.stop();
    case 'dispose':
      if (session.active) await session.stop();
      session.dispose();
      return null;
    case 'checkpoint':
      return session.checkpoint();
    case 'exportAdapter': {
      const live = session.current;
      if (live && live.runId === req.runId && session.state !== 'lost' && session.state !== 'failed') {
        return exportBuilt(live, req.model ? baseModelName(req.model) : null);
      }
      if (!req.stored) throw new Error('this run is no longer in memory and has no stored checkpoint to rebuild it from');
      return exportStored(session, req.stored, baseModelName(req.stored.model));
    }
    case 'loseDevice':
      session.loseDevice();
      return null;
    default:
      return unreachable(req);
  }
}

scope.onmessage = (ev: MessageEvent<Request>) => {
  const req = ev.data;
  handle(req).then(
    (value) => send({ type: 'reply', id: req.id, ok: true, value } satisfies Reply, transferables(value)),
    (e: unknown) => send({ type: 'reply', id: req.id, ok: false, error: errorText(e) } satisfies Reply),
  );
};
