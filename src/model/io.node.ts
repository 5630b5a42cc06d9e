// Model folders on disk (HF layout: config.json + model.safetensors), for the headless CLI.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paramShapes, parseHfConfig, toHfConfig, type ModelConfig } from './config.ts';
import { loadWeights } from './parity.ts';
import { writeSafetensors } from './safetensors.ts';

export function readArrayBuffer(path: string): ArrayBuffer {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

export function loadModelDir(dir: string): { cfg: ModelConfig; weights: Map<string, Float32Array> } {
  for (const f of ['config.json', 'model.safetensors']) {
    if (!existsSync(join(dir, f))) throw new Error(`${join(dir, f)} not found (a model folder holds config.json and model.safetensors)`);
  }
  const cfg = parseHfConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
  return { cfg, weights: loadWeights(readArrayBuffer(join(dir, 'model.safetensors')), join(dir, 'model.safetensors')) };
}

export function saveModelDir(dir: string, cfg: ModelConfig, weights: Map<string, Float32Array>, extra: Record<string, string> = {}): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(cfg), null, 1));
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, shape] of paramShapes(cfg)) {
    const data = weights.get(name);
    if (!data) throw new Error(`saveModelDir: no weights for "${name}"`);
    tensors[name] = { shape, data };
  }
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(tensors));
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
}
