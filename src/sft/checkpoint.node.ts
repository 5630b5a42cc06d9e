// SFT checkpoints on disk: a loadable model folder (config.json + model.safetensors, HF layout)
// plus optimizer.safetensors (AdamW moments by parameter name) and state.json (config, trainer
// state, optimizer step, elapsed time, metrics so far): enough to resume a run exactly.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelConfig } from '../model/config.ts';
import { loadModelDir, readArrayBuffer, saveModelDir } from '../model/io.node.ts';
import { parseSafetensors, writeSafetensors } from '../model/safetensors.ts';
import type { SftConfig } from './config.ts';
import type { SftTrainer, SftTrainerState } from './trainer.ts';

export interface SftCheckpointMeta {
  version: 1;
  config: SftConfig;
  trainer: SftTrainerState;
  optimizerStep: number;
  /** Wall-clock seconds spent so far (summed over resumed sessions), and where. */
  elapsedSeconds: number;
  backend: string;
  /** Whatever the caller logs (step / eval records), carried across resumes. */
  history: object[];
}

export interface SftCheckpoint {
  meta: SftCheckpointMeta;
  modelConfig: ModelConfig;
  weights: Map<string, Float32Array>;
  optimizer: { step: number; m: Map<string, Float32Array>; v: Map<string, Float32Array> };
}

/** Write a checkpoint into `dir` (replacing one there): written to a sibling folder first, then renamed. */
export async function saveSftCheckpoint(dir: string, tr: SftTrainer, extra: Pick<SftCheckpointMeta, 'elapsedSeconds' | 'backend' | 'history'>): Promise<void> {
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  saveModelDir(tmp, tr.model.cfg, await tr.weights());
  const opt = await tr.opt.state();
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  tr.opt.params.forEach((p, i) => {
    tensors[`adam_m/${p.name}`] = { shape: p.shape, data: opt.m[i] };
    tensors[`adam_v/${p.name}`] = { shape: p.shape, data: opt.v[i] };
  });
  writeFileSync(join(tmp, 'optimizer.safetensors'), writeSafetensors(tensors));
  const meta: SftCheckpointMeta = { version: 1, config: tr.cfg, trainer: tr.state(), optimizerStep: opt.step, ...extra };
  writeFileSync(join(tmp, 'state.json'), JSON.stringify(meta, null, 1));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

export function hasSftCheckpoint(dir: string): boolean {
  return existsSync(join(dir, 'state.json'));
}

export function readSftCheckpoint(dir: string): SftCheckpoint {
  if (!hasSftCheckpoint(dir)) throw new Error(`${dir}: no SFT checkpoint here (state.json is missing)`);
  const meta = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as SftCheckpointMeta;
  if (meta.version !== 1) throw new Error(`${dir}: checkpoint version ${String(meta.version)} is not supported`);
  const { cfg, weights } = loadModelDir(dir);
  const file = parseSafetensors(readArrayBuffer(join(dir, 'optimizer.safetensors')), join(dir, 'optimizer.safetensors')).tensors;
  const m = new Map<string, Float32Array>(), v = new Map<string, Float32Array>();
  for (const [key, t] of file) {
    if (!(t.data instanceof Float32Array)) throw new Error(`${dir}: optimizer tensor "${key}" is not float32`);
    const [kind, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    if (kind === 'adam_m') m.set(name, t.data);
    else if (kind === 'adam_v') v.set(name, t.data);
  }
  return { meta, modelConfig: cfg, weights, optimizer: { step: meta.optimizerStep, m, v } };
}

/** Put a checkpoint's optimizer moments and trainer state into a trainer built on its weights. */
export function restoreSft(tr: SftTrainer, ck: SftCheckpoint): void {
  const pick = (map: Map<string, Float32Array>, what: string) => tr.opt.params.map((p) => {
    const d = map.get(p.name);
    if (!d) throw new Error(`checkpoint lacks the optimizer's ${what} for "${p.name}"`);
    return d;
  });
  tr.opt.load({ step: ck.optimizer.step, m: pick(ck.optimizer.m, 'first moment'), v: pick(ck.optimizer.v, 'second moment') });
  tr.restore(ck.meta.trainer);
}
