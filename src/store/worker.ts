// The page's one training worker, created on first use, and who hears its events: the live run
// (training.ts) and the model loader (config.ts) each register a listener.
import { LabClient } from '../worker/client.ts';
import type { WorkerEvent } from '../worker/protocol.ts';

const listeners: ((e: WorkerEvent) => void)[] = [];
let client: LabClient | null = null;

export function onWorkerEvent(listener: (e: WorkerEvent) => void): void {
  listeners.push(listener);
}

export function labClient(): LabClient {
  client ??= new LabClient(new Worker(new URL('../worker/lab.worker.ts', import.meta.url), { type: 'module', name: 'rlvr-lab-trainer' }), (e) => {
    for (const l of listeners) l(e);
  });
  return client;
}
