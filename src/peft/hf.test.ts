// HF PEFT interchange: adapter_config.json parsing (every fixture config, every target_modules form,
// refusals naming the setting), writing, saved tensor names, export → import round trips, and an
// adapter in PEFT's saved form (built from the golden state) reproducing PEFT's logits.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { parseHfConfig } from '../model/config.ts';
import { Model, PROJS } from '../model/model.ts';
import { loadWeights, relErr, TOL } from '../model/parity.ts';
import { parseSafetensors, writeSafetensors, type WriteTensor } from '../model/safetensors.ts';
import { savedName } from './common.ts';
import { exportAdapter, fromHfPeftConfig, importAdapter, peftShapes, toHfPeftConfig } from './hf.ts';
import { defaultPeftConfig, getMethod, methodIds } from './registry.ts';
import type { MethodId, PeftConfig, PeftInstance } from './types.ts';

const dir = new URL('../../tests/fixtures/hf-qwen2-tiny/', import.meta.url);
const bytes = (f: string) => {
  const b = readFileSync(new URL(f, dir));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};
const mcfg = parseHfConfig(JSON.parse(readFileSync(new URL('config.json', dir), 'utf8')));
const weights = loadWeights(bytes('model.safetensors'), 'model.safetensors');
const manifest = JSON.parse(readFileSync(new URL('golden_manifest.json', dir), 'utf8')) as { methods: Record<string, { config: Record<string, unknown> }> };
const newModel = () => new Model(new CpuBackend(), mcfg, weights);
const conf = (m: string) => manifest.methods[m].config;
const rnd = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 0.05);

describe('fromHfPeftConfig', () => {
  it('reads every config of the fixture manifest (PEFT 0.21, target_modules as a Python set string)', () => {
    const all = [...PROJS];
    const pick = (c: PeftConfig) => ({ method: c.method, r: c.r, alpha: c.alpha, dropout: c.dropout, targets: c.targets });
    expect(pick(fromHfPeftConfig(conf('lora')))).toEqual({ method: 'lora', r: 4, alpha: 8, dropout: 0, targets: all });
    expect(pick(fromHfPeftConfig(conf('rslora')))).toEqual({ method: 'rslora', r: 4, alpha: 8, dropout: 0, targets: all });
    expect(pick(fromHfPeftConfig(conf('lora_r1')))).toEqual({ method: 'lora', r: 1, alpha: 2, dropout: 0, targets: all });
    expect(pick(fromHfPeftConfig(conf('dora')))).toEqual({ method: 'dora', r: 4, alpha: 8, dropout: 0, targets: all });
    for (const m of ['pissa', 'milora', 'olora']) expect(pick(fromHfPeftConfig(conf(m)))).toEqual({ method: m, r: 4, alpha: 4, dropout: 0, targets: all });
    const ada = fromHfPeftConfig(conf('adalora'));
    expect(pick(ada)).toEqual({ method: 'adalora', r: 6, alpha: 8, dropout: 0, targets: all });
    expect(ada.adalora).toMatchObject({ targetR: 4, tInit: 10, tFinal: 20, deltaT: 5, beta1: 0.85, beta2: 0.85, orthRegWeight: 0.5, totalStep: 100 });
    const vera = fromHfPeftConfig(conf('vera'));
    expect(pick(vera)).toMatchObject({ method: 'vera', r: 16, dropout: 0, targets: ['q_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj'] });
    expect(vera.vera).toEqual({ dInitial: 0.1, seed: 0 });
    const ia3 = fromHfPeftConfig(conf('ia3'));
    expect([ia3.method, ia3.targets, ia3.ia3FeedForward]).toEqual(['ia3', ['k_proj', 'v_proj', 'down_proj'], ['down_proj']]);
    expect(pick(fromHfPeftConfig(conf('miss')))).toMatchObject({ method: 'miss', r: 4, targets: all });
    expect(fromHfPeftConfig(conf('ln_tuning')).method).toBe('ln_tuning');
  });

  it('target_modules in every form PEFT accepts', () => {
    const t = (v: unknown) => fromHfPeftConfig({ peft_type: 'LORA', target_modules: v }).targets;
    expect(t(['v_proj', 'q_proj'])).toEqual(['q_proj', 'v_proj']);
    expect(t("{'v_proj', 'q_proj'}")).toEqual(['q_proj', 'v_proj']);
    expect(t("['down_proj']")).toEqual(['down_proj']);
    expect(t(['self_attn.o_proj'])).toEqual(['o_proj']);
    expect(t('all-linear')).toEqual([...PROJS]);
    expect(t('.*\\.(k_proj|up_proj)')).toEqual(['k_proj', 'up_proj']);
    expect(t(null)).toEqual(['q_proj', 'v_proj']); // PEFT's default for Qwen2 / Llama
  });

  it('refuses what the lab cannot honour, naming the setting', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{}, 'peft_type: missing'],
      [{ peft_type: 'PREFIX_TUNING' }, 'peft_type: "PREFIX_TUNING" is not supported'],
      [{ peft_type: 'LORA', target_modules: ['foo'] }, 'target_modules: unknown target module "foo"'],
      [{ peft_type: 'LORA', target_modules: ['model.layers.1.mlp.up_proj'] }, 'target_modules: "model.layers.1.mlp.up_proj" names one layer'],
      [{ peft_type: 'LORA', target_modules: 'nomatch_.*' }, 'target_modules: the regular expression "nomatch_.*" matches no module'],
      [{ peft_type: 'LORA', r: 0 }, 'r: must be a positive integer, got 0'],
      [{ peft_type: 'LORA', lora_dropout: -0.1 }, 'lora_dropout: must be a non-negative number'],
      [{ peft_type: 'LORA', init_lora_weights: 'loftq' }, 'init_lora_weights: "loftq" is not supported'],
      [{ peft_type: 'LORA', bias: 'all' }, 'bias: "all" is not supported'],
      [{ peft_type: 'LORA', rank_pattern: { q_proj: 8 } }, 'rank_pattern: {"q_proj":8} is not supported'],
      [{ peft_type: 'LORA', rank_pattern: "{'q_proj': 8}" }, 'rank_pattern:'],
      [{ peft_type: 'LORA', use_dora: true, init_lora_weights: 'pissa' }, 'use_dora: DoRA with init_lora_weights="pissa"'],
      [{ peft_type: 'LORA', use_rslora: true, use_dora: true }, 'use_rslora: rsLoRA scaling combined with dora'],
      [{ peft_type: 'IA3', target_modules: ['k_proj'], feedforward_modules: ['down_proj'] }, 'feedforward_modules: "down_proj" is not in target_modules'],
      [{ peft_type: 'MISS', init_weights: 'bat' }, 'init_weights: "bat"'],
      [{ peft_type: 'LN_TUNING', target_modules: ['norm'] }, 'target_modules: LN tuning here tunes every RMSNorm'],
    ];
    for (const [json, msg] of bad) expect(() => fromHfPeftConfig(json), JSON.stringify(json)).toThrow(msg);
  });
});

describe('toHfPeftConfig', () => {
  it('writes what PEFT 0.21 reads: LoRA fields, list target_modules, CAUSAL_LM', () => {
    const c = toHfPeftConfig({ ...defaultPeftConfig('lora'), r: 8, alpha: 16, dropout: 0.05, targets: ['q_proj', 'v_proj'] }, 'Qwen/Qwen2.5-0.5B');
    expect(c).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: 'Qwen/Qwen2.5-0.5B', peft_version: '0.21.0',
      r: 8, lora_alpha: 16, lora_dropout: 0.05, target_modules: ['q_proj', 'v_proj'], use_rslora: false, use_dora: false,
      init_lora_weights: true, bias: 'none', fan_in_fan_out: false, inference_mode: true });
    expect(toHfPeftConfig(defaultPeftConfig('milora'))).toMatchObject({ r: 64, lora_alpha: 128, init_lora_weights: true });
    expect(() => toHfPeftConfig(defaultPeftConfig('full'))).toThrow(/full fine-tuning has no PEFT adapter format/);
  });

  it('round-trips through fromHfPeftConfig for every adapter method', () => {
    const same: Partial<Record<MethodId, MethodId>> = { lora_r1: 'lora', lora_plus: 'lora', lora_fa: 'lora', milora: 'lora' };
    for (const id of methodIds.filter((m) => m !== 'full')) {
      const cfg: PeftConfig = { ...defaultPeftConfig(id), r: 4, alpha: 8, dropout: 0.1, targets: id === 'ia3' ? ['k_proj', 'v_proj', 'down_proj'] : ['q_proj', 'o_proj', 'down_proj'] };
      const back = fromHfPeftConfig(JSON.parse(JSON.stringify(toHfPeftConfig(cfg))));
      expect(back.method, id).toBe(same[id] ?? id);
      if (id === 'ln_tuning') continue;
      expect(back.targets, id).toEqual(cfg.targets);
      if (id !== 'ia3') expect([back.r, back.dropout], id).toEqual([id === 'milora' ? 8 : 4, 0.1]);
      if (!['ia3', 'vera', 'miss'].includes(id)) expect(back.alpha, id).toBe(id === 'milora' ? 16 : 8);
      if (id === 'adalora') expect(back.adalora).toEqual({ ...cfg.adalora, allocate: back.adalora.allocate });
      if (id === 'vera') expect(back.vera).toEqual(cfg.vera);
      if (id === 'ia3') expect(back.ia3FeedForward).toEqual(['down_proj']);
    }
  });
});

describe('saved tensor names', () => {
  it('drop the adapter name as PEFT\'s get_peft_model_state_dict does', () => {
    const b = 'base_model.model.model.layers.0.self_attn.q_proj';
    expect(savedName(`${b}.lora_A.default.weight`)).toBe(`${b}.lora_A.weight`);
    expect(savedName(`${b}.lora_magnitude_vector.default.weight`)).toBe(`${b}.lora_magnitude_vector`);
    expect(savedName(`${b}.lora_E.default`)).toBe(`${b}.lora_E`);
    expect(savedName(`${b}.ia3_l.default`)).toBe(`${b}.ia3_l`);
    expect(savedName('base_model.vera_A.default')).toBe('base_model.vera_A');
    expect(savedName('base_model.model.model.norm.ln_tuning_layers.default.weight')).toBe('base_model.model.model.norm.ln_tuning_layers.weight');
    expect(savedName(`${b}.ranknum.default`)).toBeNull();
    expect(savedName(`${b}.base_layer.weight`)).toBeNull();
  });
});

/** Give every trainable tensor a non-init value, as training would. */
function perturb(inst: PeftInstance): void {
  const mult = (n: string) => /magnitude|ia3_l|ln_tuning|lambda_d/.test(n);
  inst.load(new Map(inst.params.map((p, i) => [p.name, rnd(p.tensor.size, i + 1).map((v) => v + (mult(p.name) ? 1 : 0))])));
}

describe('exportAdapter → importAdapter', () => {
  const roundTrip = async (id: MethodId, opts: { asLora?: boolean } = {}) => {
    const d = defaultPeftConfig(id);
    const cfg: PeftConfig = { ...d, r: 4, alpha: 8, dropout: 0, targets: id === 'ia3' ? ['k_proj', 'v_proj', 'down_proj'] : [...PROJS],
      adalora: { ...d.adalora, targetR: 2 } };
    const inst = await getMethod(id).attach(newModel(), cfg);
    perturb(inst);
    const want = await inst.merged();
    const files = await exportAdapter(inst, opts);
    inst.detach();
    const m2 = newModel();
    const back = await importAdapter(files, m2);
    const got = await back.merged();
    back.detach();
    return { want, got, files };
  };

  for (const id of methodIds.filter((m) => m !== 'full')) {
    it(`${id}: the imported adapter has the same effective weights`, async () => {
      const { want, got, files } = await roundTrip(id);
      for (const [name, w] of want) expect(relErr(got.get(name) ?? [], w), name).toBeLessThan(id === 'milora' ? 1e-6 : 1e-7);
      const saved = parseSafetensors(files['adapter_model.safetensors']);
      expect([...saved.tensors.keys()].some((k) => k.includes('.default'))).toBe(false);
      expect(saved.metadata).toEqual({ format: 'pt' });
    });
  }

  for (const id of ['pissa', 'olora'] as const) {
    it(`${id} asLora: a rank-2r plain LoRA on the original weights with the same effective weights`, async () => {
      const { want, got, files } = await roundTrip(id, { asLora: true });
      const cfg = JSON.parse(files['adapter_config.json']) as Record<string, unknown>;
      expect(cfg).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 16, init_lora_weights: true });
      for (const [name, w] of want) expect(relErr(got.get(name) ?? [], w), name).toBeLessThan(1e-6);
    });
  }

  it('LoRA saved names and shapes are PEFT\'s', async () => {
    const inst = await getMethod('dora').attach(newModel(), { ...defaultPeftConfig('dora'), r: 4, targets: ['q_proj'] });
    const saved = parseSafetensors((await exportAdapter(inst))['adapter_model.safetensors']);
    inst.detach();
    const b = 'base_model.model.model.layers.0.self_attn.q_proj';
    expect(saved.tensors.get(`${b}.lora_A.weight`)?.shape).toEqual([4, 64]);
    expect(saved.tensors.get(`${b}.lora_B.weight`)?.shape).toEqual([64, 4]);
    expect(saved.tensors.get(`${b}.lora_magnitude_vector`)?.shape).toEqual([64]);
    expect(saved.tensors.size).toBe(6);
  });

  it('refuses files that do not fit, naming the tensor, and leaves the model as it was', async () => {
    const inst = await getMethod('lora').attach(newModel(), { ...defaultPeftConfig('lora'), r: 4, targets: ['q_proj'] });
    const files = await exportAdapter(inst);
    inst.detach();
    const saved = parseSafetensors(files['adapter_model.safetensors']).tensors;
    const write = (f: (t: Record<string, WriteTensor>) => void) => {
      const t: Record<string, WriteTensor> = {};
      for (const [n, x] of saved) t[n] = { shape: x.shape, data: x.data };
      f(t);
      return { ...files, 'adapter_model.safetensors': writeSafetensors(t) };
    };
    const m = newModel();
    const extra = write((t) => { t['base_model.model.model.layers.0.self_attn.q_proj.lora_C.weight'] = { shape: [1], data: new Float32Array(1) }; });
    await expect(importAdapter(extra, m)).rejects.toThrow('tensor "base_model.model.model.layers.0.self_attn.q_proj.lora_C.weight" matches no lora tensor');
    const missing = write((t) => { delete t['base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight']; });
    await expect(importAdapter(missing, m)).rejects.toThrow('lacks "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight"');
    const shape = write((t) => { t['base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight'] = { shape: [64, 2], data: new Float32Array(128) }; });
    await expect(importAdapter(shape, m)).rejects.toThrow('has shape [64,2]');
    await expect(importAdapter({ ...files, 'adapter_config.json': '{' }, m)).rejects.toThrow('adapter_config.json: not valid JSON');
    expect(m.adapters.size).toBe(0);
  });
});

describe('every exported tensor has the shape PEFT builds (golden init state of PEFT 0.21, per method)', () => {
  const golden = parseSafetensors(bytes('golden_peft.safetensors')).tensors;
  for (const key of Object.keys(manifest.methods)) {
    it(key, async () => {
      const cfg = fromHfPeftConfig(conf(key));
      const inst = await getMethod(cfg.method).attach(newModel(), cfg);
      const saved = parseSafetensors((await exportAdapter(inst))['adapter_model.safetensors']).tensors;
      inst.detach();
      // PEFT's own state dict at init (adapter name dropped), and the trainable names (those with a gradient).
      const peft = new Map<string, number[]>(), trainable: string[] = [];
      for (const [n, x] of golden) {
        const m = /^([^/]+)\/(init|grad)\/(.*)$/.exec(n);
        if (!m || m[1] !== (key === 'milora' ? 'lora' : key)) continue; // no MiLoRA goldens: LoRA's, same r and targets
        const name = savedName(m[3]);
        if (name === null) continue;
        if (m[2] === 'init') peft.set(name, x.shape);
        else trainable.push(name);
      }
      // MiLoRA is saved as the equivalent plain LoRA of rank 2r (PEFT lacks it): rank axis doubled.
      const expected = (n: string): number[] | undefined => {
        const s = peft.get(n);
        if (!s || key !== 'milora') return s;
        return n.endsWith('lora_A.weight') ? [2 * s[0], s[1]] : [s[0], 2 * s[1]];
      };
      expect(saved.size).toBeGreaterThan(0);
      for (const [n, t] of saved) expect(t.shape, n).toEqual(expected(n));
      for (const n of trainable) expect(saved.has(n), n).toBe(true);
      if (key === 'vera') {
        expect(saved.get('base_model.vera_A')?.shape).toEqual([16, 64]);
        expect(saved.get('base_model.vera_B')?.shape).toEqual([128, 16]);
      }
      // peftShapes (what the import checks against) lists exactly these names and shapes.
      const listed = peftShapes(cfg, mcfg, key === 'milora' ? 2 * cfg.r : cfg.r);
      expect(new Map([...saved].map(([n, t]) => [n, t.shape]))).toEqual(listed);
    });
  }

  it('the import refuses a tensor of the right size but not PEFT\'s shape (a flat VeRA projection)', async () => {
    const cfg = fromHfPeftConfig(conf('vera'));
    const inst = await getMethod('vera').attach(newModel(), cfg);
    const files = await exportAdapter(inst);
    inst.detach();
    const t: Record<string, WriteTensor> = {};
    for (const [n, x] of parseSafetensors(files['adapter_model.safetensors']).tensors) t[n] = { shape: x.shape, data: x.data };
    t['base_model.vera_A'] = { shape: [16 * 64], data: t['base_model.vera_A'].data };
    const m = newModel();
    await expect(importAdapter({ ...files, 'adapter_model.safetensors': writeSafetensors(t) }, m))
      .rejects.toThrow('tensor "base_model.vera_A" has shape [1024], PEFT builds [16,64]');
    expect(m.adapters.size).toBe(0);
    await importAdapter(files, m); // the exported file itself loads
  });
});

describe('an adapter in PEFT\'s saved form (golden state, adapter name dropped) reproduces PEFT\'s logits', () => {
  const golden = parseSafetensors(bytes('golden_peft.safetensors')).tensors;
  const base = parseSafetensors(bytes('golden_base.safetensors')).tensors;
  for (const key of ['lora', 'rslora', 'dora', 'lora_r1']) {
    it(key, async () => {
      const t: Record<string, WriteTensor> = {};
      for (const [n, x] of golden) if (n.startsWith(`${key}/state/`)) t[savedName(n.slice(key.length + 7))!] = { shape: x.shape, data: x.data };
      const m = newModel();
      const inst = await importAdapter({ 'adapter_model.safetensors': writeSafetensors(t), 'adapter_config.json': JSON.stringify(conf(key)) }, m);
      const ids = Int32Array.from(base.get('input_ids')!.data), [B, T] = base.get('input_ids')!.shape;
      const { logits } = m.forward(ids, new Int32Array(B * T).fill(-1), B, T);
      expect(relErr(await m.backend.read(logits), golden.get(`${key}/logits`)!.data)).toBeLessThan(TOL.logits);
      inst.detach();
    });
  }
});
