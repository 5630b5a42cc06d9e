// What the CPU backends' tests share: one small model step to compare backends (and thread counts)
// bit for bit through every op a training step runs.
import { namedConfig, randomWeights } from '../../model/init.ts';
import { Model } from '../../model/model.ts';
import type { CpuBackend } from './backend.ts';

/** A random tiny model's forward (log-probs) and backward (every parameter gradient) on `be`: the same
 * ids, targets, weights and output gradient on every call. */
export async function tinyModelStep(be: CpuBackend): Promise<Float32Array[]> {
  const cfg = namedConfig('tiny', 99, 64);
  const B = 3, T = 11;
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7) % 99), targets = Int32Array.from({ length: B * T }, (_, i) => (i % 5 === 0 ? -1 : (i * 13) % 99));
  const m = new Model(be, cfg, randomWeights(cfg, 3));
  m.zeroGrads();
  const logp = await be.read(m.forward(ids, targets, B, T).logp);
  m.backward(Float32Array.from({ length: B * T }, (_, i) => (i % 3) - 1));
  return [logp, ...(await Promise.all([...m.grads.values()].map((g) => be.read(g))))];
}
