// Checkpoints: the trainable tensors, the optimizer's moments and step, the method's allocator
// state (AdaLoRA) and the trainer's RNG state, in one safetensors file plus a JSON header — enough
// to resume a run exactly.
import { parseSafetensors, writeSafetensors } from '../model/safetensors.ts';
import type { RLConfig } from './config.ts';
import type { Trainer, TrainerState } from './trainer.ts';

export interface CheckpointMeta {
  version: 1;
  config: RLConfig;
  trainer: TrainerState;
  optimizerStep: number;
  /** The base model the run started from, where a CLI knows it: a model folder as it was given, or a
   * random model's size (`npm run export` takes it when not told). Absent in the page's checkpoints. */
  model?: { dir: string } | { init: string };
}

export async function saveCheckpoint(tr: Trainer): Promise<{ tensors: Uint8Array; meta: CheckpointMeta }> {
  const be = tr.model.backend;
  const opt = await tr.opt.state();
  const out: Record<string, { shape: number[]; data: Float32Array | Int32Array }> = {};
  for (const [i, p] of tr.peft.params.entries()) {
    out[`param/${p.name}`] = { shape: p.shape, data: await be.read(p.tensor) };
    out[`adam_m/${p.name}`] = { shape: p.shape, data: opt.m[i] };
    out[`adam_v/${p.name}`] = { shape: p.shape, data: opt.v[i] };
  }
  for (const [name, data] of tr.peft.allocatorState?.() ?? []) out[`allocator/${name}`] = { shape: [data.length], data };
  return { tensors: writeSafetensors(out), meta: { version: 1, config: tr.cfg, trainer: tr.state(), optimizerStep: opt.step } };
}

export function loadCheckpoint(tr: Trainer, tensors: ArrayBuffer | Uint8Array, meta: CheckpointMeta): void {
  if (meta.version !== 1) throw new Error(`checkpoint version ${String(meta.version)} is not supported`);
  const file = parseSafetensors(tensors, 'checkpoint.safetensors').tensors;
  const get = (key: string): Float32Array => {
    const t = file.get(key);
    if (!t || !(t.data instanceof Float32Array)) throw new Error(`checkpoint lacks tensor "${key}" (was it saved with another method or config?)`);
    return t.data;
  };
  const params = new Map(tr.peft.params.map((p) => [p.name, get(`param/${p.name}`)]));
  const allocator = new Map<string, Int32Array>();
  for (const [key, t] of file) if (key.startsWith('allocator/') && t.data instanceof Int32Array) allocator.set(key.slice('allocator/'.length), t.data);
  tr.peft.load(params);
  tr.peft.loadAllocatorState?.(allocator);
  tr.opt.load({ step: meta.optimizerStep, m: tr.peft.params.map((p) => get(`adam_m/${p.name}`)), v: tr.peft.params.map((p) => get(`adam_v/${p.name}`)) });
  tr.restore(meta.trainer);
}
