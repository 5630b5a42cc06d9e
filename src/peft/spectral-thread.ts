// The spectral probe's measurement off the training loop's thread (issue 14: "off the step's critical
// path"). A record's cost is W_0-side float64 linear algebra (spectral.ts); the training loop only
// waits for W_now to be read back, then goes on while a worker measures it. One worker per probe,
// messages handled in order, so records settle in the order they were captured.
//   the page: a module worker started from the lab's worker (webSpectralThread, below);
//   Node (npm run train, the study's cells): a worker thread (spectral-thread.node.ts);
//   without either (vitest's session tests, a runtime without workers): the probe measures on its
//   own thread, as before. The worker itself is spectral.worker.ts.
import type { LayerSpec, MeasuringThread, SpectralLayer } from './spectral.ts';

export type ToWorker = { type: 'init'; layers: LayerSpec[] } | { type: 'measure'; id: number; now: Float32Array[] };
export type FromWorker = { id: number; layers: SpectralLayer[]; seconds: number } | { id: number; error: string };

/** What a runtime's worker offers the client: post, receive, hear of a failure, end. `hold(true)`
 * while replies are awaited (Node: a worker waited on keeps the process alive; an idle one must not). */
export interface WorkerPort {
  post(msg: ToWorker): void;
  listen(onMessage: (msg: FromWorker) => void, onError: (e: Error) => void): void;
  hold(busy: boolean): void;
  terminate(): void;
}

export class SpectralThread implements MeasuringThread {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (r: { layers: SpectralLayer[]; seconds: number }) => void; reject: (e: Error) => void }>();
  private failed: Error | null = null;

  constructor(private readonly port: WorkerPort) {
    port.listen((msg) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if ('error' in msg) p.reject(new Error(msg.error));
      else p.resolve(msg);
      if (!this.pending.size) port.hold(false);
    }, (e) => this.fail(e));
  }

  init(layers: LayerSpec[]): void {
    this.port.post({ type: 'init', layers });
  }

  /** The statistics of W_now (`now[i]` for the i-th layer given to init), and the worker's seconds.
   * The arrays are copied into the message: the caller keeps them. */
  measure(now: Float32Array[]): Promise<{ layers: SpectralLayer[]; seconds: number }> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.port.hold(true);
      this.port.post({ type: 'measure', id, now });
    });
  }

  close(): void {
    this.fail(new Error('closed'));
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    this.port.terminate();
  }
}

/** A module worker (the page; Deno), or null where the runtime has none (Node). */
export function webSpectralThread(): SpectralThread | null {
  if (typeof Worker === 'undefined') return null;
  const w = new Worker(new URL('./spectral.worker.ts', import.meta.url), { type: 'module', name: 'rlvr-spectral' });
  return new SpectralThread({
    post: (msg) => w.postMessage(msg),
    listen: (onMessage, onError) => {
      w.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
      w.onerror = (e) => {
        e.preventDefault();
        onError(new Error(e.message || 'the spectral worker failed to start'));
      };
    },
    hold: () => {},
    terminate: () => w.terminate(),
  });
}
