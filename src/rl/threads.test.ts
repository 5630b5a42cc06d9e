// An RL run on the SIMD CPU backend gives the same bits with 1, 2 and 3 threads: every metric of every
// step (rewards come from sampled tokens, so any difference in a log-prob would show) and every trained
// parameter. LoRA on the arith task with a small random model, sized so that the matmuls, attention
// and elementwise ops are split across threads. And the same bits when the decoder keeps every row to
// the end instead of dropping finished ones (what it does on a CPU backend).
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../engine/backend.ts';
import { SimdCpuBackend } from '../engine/cpu/simd/backend.ts';
import type { ModelConfig } from '../model/config.ts';
import { randomWeights } from '../model/init.ts';
import { Model } from '../model/model.ts';
import { getMethod } from '../peft/registry.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';
import { defaultConfig } from './config.ts';
import { Trainer, type StepMetrics } from './trainer.ts';

const modelCfg: ModelConfig = {
  family: 'qwen2', vocabSize: charTokenizer.vocabSize, hidden: 64, intermediate: 192, layers: 2, heads: 4, kvHeads: 2, headDim: 16,
  ropeTheta: 10000, rmsEps: 1e-6, tieEmbeddings: true, qkvBias: true, oBias: false, mlpBias: false, maxPositions: 96,
  bosTokenId: 1, eosTokenId: 2,
};

/** The backend presented as a GPU's (the decoder then runs every row to the end), counting the rows
 * the decoder moves when it drops finished ones (its copies of the next input ids). */
function observed(be: SimdCpuBackend, asGpu: boolean): { be: Backend; moved: () => number } {
  let moved = 0;
  const copy = (dst: Tensor, src: Tensor, n: number, dstOff?: number, srcOff?: number) => {
    if (dst.label === 'dec.ids') moved++;
    be.copy(dst, src, n, dstOff, srcOff);
  };
  const wrapped = Object.create(be, { copy: { value: copy }, ...(asGpu ? { name: { value: 'webgpu' } } : {}) }) as Backend;
  return { be: wrapped, moved: () => moved };
}

async function runWith(threads: number, asGpu = false): Promise<{ metrics: StepMetrics[]; params: Float32Array[]; moved: number }> {
  const simd = await SimdCpuBackend.create({ threads });
  expect(simd.threadsReady).toBe(threads);
  const { be, moved } = observed(simd, asGpu);
  const cfg = { ...defaultConfig('lora'), task: 'arith' as const, maxNewTokens: 24, groupSize: 8, promptsPerStep: 8, lr: 1e-2, seed: 3, evalEvery: 0 };
  const model = new Model(be, modelCfg, randomWeights(modelCfg, 5));
  const inst = await getMethod('lora').attach(model, cfg.peft);
  const trainer = new Trainer(model, inst, getTask('arith'), charTokenizer, cfg);
  const metrics: StepMetrics[] = [];
  for (let i = 0; i < 2; i++) metrics.push(await trainer.trainStep());
  const params = await Promise.all(inst.params.map((p) => be.read(p.tensor)));
  return { metrics, params, moved: moved() };
}

const timeless = (m: StepMetrics) => Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith('time_') && !k.endsWith('_per_s')));

describe('SIMD CPU backend: an RL run with 1, 2 and 3 threads', () => {
  it('gives identical metrics and parameters, bit for bit', async () => {
    const [a, b, c] = [await runWith(1), await runWith(2), await runWith(3)];
    for (const other of [b, c]) {
      expect(other.metrics.map(timeless)).toEqual(a.metrics.map(timeless));
      other.params.forEach((p, i) => expect(p.every((x, j) => Object.is(x, a.params[i][j]))).toBe(true));
    }
    // the run did train: the adapters moved from their zero-initialised B
    expect(a.params.some((p) => p.some((x) => x !== 0))).toBe(true);
  });

  it('dropping finished rows from the decode changes no metric and no parameter', async () => {
    const [dropping, every] = [await runWith(2), await runWith(2, true)];
    expect(dropping.moved).toBeGreaterThan(0); // rows did leave the batch
    expect(every.moved).toBe(0);
    expect(dropping.metrics.map(timeless)).toEqual(every.metrics.map(timeless));
    every.params.forEach((p, i) => expect(p.every((x, j) => Object.is(x, dropping.params[i][j]))).toBe(true));
  });
});
