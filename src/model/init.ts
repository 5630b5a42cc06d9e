// Random initialisation of a model config (tests, the warm-up demo, and the start of distillation):
// linear and embedding weights N(0, 0.02²) as HF's initializer_range, norms 1, biases 0.
import { Rng } from '../tasks/rng.ts';
import { paramShapes, type ModelConfig } from './config.ts';

export function randomWeights(cfg: ModelConfig, seed: number, std = 0.02): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(cfg)) {
    const rng = new Rng(`${seed}:${name}`);
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.endsWith('norm.weight')) data.fill(1);
    else if (!name.endsWith('.bias')) for (let i = 0; i < n; i++) data[i] = rng.normal(0, std);
    out.set(name, data);
  }
  return out;
}

/** Small qwen2-family configs by name, for `--init NAME` (vocabulary: the lab's character tokenizer). */
export function namedConfig(name: string, vocabSize: number, maxPositions: number): ModelConfig {
  const base = { family: 'qwen2' as const, vocabSize, ropeTheta: 10000, rmsEps: 1e-6, tieEmbeddings: true, qkvBias: true, oBias: false, mlpBias: false, maxPositions, bosTokenId: 1, eosTokenId: 2 };
  switch (name) {
    case 'tiny': return { ...base, hidden: 64, intermediate: 128, layers: 2, heads: 4, kvHeads: 2, headDim: 16 };
    case 'small': return { ...base, hidden: 128, intermediate: 384, layers: 4, heads: 4, kvHeads: 2, headDim: 32 };
    case 'base': return { ...base, hidden: 256, intermediate: 768, layers: 8, heads: 8, kvHeads: 4, headDim: 32 };
    default: throw new Error(`unknown model size "${name}"; valid: tiny, small, base`);
  }
}
