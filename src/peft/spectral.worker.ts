// The spectral probe's worker (spectral-thread.ts): W_0's SVDs on 'init', then one record's layer
// statistics per 'measure', in the order they arrive. Written against a web worker's globals; the
// Node thread (spectral-thread.node.ts) provides the same two.
import type { FromWorker, ToWorker } from './spectral-thread.ts';
import { SpectralMath } from './spectral.ts';

const scope = globalThis as unknown as { onmessage: ((e: { data: ToWorker }) => void) | null; postMessage(msg: FromWorker): void };
let math: SpectralMath | null = null;
let initError: string | null = null;
const text = (e: unknown) => (e instanceof Error ? e.message : String(e));

scope.onmessage = ({ data: msg }) => {
  if (msg.type === 'init') {
    try {
      math = new SpectralMath(msg.layers);
    } catch (e) {
      initError = `W_0's decomposition failed: ${text(e)}`;
    }
    return;
  }
  if (!math) {
    scope.postMessage({ id: msg.id, error: initError ?? 'no layers were given' });
    return;
  }
  try {
    const t0 = performance.now();
    const layers = math.measure(msg.now);
    scope.postMessage({ id: msg.id, layers, seconds: (performance.now() - t0) / 1000 });
  } catch (e) {
    scope.postMessage({ id: msg.id, error: text(e) });
  }
};
