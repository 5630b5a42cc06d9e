// LN tuning: the RMSNorm weights train in place under PEFT's names, everything else stays frozen;
// merged and detach; counts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { parseHfConfig } from '../model/config.ts';
import { Model } from '../model/model.ts';
import { loadWeights } from '../model/parity.ts';
import { lnTuning, lnTuningName, normNames } from './ln_tuning.ts';
import { defaultPeftConfig } from './registry.ts';

for (const fixture of ['hf-qwen2-tiny', 'hf-llama-tiny']) {
  const dir = new URL(`../../tests/fixtures/${fixture}/`, import.meta.url);
  const mcfg = parseHfConfig(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')));
  const buf = readFileSync(new URL('model.safetensors', dir));
  const newModel = () => new Model(new CpuBackend(), mcfg, loadWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer, 'model.safetensors'));
  const cfg = defaultPeftConfig('ln_tuning');

  describe(`LN tuning on ${fixture}`, () => {
    it('trains exactly the norm weights, under PEFT\'s ln_tuning_layers names, with the model\'s gradients', async () => {
      const m = newModel();
      const inst = await lnTuning.attach(m, cfg);
      expect(lnTuningName('model.layers.0.input_layernorm.weight')).toBe('base_model.model.model.layers.0.input_layernorm.ln_tuning_layers.default.weight');
      expect(inst.params.map((p) => p.name)).toEqual(normNames(mcfg).map(lnTuningName));
      expect(inst.params.reduce((n, p) => n + p.tensor.size, 0)).toBe(lnTuning.trainableCount(cfg, mcfg));
      expect(lnTuning.trainableCount(cfg, mcfg)).toBe((2 * mcfg.layers + 1) * mcfg.hidden);
      expect([...m.grads.keys()].sort()).toEqual(normNames(mcfg).sort());
      const ids = Int32Array.from({ length: 8 }, (_, i) => (i * 5) % mcfg.vocabSize);
      inst.zeroGrads();
      m.forward(ids, Int32Array.from(ids, (_, i) => (i < 7 ? ids[i + 1] : -1)), 1, 8);
      m.backward(new Float32Array(8).fill(-1 / 7));
      for (const p of inst.params) {
        expect(p.grad).toBe(m.grads.get(normNames(mcfg)[inst.params.indexOf(p)]));
        expect((await m.backend.read(p.grad)).some((v) => v !== 0)).toBe(true);
      }
      expect(lnTuning.validate(cfg, mcfg)).toEqual([]);
      inst.detach();
    });

    it('load takes PEFT or HF names; merged is the norm weights; detach restores the originals', async () => {
      const m = newModel(), be = m.backend;
      const name = 'model.layers.1.post_attention_layernorm.weight';
      const orig = await be.read(m.p(name));
      const inst = await lnTuning.attach(m, cfg);
      const v = new Float32Array(mcfg.hidden).fill(0.5);
      inst.load(new Map([[lnTuningName(name), v]]));
      expect(Array.from((await inst.merged()).get(name)!)).toEqual(Array.from(v));
      expect(Array.from((await inst.snapshot()).get(lnTuningName(name))!)).toEqual(Array.from(v));
      inst.load(new Map([['model.norm.weight', v]]));
      expect(Array.from(await be.read(m.p('model.norm.weight')))).toEqual(Array.from(v));
      expect(() => inst.load(new Map([[lnTuningName(name), new Float32Array(3)]]))).toThrow(/post_attention_layernorm.*got 3 values/);
      expect(() => inst.load(new Map([['base_model.model.lm_head.weight', v]]))).toThrow(/unknown tensor/);
      inst.detach();
      expect(Array.from(await be.read(m.p(name)))).toEqual(Array.from(orig));
      expect(m.grads.size).toBe(0);
    });
  });
}
