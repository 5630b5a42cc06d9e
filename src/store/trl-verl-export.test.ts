// The TRL script and the verl config, for every method and recipe: the script compiles
// (python3 -m py_compile) and passes GRPOConfig only fields it has; every key of the verl YAML
// exists in verl's config (tests/fixtures/scaleout/verl_keys.json, read from verl's sources);
// what verl cannot express is refused with the reason; the conversions are exact.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ModelSource } from '../model/source.ts';
import { methodIds } from '../peft/registry.ts';
import { defaultConfig, PRESETS, type PresetId, type RLConfig } from '../rl/config.ts';
import { ExportRefused, optimizerSteps, trlScript, verlLora, verlYaml } from './trl-verl-export.ts';

const fixture = (f: string) => JSON.parse(readFileSync(new URL(`../../tests/fixtures/scaleout/${f}`, import.meta.url), 'utf8'));
const VERL_KEYS = new Set<string>(fixture('verl_keys.json').keys);
const trl = fixture('trl_fields.json') as { grpoConfig: string[]; trainingArguments: string[] };
const GRPO_FIELDS = new Set([...trl.grpoConfig, ...trl.trainingArguments]);
const model: ModelSource = { kind: 'random', size: 'tiny' };

function cfg(method: RLConfig['peft']['method'], preset: PresetId = 'dapo', over: Partial<RLConfig> = {}): RLConfig {
  return { ...defaultConfig(method), ...PRESETS[preset], ...over };
}

/** Runs python3 on a program that reads JSON from argv[1]; returns its JSON output. */
function python(program: string, input: unknown): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'trl-verl-'));
  writeFileSync(join(dir, 'in.json'), JSON.stringify(input));
  return JSON.parse(execFileSync('python3', ['-c', program, join(dir, 'in.json')], { encoding: 'utf8', maxBuffer: 64 << 20 }));
}

const cases: { name: string; c: RLConfig }[] = [];
for (const m of methodIds) for (const p of ['dapo', 'grpo', 'dr_grpo'] as const) cases.push({ name: `${m}/${p}`, c: cfg(m, p) });
cases.push({ name: 'adalora+allocate', c: cfg('adalora', 'dapo', { peft: { ...defaultConfig('adalora').peft, adalora: { ...defaultConfig('adalora').peft.adalora, allocate: true } } }) });

describe('TRL script', () => {
  it('compiles, and GRPOConfig gets only fields GRPOConfig has, for every method and recipe', () => {
    const scripts = Object.fromEntries(cases.map(({ name, c }) => [name, trlScript(c, model)]));
    const out = python(`
import ast, json, sys
res = {}
for name, src in json.load(open(sys.argv[1])).items():
    compile(src, name, "exec")  # what py_compile does
    kw = []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "GRPOConfig":
            kw += [k.arg for k in node.keywords]
    res[name] = kw
print(json.dumps(res))`, scripts) as Record<string, string[]>;
    for (const { name } of cases) {
      expect(out[name].length, name).toBeGreaterThan(20);
      for (const k of out[name]) expect(GRPO_FIELDS.has(k), `${name}: GRPOConfig(${k}=...)`).toBe(true);
    }
  });

  it('max_steps counts optimizer steps: rollouts × mini-batches × epochs', () => {
    const c = cfg('lora', 'dapo', { steps: 50, miniBatches: 2, epochs: 3 });
    expect(optimizerSteps(c)).toBe(300);
    expect(trlScript(c, model)).toMatch(/max_steps=300,/);
    expect(trlScript(c, model)).toMatch(/steps_per_generation=2,/);
    expect(trlScript(c, model)).toMatch(/num_iterations=3,/);
    expect(trlScript(c, model)).toMatch(/per_device_train_batch_size=32,/); // 8 prompts × 8 / 2
    expect(() => trlScript(cfg('lora', 'dapo', { groupSize: 3, promptsPerStep: 3, miniBatches: 2 }), model)).toThrow(ExportRefused);
  });

  it('AdaLoRA: the orthogonal regulariser in the loss; update_and_allocate after each optimizer step only when the lab ran the allocator', () => {
    const off = trlScript(cfg('adalora'), model);
    expect(off).toContain('class AdaLoraGRPOTrainer(GRPOTrainer)');
    expect(off).toContain('ORTH_REG_WEIGHT = 0.5');
    expect(off).toContain('trainer = AdaLoraGRPOTrainer(model=model,');
    expect(off).not.toContain('update_and_allocate(');
    const on = trlScript(cases.at(-1)!.c, model);
    expect(on).toContain('def on_optimizer_step(self, args, state, control, **kwargs):');
    expect(on).toContain('self.model.base_model.update_and_allocate(state.global_step + 1)');
    expect(on).toContain('callbacks=[AdaLoraAllocate(model)]');
    expect(on).toMatch(/"total_step": 200/);
  });

  it('LoRA+ and LoRA-FA through peft.optimizers; MiLoRA says what it is', () => {
    const plus = trlScript(cfg('lora_plus'), model);
    expect(plus).toContain('from peft.optimizers import create_loraplus_optimizer');
    expect(plus).toMatch(/create_loraplus_optimizer\(model, torch.optim.AdamW, lr=0.001, loraplus_lr_ratio=\d/);
    expect(plus).toContain('optimizers=(optimizer, None)');
    expect(plus).not.toContain('peft_config=peft_config)');
    const fa = trlScript(cfg('lora_fa'), model);
    expect(fa).toContain('create_lorafa_optimizer(model, r=16, lora_alpha=32');
    expect(fa).toContain('p.requires_grad_(False)');
    const mi = trlScript(cfg('milora'), model);
    expect(mi).not.toContain('PiSSA-style');
    expect(mi).toContain('smallest singular triplets');
  });
});

describe('verl config', () => {
  const flatten = `
import json, sys, yaml
def flat(d, p=""):
    out = []
    for k, v in d.items():
        key = f"{p}.{k}" if p else str(k)
        out.append(key)
        if isinstance(v, dict): out += flat(v, key)
    return out
res = {}
for name, src in json.load(open(sys.argv[1])).items():
    d = yaml.safe_load(src)
    res[name] = {"keys": flat(d), "doc": d}
print(json.dumps(res, default=str))`;

  it('every key exists in verl\'s config; defaults and search path as the DAPO recipe; micro batches, seeds, scheduler in verl\'s keys', () => {
    const docs: Record<string, string> = {};
    const refused: Record<string, string> = {};
    for (const { name, c } of cases) {
      try {
        docs[name] = verlYaml(c, model);
      } catch (e) {
        expect(e, name).toBeInstanceOf(ExportRefused);
        refused[name] = (e as Error).message;
      }
    }
    const out = python(flatten, docs) as Record<string, { keys: string[]; doc: Record<string, any> }>;
    const exported = new Set(Object.keys(docs).map((n) => n.split('/')[0]));
    expect([...exported].sort()).toEqual(['full', 'lora', 'lora_r1', 'rslora']);
    for (const [name, { keys, doc }] of Object.entries(out)) {
      for (const k of keys) if (k !== 'hydra' && k !== 'hydra.searchpath' && k !== 'defaults') expect(VERL_KEYS.has(k), `${name}: ${k}`).toBe(true);
      expect(doc.defaults, name).toEqual(['ppo_trainer', '_self_']);
      expect(doc.hydra.searchpath, name).toEqual(['file://verl/trainer/config']);
      const a = doc.actor_rollout_ref;
      expect(a.actor.ppo_micro_batch_size_per_gpu, name).toBeGreaterThan(0);
      expect((a.actor.ppo_mini_batch_size * a.rollout.n) % a.actor.ppo_micro_batch_size_per_gpu, name).toBe(0);
      expect(a.rollout.log_prob_micro_batch_size_per_gpu, name).toBeGreaterThan(0);
      expect(a.ref.log_prob_micro_batch_size_per_gpu, name).toBeGreaterThan(0);
      expect([doc.data.seed, a.actor.data_loader_seed, a.actor.fsdp_config.seed], name).toEqual([0, 0, 0]);
      expect(doc.trainer.seed, name).toBeUndefined();
      expect(a.actor.optim.warmup_style, name).toBeUndefined();
      expect(a.actor.optim.lr_scheduler_type, name).toBe('constant');
      expect(doc.algorithm.filter_groups.metric, name).toBe('acc');
      expect(doc.reward_model.reward_manager, name).toBe('dapo');
    }
    for (const m of ['lora_fa', 'dora', 'pissa', 'olora', 'milora', 'adalora', 'vera', 'ia3', 'miss', 'ln_tuning']) {
      expect(refused[`${m}/dapo`], m).toMatch(/^verl export refused: /);
    }
    expect(refused['lora_plus/dapo']).toContain('one parameter group');
  });

  it('rsLoRA converts exactly (α\' = α·√r), or is refused when that is not a whole α', () => {
    expect(verlLora(cfg('rslora'))).toMatchObject({ rank: 16, alpha: 128 }); // 32·√16: scale 128/16 = 32/√16
    const r8 = cfg('rslora');
    r8.peft = { ...r8.peft, r: 8 };
    expect(() => verlLora(r8)).toThrow(/α' = α·√r = 90\.50966/);
    const r9 = cfg('rslora');
    r9.peft = { ...r9.peft, r: 9, alpha: 10 };
    expect(verlLora(r9)).toMatchObject({ rank: 9, alpha: 30 });
  });

  it('refuses what verl cannot express, saying why', () => {
    expect(() => verlYaml(cfg('lora', 'dapo', { schedule: 'linear' }), model)).toThrow(/constant or cosine only/);
    expect(() => verlYaml(cfg('lora', 'dapo', { scaleRewards: 'batch' }), model)).toThrow(/batch/);
    expect(() => verlYaml(cfg('lora', 'dapo', { promptsPerStep: 9, miniBatches: 2 }), model)).toThrow(/whole prompt groups/);
    expect(() => verlYaml(cfg('lora', 'dapo', { warmupSteps: 3, miniBatches: 2 }), model)).toThrow(/warm-up/);
    const lp = cfg('lora_plus');
    lp.peft = { ...lp.peft, loraPlusRatio: 1 };
    expect(verlLora(lp)).toMatchObject({ rank: 16, alpha: 32 });
  });

  it('maps the recipe: loss aggregation, cosine, warm-up in rollouts, dr_grpo\'s constant, dynamic sampling', () => {
    const c = cfg('lora', 'dr_grpo', { schedule: 'cosine', warmupSteps: 4, miniBatches: 2 });
    const y = verlYaml(c, model);
    expect(y).toMatch(/loss_agg_mode: seq-mean-token-sum-norm/);
    expect(y).toMatch(/loss_scale_factor: 64/);
    expect(y).toMatch(/lr_scheduler_type: cosine/);
    expect(y).toMatch(/lr_warmup_steps: 2 /);
    expect(y).toMatch(/norm_adv_by_std_in_grpo: false/);
    const d = verlYaml(cfg('lora'), model);
    expect(d).toMatch(/filter_groups:\n {4}_target_: verl.trainer.config.FilterGroupsConfig\n {4}enable: true\n {4}metric: acc/);
    expect(d).toMatch(/max_num_gen_batches: 3/);
    expect(d).toMatch(/overlong_buffer:\n {4}enable: true\n {4}len: 16/);
    expect(d).toContain('# loss: the lab\'s dapo (TRL) divides');
  });
});
