// What a spectral record costs beside the step it follows: `npx tsx src/peft/spectral.bench.ts
// [--method lora|pissa|full|…] [--steps N] [--every E] [--prompts P] [--threads T]`. The catalogue's
// default model (public/models/, the small one) with `npm run train`'s settings for that method, on
// the SIMD CPU backend; it times every RL step and every record (taken every E steps, as
// --spectral-every does) and prints ms per record, the mean step, and the slowdown: the record's
// share of the step it follows, and spread over the E steps between records. docs/STUDY.md has
// the numbers of one run.
import { parseArgs } from 'node:util';
import { catalogueConfig } from '../cli/catalogue.ts';
import { SimdCpuBackend } from '../engine/cpu/simd/backend.ts';
import { loadModelDir } from '../model/io.node.ts';
import { Model } from '../model/model.ts';
import { defaultConfig } from '../rl/config.ts';
import { Trainer } from '../rl/trainer.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';
import { getMethod } from './registry.ts';
import { SpectralProbe } from './spectral.ts';
import type { MethodId } from './types.ts';

const { values } = parseArgs({ options: { method: { type: 'string', default: 'lora' }, steps: { type: 'string', default: '10' }, every: { type: 'string', default: '5' }, prompts: { type: 'string' }, threads: { type: 'string' } } });
const method = values.method as MethodId, steps = Number(values.steps), every = Number(values.every);
const cat = catalogueConfig();
const own = defaultConfig(method);
const cfg = { ...(cat.cfg.peft.method === method ? cat.cfg : { ...cat.cfg, peft: own.peft, lr: own.lr }), steps, evalEvery: 0 };
cfg.maxNewTokens = getTask(cfg.task).limits.completionChars + 1; // as npm run train sets it
if (values.prompts) cfg.promptsPerStep = Number(values.prompts);
const loaded = loadModelDir(cat.dir);
const backend = await SimdCpuBackend.create(values.threads ? { threads: Number(values.threads) } : {});
const model = new Model(backend, loaded.cfg, loaded.weights);
const inst = await getMethod(method).attach(model, cfg.peft);
let t = performance.now();
const probe = await SpectralProbe.create(inst, loaded.cfg);
console.log(`${cat.name}, ${method}, ${cfg.promptsPerStep} prompts × ${cfg.groupSize}, CPU backend (${backend.threads} threads); ${probe.layerCount} adapted layers; W_0's SVDs once: ${(performance.now() - t).toFixed(0)} ms`);
const refModel = cfg.beta > 0 && (method === 'full' || method === 'ln_tuning') ? new Model(backend, loaded.cfg, loaded.weights) : null;
const trainer = new Trainer(model, inst, getTask(cfg.task), charTokenizer, cfg, refModel);
const stepMs: number[] = [], recordMs: number[] = [];
while (trainer.step < steps) {
  t = performance.now();
  const m = await trainer.trainStep();
  stepMs.push(performance.now() - t);
  let line = `step ${m.step}: ${stepMs[stepMs.length - 1].toFixed(0)} ms`;
  if (m.step % every === 0) {
    t = performance.now();
    const r = await probe.record(m.step);
    recordMs.push(performance.now() - t);
    line += `; record ${recordMs[recordMs.length - 1].toFixed(0)} ms (principal share at k = rank/8: ${(100 * r.mean.share[1]).toFixed(1)}%)`;
  }
  console.log(line);
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const step = mean(stepMs), rec = mean(recordMs);
console.log(`record ${rec.toFixed(0)} ms (mean of ${recordMs.length}); step ${step.toFixed(0)} ms (mean of ${stepMs.length}); ` +
  `slowdown ${((100 * rec) / step).toFixed(1)}% on the step it follows, ${((100 * rec) / (every * step)).toFixed(1)}% a step at one record every ${every} steps`);
process.exit(0);
