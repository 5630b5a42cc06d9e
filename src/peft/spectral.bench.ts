// What spectral records cost a run: `npx tsx src/peft/spectral.bench.ts [--method lora|pissa|full|…]
// [--steps N] [--every E] [--prompts P] [--threads T]`. The catalogue's default model (public/models/,
// the small one) with `npm run train`'s settings for that method, on the SIMD CPU backend: the same
// seeded run in three modes in one process: without records, with records measured on the training
// thread, and with records measured on a worker thread (as `npm run train` and the page do), after
// a warm-up run of the same length that is not counted, each mode twice (below). Prints each run's
// mean step, per record the time the step waited for it and the measurement's own time, and each
// mode's slowdown against the runs without records. docs/STUDY.md has the numbers of one run.
import { parseArgs } from 'node:util';
import { catalogueConfig } from '../cli/catalogue.ts';
import { SimdCpuBackend } from '../engine/cpu/simd/backend.ts';
import { loadModelDir } from '../model/io.node.ts';
import { Model } from '../model/model.ts';
import { defaultConfig } from '../rl/config.ts';
import { Trainer } from '../rl/trainer.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';
import { getMethod } from './registry.ts';
import { SpectralProbe, type SpectralRecord } from './spectral.ts';
import { nodeSpectralThread } from './spectral-thread.node.ts';
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
console.log(`${cat.name}, ${method}, ${cfg.promptsPerStep} prompts × ${cfg.groupSize}, ${steps} steps, a record every ${every} and at the end; ${backend.describe()}`);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
type Mode = 'none' | 'here' | 'worker';

async function run(mode: Mode, steps: number): Promise<{ total: number; steps: number[]; records: SpectralRecord[] }> {
  const model = new Model(backend, loaded.cfg, loaded.weights);
  const inst = await getMethod(method).attach(model, cfg.peft);
  const probe = mode === 'none' ? null : await SpectralProbe.create(inst, loaded.cfg, { thread: mode === 'worker' ? nodeSpectralThread() : null });
  const refModel = cfg.beta > 0 && (method === 'full' || method === 'ln_tuning') ? new Model(backend, loaded.cfg, loaded.weights) : null;
  const trainer = new Trainer(model, inst, getTask(cfg.task), charTokenizer, cfg, refModel);
  const pending: Promise<SpectralRecord>[] = [], stepMs: number[] = [];
  const t0 = performance.now();
  while (trainer.step < steps) {
    const t = performance.now();
    const m = await trainer.trainStep();
    if (probe && (m.step % every === 0 || m.step === steps)) pending.push((await probe.capture(m.step)).record);
    stepMs.push(performance.now() - t);
  }
  const records = await Promise.all(pending);
  const total = performance.now() - t0;
  probe?.close();
  inst.detach();
  model.free();
  refModel?.free();
  trainer.opt.free();
  return { total, steps: stepMs, records };
}

// A first run pays for compiling and for memory touched the first time (rollout lengths vary, so a
// shorter run does not touch all of it): one run as long as the others, not counted. Later runs still
// drift (faster as the allocator's free lists fill), so the modes run in a palindrome, none, here,
// worker, worker, here, none, and each mode's two runs are averaged: a linear drift cancels.
await run('none', steps);
const totals = new Map<Mode, number[]>();
for (const mode of ['none', 'here', 'worker', 'worker', 'here', 'none'] as Mode[]) {
  const r = await run(mode, steps);
  totals.set(mode, [...(totals.get(mode) ?? []), r.total]);
  for (const x of r.records) console.log(`  record at step ${x.step}: ${x.layers.filter((l) => l.norm > 0).length} of ${x.layers.length} layers moved, principal share at k = rank/8 ${(100 * x.mean.share[1]).toFixed(1)}%, ${x.offThread ? `measured on the worker in ${(1000 * (x.seconds - x.waitSeconds)).toFixed(0)} ms, the step waited ${(1000 * x.waitSeconds).toFixed(0)} ms` : `measured on the training thread in ${(1000 * x.seconds).toFixed(0)} ms`}`);
  console.log(`${mode.padEnd(6)} run ${(r.total / 1000).toFixed(1)} s, step ${mean(r.steps).toFixed(0)} ms (mean of ${r.steps.length}, record included)`);
}
const base = mean(totals.get('none')!);
for (const mode of ['here', 'worker'] as Mode[]) {
  const t = mean(totals.get(mode)!);
  console.log(`records on the ${mode === 'here' ? 'training thread' : 'worker thread'}: runs of ${(t / 1000).toFixed(1)} s against ${(base / 1000).toFixed(1)} s without records (means of two): ${((100 * (t - base)) / base).toFixed(1)}%`);
}
process.exit(0);
