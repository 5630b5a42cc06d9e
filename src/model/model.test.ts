// Bad input to the model gets a clear ModelError, never a crash or a GPU error.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { parseHfConfig } from './config.ts';
import { Model, ModelError } from './model.ts';
import { loadWeights } from './parity.ts';

const dir = new URL('../../tests/fixtures/hf-qwen2-tiny/', import.meta.url);
const cfg = parseHfConfig(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')));
const buf = readFileSync(new URL('model.safetensors', dir));
const weights = () => loadWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, 'model.safetensors');

describe('model input validation', () => {
  it('rejects a tensor of the wrong shape, naming it', () => {
    const w = weights();
    w.set('model.layers.1.mlp.up_proj.weight', new Float32Array(10));
    expect(() => new Model(new CpuBackend(), cfg, w)).toThrow(/model\.layers\.1\.mlp\.up_proj\.weight.*\[128,64\]/);
  });
  it('rejects missing tensors', () => {
    const w = weights();
    w.delete('model.norm.weight');
    expect(() => new Model(new CpuBackend(), cfg, w)).toThrow(ModelError);
  });
  it('rejects a sequence longer than the model allows', () => {
    const m = new Model(new CpuBackend(), cfg, weights());
    const T = cfg.maxPositions + 1;
    expect(() => m.forward(new Int32Array(T), new Int32Array(T), 1, T)).toThrow(/exceeds the model's maximum of 128 positions/);
  });
  it('rejects out-of-vocabulary ids and mismatched lengths', () => {
    const m = new Model(new CpuBackend(), cfg, weights());
    expect(() => m.forward(Int32Array.of(1, 2, 96), new Int32Array(3), 1, 3)).toThrow(/token id 96 is outside the vocabulary/);
    expect(() => m.forward(new Int32Array(5), new Int32Array(5), 2, 3)).toThrow(/expected 6 token ids/);
  });
  it('rejects a decode past the last position', async () => {
    const m = new Model(new CpuBackend(), cfg, weights());
    await expect(m.generateGreedy(new Int32Array(100), 1, 29)).rejects.toThrow(/exceed the model's 128 positions/);
  });
});
