// Sections 3–5, on a whole model: one RL training step and one rollout of the lab's model with
// LoRA (split by phase, with dispatch and submission counts), decode cost per token as the
// sequence grows (the KV cache at work), and peak GPU memory per PEFT method.
import type { Backend, DType, Tensor } from '../engine/backend.ts';
import { paramCount } from '../model/config.ts';
import { namedConfig, randomWeights } from '../model/init.ts';
import { Model, type Generation } from '../model/model.ts';
import { getMethod, methodIds } from '../peft/registry.ts';
import type { MethodId, PeftInstance } from '../peft/types.ts';
import { defaultConfig } from '../rl/config.ts';
import { policyLoss } from '../rl/loss.ts';
import { AdamW } from '../rl/optimizer.ts';
import type { ModelSize } from './config.ts';
import { errorMessage, type BenchEnv } from './env.ts';
import { dispatchOverhead } from './kernels.ts';
import type { DecodeRow, MemoryRow, StepResult } from './report.ts';
import { OpProfiler, type OpProfile } from './profile.ts';
import { fromRuns, now, timeWall } from './timing.ts';

const BOS = 1;
const FIRST_CHAR = 3; // ids below are <pad>, <bos>, <eos>

/** A model of a named size with a PEFT method attached (full fine-tuning when it cannot attach). */
export interface Rig {
  model: Model;
  peft: PeftInstance;
  opt: AdamW;
  method: MethodId;
  fallback: string | null;
}

export async function buildRig(be: Backend, size: ModelSize, vocab: number, maxPositions: number, method: MethodId, rank: number | null,
  weights?: Map<string, Float32Array>, allowFallback = true): Promise<Rig> {
  const cfg = namedConfig(size, vocab, maxPositions);
  const model = new Model(be, cfg, weights ?? randomWeights(cfg, 0));
  let peft: PeftInstance, used = method, fallback: string | null = null;
  const pc = defaultConfig(method).peft;
  if (rank !== null) {
    pc.r = rank;
    pc.alpha = 2 * rank;
  }
  try {
    peft = await getMethod(method).attach(model, pc);
  } catch (e) {
    if (!allowFallback || method === 'full') throw e;
    fallback = `${method} could not attach (${errorMessage(e)}); measured full fine-tuning instead`;
    used = 'full';
    peft = await getMethod('full').attach(model, defaultConfig('full').peft);
  }
  const opt = new AdamW(be, peft.params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 });
  return { model, peft, opt, method: used, fallback };
}

export function randomPrompts(B: number, P: number, vocab: number, seed: number): Int32Array {
  const out = new Int32Array(B * P);
  let s = (seed * 2654435761 + 7) >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = i % P === 0 ? BOS : FIRST_CHAR + (s % (vocab - FIRST_CHAR));
  }
  return out;
}

/** A training batch built from a rollout the way the trainer builds one: targets are the next
 * tokens on completion positions, masked elsewhere; ±1 advantages. */
export interface Batch {
  B: number;
  T: number;
  ids: Int32Array;
  targets: Int32Array;
  mask: Uint8Array;
  oldLogp: Float32Array;
  advantages: Float64Array;
  newTokens: number;
}

export function batchFrom(tokens: Int32Array, logp: Float32Array, B: number, P: number, steps: number): Batch {
  const T = P + steps;
  const targets = new Int32Array(B * T).fill(-1), mask = new Uint8Array(B * T), oldLogp = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < steps; s++) {
      const t = b * T + P - 1 + s;
      targets[t] = tokens[b * T + P + s];
      mask[t] = 1;
      oldLogp[t] = logp[b * steps + s];
    }
  }
  const advantages = Float64Array.from({ length: B }, (_, b) => (b % 2 ? 1 : -1));
  return { B, T, ids: tokens.slice(0, B * T), targets, mask, oldLogp, advantages, newTokens: steps };
}

/** One training step as the trainer runs it; with `phased`, a sync after backward so the phases can
 * be timed apart. Returns times (ms): [start, forward encoded, forward done (log-probs read), loss,
 * backward encoded, backward done, optimizer encoded, optimizer done (grad norm read)]. */
export async function trainStep(rig: Rig, batch: Batch, phased: boolean): Promise<number[]> {
  const { model, peft, opt } = rig;
  const be = model.backend;
  const t = [now()];
  model.zeroGrads();
  peft.zeroGrads();
  const { logp } = model.forward(batch.ids, batch.targets, batch.B, batch.T, 1);
  t.push(now());
  const lp = await be.read(logp);
  t.push(now());
  const res = policyLoss({ numSeqs: batch.B, seqLen: batch.T, logp: lp, oldLogp: batch.oldLogp, mask: batch.mask, advantages: batch.advantages }, {
    lossType: 'dapo', epsLow: 0.2, epsHigh: 0.28, beta: 0, maxCompletionLength: batch.newTokens,
  });
  t.push(now());
  model.backward(res.dlogp);
  if (peft.regularize) await peft.regularize();
  t.push(now());
  if (phased) await be.sync();
  t.push(now());
  opt.update(1e-3);
  t.push(now());
  if (peft.afterStep) await peft.afterStep(opt.step);
  await opt.lastGradNorm();
  t.push(now());
  return t;
}

const trainableCount = (p: PeftInstance): number => p.params.reduce((a, x) => a + x.tensor.size, 0);

export async function stepSection(env: BenchEnv, rigOut?: { rig?: Rig }): Promise<StepResult> {
  const { be, cfg, log } = env;
  const s = cfg.step;
  const profiler = new OpProfiler();
  const rig = await buildRig(profiler.wrap(be), s.model, cfg.vocab, cfg.maxPositions, s.method, s.rank);
  if (rigOut) rigOut.rig = rig;
  if (rig.fallback) log(`  ${rig.fallback}`);
  const B = s.prompts * s.group, P = s.promptLen;
  const prompts = randomPrompts(B, P, cfg.vocab, 1);
  const ctx = be.ctx;
  const overhead = await dispatchOverhead(env);
  log(`  fixed costs: ${overhead.encodeUs.medianMs.toFixed(1)} µs CPU to encode a dispatch, ` +
    `${overhead.roundTripMs.medianMs.toFixed(2)} ms per submission round trip`);
  // Rollout as the trainer samples: adapters merged into the weights, prompts × group rows at
  // temperature 1 for newTokens steps (no early stop).
  const last: { gen?: Generation } = {};
  let seed = 1;
  const counts = () => ({ dispatches: ctx.dispatches, copies: ctx.copies, submissions: ctx.submissions, bindGroups: ctx.bindGroupsCreated, encodeMs: ctx.encodeMs });
  const delta = (a: ReturnType<typeof counts>, b: ReturnType<typeof counts>) => ({
    dispatches: b.dispatches - a.dispatches, copies: b.copies - a.copies, submissions: b.submissions - a.submissions,
    bindGroups: b.bindGroups - a.bindGroups, encodeMs: b.encodeMs - a.encodeMs,
  });
  let c0 = counts(), c1 = c0;
  const rollout = await timeWall(async () => {
    c0 = counts();
    last.gen = await rig.peft.withMerged(() => rig.model.generate(prompts, B, s.newTokens, { temperature: 1, topP: 1, seed: seed++ }));
    c1 = counts();
  }, cfg.wall);
  const rolloutCounts = delta(c0, c1);
  log(`  rollout ${s.prompts}×${s.group}×${s.newTokens} (adapters merged): ${rollout.medianMs.toFixed(1)} ms, ` +
    `${rolloutCounts.dispatches} dispatches, ${rolloutCounts.copies} copies, ${rolloutCounts.submissions} submissions, ` +
    `${rolloutCounts.bindGroups} bind groups created, ${((1000 * rolloutCounts.encodeMs) / s.newTokens).toFixed(0)} µs of CPU encoding per token`);

  const gen = last.gen;
  if (!gen) throw new Error('the rollout did not run');
  const batch = batchFrom(gen.tokens, gen.logp, B, P, s.newTokens);
  // The step as the trainer runs it (counts taken on the last run).
  const step = await timeWall(async () => {
    c0 = counts();
    await trainStep(rig, batch, false);
    c1 = counts();
  }, cfg.wall);
  const stepCounts = delta(c0, c1);
  // The same step, synced between phases; the encode times are the synchronous calls alone.
  const runs: Record<keyof StepResult['phases'], number[]> = {
    forward: [], forwardEncode: [], loss: [], backward: [], backwardEncode: [], optimizer: [], optimizerEncode: [],
  };
  for (let r = 0; r < cfg.wall.warmup + cfg.wall.reps; r++) {
    const t = await trainStep(rig, batch, true);
    if (r < cfg.wall.warmup) continue;
    runs.forward.push(t[2] - t[0]);
    runs.forwardEncode.push(t[1] - t[0]);
    runs.loss.push(t[3] - t[2]);
    runs.backward.push(t[5] - t[3]);
    runs.backwardEncode.push(t[4] - t[3]);
    runs.optimizer.push(t[7] - t[5]);
    runs.optimizerEncode.push(t[6] - t[5]);
  }
  const phases = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, fromRuns(v, cfg.wall.warmup)])) as StepResult['phases'];
  const { forward, loss, backward, optimizer } = phases;
  log(`  train step ${B}×${batch.T}: ${step.medianMs.toFixed(1)} ms (forward ${forward.medianMs.toFixed(1)}, loss ${loss.medianMs.toFixed(1)}, ` +
    `backward ${backward.medianMs.toFixed(1)}, optimizer ${optimizer.medianMs.toFixed(1)}), ` +
    `${stepCounts.dispatches} dispatches, ${stepCounts.copies} copies, ${stepCounts.submissions} submissions, ` +
    `${stepCounts.bindGroups} bind groups created, ${(1000 * stepCounts.encodeMs).toFixed(0)} µs of CPU encoding`);
  // Op-by-op GPU profiles of one step and one rollout (not part of the timings above).
  let stepProfile: OpProfile[] = [], rolloutProfile: OpProfile[] = [];
  await be.sync();
  if (profiler.start()) {
    await trainStep(rig, batch, false);
    stepProfile = await profiler.stop();
    profiler.start();
    await rig.peft.withMerged(() => rig.model.generate(prompts, B, s.newTokens, { temperature: 1, topP: 1, seed: 99 }));
    rolloutProfile = await profiler.stop();
    profiler.dispose();
  } else log('  (no timestamp-query on this device: no per-op profile)');
  log(`  step GPU time by op: ${stepProfile.slice(0, 6).map((p) => `${p.op} ${(100 * p.share).toFixed(0)}%`).join(', ')}`);
  log(`  rollout GPU time by op: ${rolloutProfile.slice(0, 6).map((p) => `${p.op} ${(100 * p.share).toFixed(0)}%`).join(', ')}`);
  return {
    gpu: env.gpuName, model: s.model, params: paramCount(rig.model.cfg), method: rig.method, rank: rig.method === 'full' ? null : s.rank,
    fallback: rig.fallback, trainableParams: trainableCount(rig.peft),
    prompts: s.prompts, group: s.group, promptLen: P, newTokens: s.newTokens, sequences: B, seqLen: batch.T,
    step, phases, profile: { step: stepProfile, rollout: rolloutProfile },
    dispatchesPerStep: stepCounts.dispatches, copiesPerStep: stepCounts.copies, submissionsPerStep: stepCounts.submissions,
    bindGroupsPerStep: stepCounts.bindGroups, encodeUsPerStep: 1000 * stepCounts.encodeMs,
    overhead,
    encodeUsPerDispatch: (1000 * (phases.forwardEncode.medianMs + phases.backwardEncode.medianMs + phases.optimizerEncode.medianMs)) /
      Math.max(1, stepCounts.dispatches),
    trainTokensPerS: (B * batch.T) / (step.medianMs / 1000),
    rollout: {
      timing: rollout, dispatches: rolloutCounts.dispatches, copies: rolloutCounts.copies, submissions: rolloutCounts.submissions,
      bindGroups: rolloutCounts.bindGroups, encodeUsPerToken: (1000 * rolloutCounts.encodeMs) / s.newTokens,
      tokensPerS: (B * s.newTokens) / (rollout.medianMs / 1000),
    },
  };
}

export async function decodeSection(env: BenchEnv, rig?: Rig): Promise<DecodeRow[]> {
  const { be, cfg, log } = env;
  const d = cfg.decode;
  const r = rig ?? await buildRig(be, cfg.step.model, cfg.vocab, cfg.maxPositions, cfg.step.method, cfg.step.rank);
  const B = d.batch, P = d.promptLen;
  const prompts = randomPrompts(B, P, cfg.vocab, 3);
  const rows: DecodeRow[] = [];
  for (const L of d.positions) {
    const steps = L - P;
    if (steps < 1) throw new Error(`decode: ${L} positions leave no new tokens after a ${P}-token prompt`);
    let seed = 10;
    const generate = await timeWall(async () => {
      await r.model.generate(prompts, B, steps, { temperature: 1, topP: 1, seed: seed++ });
    }, cfg.wall);
    const ids = randomPrompts(B, L, cfg.vocab, 4), targets = new Int32Array(B * L).fill(-1);
    const noCacheForward = await timeWall(async () => {
      const { logp } = r.model.forward(ids, targets, B, L, 1);
      await be.read(logp);
    }, cfg.wall);
    const prev = rows[rows.length - 1];
    const row: DecodeRow = {
      gpu: env.gpuName, batch: B, promptLen: P, positions: L, newTokens: steps, generate,
      msPerToken: generate.medianMs / steps,
      marginalMsPerToken: prev ? (generate.medianMs - prev.generate.medianMs) / (steps - prev.newTokens) : null,
      noCacheForward,
    };
    rows.push(row);
    log(`  ${String(L).padStart(4)} positions: ${row.msPerToken.toFixed(2)} ms/token` +
      (row.marginalMsPerToken !== null ? ` (marginal ${row.marginalMsPerToken.toFixed(2)})` : '') +
      `; a full forward over them: ${noCacheForward.medianMs.toFixed(1)} ms`);
  }
  return rows;
}

/** A backend that remembers the tensors allocated through it, so everything a model, its adapter
 * and its optimizer allocated can be freed at once (the engine's own per-context caches, created
 * below the Backend interface, are left alone). */
function ownedBackend(be: Backend): { backend: Backend; freeAll(): void } {
  const live = new Set<Tensor>();
  const backend = new Proxy(be, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      if (prop === 'alloc') {
        return (label: string, size: number, dtype?: DType): Tensor => {
          const t = target.alloc(label, size, dtype);
          live.add(t);
          return t;
        };
      }
      if (prop === 'free') {
        return (t: Tensor): void => {
          live.delete(t);
          target.free(t);
        };
      }
      return (v as (...args: unknown[]) => unknown).bind(target);
    },
  });
  return {
    backend,
    freeAll() {
      for (const t of live) be.free(t);
      live.clear();
    },
  };
}

/** Peak GPU memory of each PEFT method: model, adapter, optimizer, one training step, one rollout.
 * All on the bench's execution context; one untimed pass of the first method first, so the engine's
 * shared scratch buffers (per context, grown on demand) have reached their size for these shapes
 * and are not charged to whichever method happens to run first. Everything a method allocates is
 * freed before the next. */
export async function memorySection(env: BenchEnv): Promise<MemoryRow[]> {
  const { be, cfg, memory, log } = env;
  const m = cfg.memory;
  const methods = m.methods === 'all' ? methodIds : m.methods;
  const modelCfg = namedConfig(m.model, cfg.vocab, cfg.maxPositions);
  const weights = randomWeights(modelCfg, 0);
  const B = m.sequences, P = m.promptLen, T = P + m.newTokens;
  const prompts = randomPrompts(B, P, cfg.vocab, 5);
  const batch = batchFrom(randomPrompts(B, T, cfg.vocab, 6), new Float32Array(B * m.newTokens), B, P, m.newTokens);
  const rows: MemoryRow[] = [];
  const mib = (b: number) => (b / 2 ** 20).toFixed(2);
  for (const [i, method] of [methods[0], ...methods].entries()) {
    const row: MemoryRow = {
      gpu: env.gpuName, method, model: m.model, trainableParams: null, weightsBytes: null, adapterBytes: null, optimizerBytes: null,
      peakTrainBytes: null, peakRolloutBytes: null, peakBytes: null, rows: B * T, error: null,
    };
    await be.sync();
    const base = memory.live;
    const owned = ownedBackend(be);
    try {
      const model = new Model(owned.backend, modelCfg, weights);
      await be.sync();
      row.weightsBytes = memory.live - base;
      const peft = await getMethod(method).attach(model, defaultConfig(method).peft);
      await be.sync();
      row.adapterBytes = memory.live - base - row.weightsBytes;
      row.trainableParams = trainableCount(peft);
      const opt = new AdamW(owned.backend, peft.params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 });
      await be.sync();
      row.optimizerBytes = memory.live - base - row.weightsBytes - row.adapterBytes;
      memory.resetPeak();
      await trainStep({ model, peft, opt, method, fallback: null }, batch, false);
      row.peakTrainBytes = memory.peak - base;
      // The rollout after a step runs with the step's activations still allocated, as every
      // rollout after the first does in a run.
      memory.resetPeak();
      await model.generate(prompts, B, m.newTokens, { temperature: 1, topP: 1, seed: 1 });
      row.peakRolloutBytes = memory.peak - base;
      row.peakBytes = Math.max(row.peakTrainBytes, row.peakRolloutBytes);
      if (i > 0) {
        log(`  ${method.padEnd(10)} peak ${mib(row.peakBytes)} MiB (weights ${mib(row.weightsBytes)}, adapter ${mib(row.adapterBytes)}, ` +
          `optimizer ${mib(row.optimizerBytes)}, train step ${mib(row.peakTrainBytes)}, rollout ${mib(row.peakRolloutBytes)})`);
      }
    } catch (e) {
      row.error = errorMessage(e);
      log(`  ${method.padEnd(10)} failed: ${row.error}`);
    } finally {
      await be.sync();
      owned.freeAll();
    }
    if (i > 0) rows.push(row);
  }
  return rows;
}
