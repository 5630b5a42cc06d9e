// The spectral probe's worker as a Node worker thread (npm run train, the study's cells, tests).
// spectral.worker.ts is TypeScript: the thread registers tsx's loader (the one `npm run train` runs
// under) before importing it, so it loads the same way under tsx and under vitest. The thread gets
// the two web-worker globals the worker uses (onmessage, postMessage) from its parent port.
import { Worker } from 'node:worker_threads';
import { type FromWorker, SpectralThread } from './spectral-thread.ts';

const BOOT = `
const { parentPort, workerData } = require('node:worker_threads');
globalThis.postMessage = (msg) => parentPort.postMessage(msg);
(async () => {
  (await import(workerData.tsx)).register();
  await import(workerData.worker);
  parentPort.on('message', (data) => globalThis.onmessage({ data }));
})().catch((e) => parentPort.postMessage({ fatal: String((e && e.stack) || e) }));
`;

/** A worker thread for the probe, or null where tsx's loader cannot be found (the probe then measures
 * on its own thread). */
export function nodeSpectralThread(): SpectralThread | null {
  let tsx: string;
  try {
    tsx = import.meta.resolve('tsx/esm/api');
  } catch {
    return null;
  }
  const w = new Worker(BOOT, { eval: true, execArgv: [], name: 'rlvr-spectral', workerData: { tsx, worker: new URL('./spectral.worker.ts', import.meta.url).href } });
  w.unref();
  return new SpectralThread({
    post: (msg) => w.postMessage(msg),
    listen: (onMessage, onError) => {
      w.on('message', (msg: FromWorker | { fatal: string }) => ('fatal' in msg ? onError(new Error(msg.fatal)) : onMessage(msg)));
      w.on('error', onError);
      w.on('exit', (code) => onError(new Error(`the spectral thread exited (${code})`)));
    },
    hold: (busy) => (busy ? w.ref() : w.unref()),
    terminate: () => void w.terminate(),
  });
}
