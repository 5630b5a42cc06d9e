// The page's side of the worker protocol: request() returns a promise that settles with the
// worker's one reply to it (or rejects if the worker dies), typed by the request's `type`
// (`request({ type: 'start', … })` is a Promise<RunInfo>), and events go to one listener.
import { unreachable, type ReplyOf, type RequestMessage, type RequestOf, type RequestType, type WorkerEvent, type WorkerMessage } from './protocol.ts';

export interface WorkerLike {
  postMessage(msg: unknown, transfer?: Transferable[]): void;
  onmessage: ((ev: MessageEvent<WorkerMessage>) => void) | null;
  onerror: ((ev: ErrorEvent) => void) | null;
  terminate(): void;
}

interface Pending {
  resolve: (v: ReplyOf<RequestType>) => void;
  reject: (e: Error) => void;
}

export class LabClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly worker: WorkerLike, private readonly onEvent: (e: WorkerEvent) => void) {
    worker.onmessage = (ev) => this.receive(ev.data);
    worker.onerror = (ev) => this.failAll(`the training worker crashed: ${ev.message || 'unknown error'}`);
  }

  request<K extends RequestType>(body: RequestOf<K>, transfer: Transferable[] = []): Promise<ReplyOf<K>> {
    const id = this.nextId++;
    return new Promise<ReplyOf<K>>((resolve, reject) => {
      // The worker answers id with the reply of body's type (its Handlers are typed so).
      this.pending.set(id, { resolve: resolve as Pending['resolve'], reject });
      try {
        this.worker.postMessage({ ...body, id } as RequestMessage, transfer);
      } catch (e) {
        this.pending.delete(id);
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  private receive(msg: WorkerMessage): void {
    switch (msg.type) {
      case 'reply': {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.value);
        else p.reject(new Error(msg.error));
        return;
      }
      case 'event':
        this.onEvent(msg.event);
        return;
      default:
        unreachable(msg);
    }
  }

  private failAll(message: string): void {
    for (const p of this.pending.values()) p.reject(new Error(message));
    this.pending.clear();
  }

  terminate(): void {
    this.worker.terminate();
    this.failAll('the training worker was stopped');
  }
}
