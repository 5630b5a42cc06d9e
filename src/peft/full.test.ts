// Full fine-tuning: every parameter trains with the model's own tensors and gradients, and those
// gradients match HF's (golden_base grad/*: the base model is the full fine-tuning model); weight
// decay groups; counts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { paramShapes, parseHfConfig } from '../model/config.ts';
import { Model } from '../model/model.ts';
import { loadWeights, relErr, TOL } from '../model/parity.ts';
import { parseSafetensors } from '../model/safetensors.ts';
import { full, noDecay } from './full.ts';
import { defaultPeftConfig } from './registry.ts';

for (const fixture of ['hf-qwen2-tiny', 'hf-llama-tiny']) {
  const dir = new URL(`../../tests/fixtures/${fixture}/`, import.meta.url);
  const ab = (f: string) => {
    const b = readFileSync(new URL(f, dir));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  };
  const mcfg = parseHfConfig(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')));
  const cfg = defaultPeftConfig('full');

  describe(`full fine-tuning on ${fixture}`, () => {
    it('every parameter is trainable; gradients match HF\'s golden gradients', async () => {
      const m = new Model(new CpuBackend(), mcfg, loadWeights(ab('model.safetensors'), 'model.safetensors'));
      const inst = await full.attach(m, cfg);
      expect(inst.params.map((p) => p.name).sort()).toEqual([...paramShapes(mcfg).keys()].sort());
      expect(inst.params.reduce((n, p) => n + p.tensor.size, 0)).toBe(full.trainableCount(cfg, mcfg));
      for (const p of inst.params) {
        expect(p.tensor).toBe(m.p(p.name));
        expect(p.grad).toBe(m.grads.get(p.name));
        expect(p.shape).toEqual(paramShapes(mcfg).get(p.name));
      }
      const base = parseSafetensors(ab('golden_base.safetensors'), 'golden_base').tensors;
      const ids = Int32Array.from(base.get('input_ids')!.data), labels = Int32Array.from(base.get('labels')!.data);
      const [B, T] = base.get('input_ids')!.shape;
      const targets = new Int32Array(B * T).fill(-1), dlogp = new Float32Array(B * T);
      let count = 0;
      for (let i = 0; i < B * T; i++) if (i % T < T - 1 && labels[i + 1] >= 0) count++;
      for (let i = 0; i < B * T; i++) {
        if (i % T < T - 1 && labels[i + 1] >= 0) {
          targets[i] = ids[i + 1];
          dlogp[i] = -1 / count;
        }
      }
      inst.zeroGrads();
      m.forward(ids, targets, B, T);
      m.backward(dlogp);
      for (const p of inst.params) {
        const want = base.get(`grad/${p.name}`)!.data as Float32Array;
        expect(relErr(await m.backend.read(p.grad), want), p.name).toBeLessThan(TOL.grad);
      }
      const merged = await inst.merged();
      expect(merged.size).toBe(inst.params.length);
      inst.detach();
    });
  });
}

describe('full fine-tuning weight-decay groups', () => {
  it('exempts biases and norm weights, as HF Trainer does', () => {
    expect(noDecay('model.layers.0.self_attn.q_proj.bias')).toBe(true);
    expect(noDecay('model.layers.0.input_layernorm.weight')).toBe(true);
    expect(noDecay('model.layers.3.post_attention_layernorm.weight')).toBe(true);
    expect(noDecay('model.norm.weight')).toBe(true);
    expect(noDecay('model.layers.0.self_attn.q_proj.weight')).toBe(false);
    expect(noDecay('model.embed_tokens.weight')).toBe(false);
    expect(noDecay('lm_head.weight')).toBe(false);
  });
});
