// npm run export -- --config run.json --out DIR [--checkpoint CKPT_DIR --model MODEL_DIR | --init tiny]
// Writes DIR/rlvr_lab_trl_grpo.py and DIR/rlvr_lab_verl.yaml for a run's config (a partial RLConfig
// JSON, merged on the defaults, or a checkpoint's state.json), and with --checkpoint (a folder from
// `npm run train -- --save`) the trained adapter in PEFT's save_pretrained layout under DIR/adapter/.
// A target that cannot express the config gets DIR/<file>.refused with the reason instead (exit 0:
// the refusal is the export's answer; exit 2 on bad arguments).
// With --checkpoint it also writes DIR/lab_logits.json: the lab's own logits (CPU reference kernels,
// float64 sums) for two fixed prompts of the run's task, of the base model and of the trained model,
// which `python3 tools/check_export.py DIR` compares with PEFT's (docs/SCALE-OUT.md). Full
// fine-tuning has no adapter: its trained weights are written as a model folder, DIR/model/; with
// --init the random base model is written as DIR/base_model/ so the check has a folder to load.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { namedConfig, randomWeights } from '../model/init.ts';
import { loadModelDir, readArrayBuffer, saveModelDir } from '../model/io.node.ts';
import { Model } from '../model/model.ts';
import type { ModelSource } from '../model/source.ts';
import { exportAdapter } from '../peft/hf.ts';
import { getMethod } from '../peft/registry.ts';
import { loadCheckpoint, type CheckpointMeta } from '../rl/checkpoint.ts';
import { completeConfig, defaultConfig, validateConfig, type RLConfig } from '../rl/config.ts';
import { encodePrompts, promptWidth } from '../rl/rollout.ts';
import { Trainer } from '../rl/trainer.ts';
import { ExportRefused, trlScript, verlYaml } from '../store/trl-verl-export.ts';
import { charTokenizer, getTask, type Task } from '../tasks/index.ts';

function flags(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else out[a.slice(2)] = argv[++i] ?? '';
  }
  return out;
}

export const LAB_LOGITS_FORMAT = 'rlvr-lab/lab-logits/1';

/** DIR/lab_logits.json: what tools/check_export.py reads. Paths are relative to DIR except
 * base_model, which is the --model path as it was given. Logits are (B, T, V) row-major, float32. */
export interface LabLogits {
  format: typeof LAB_LOGITS_FORMAT;
  method: string;
  task: string;
  step: number;
  backend: string;
  base_model: string | null;
  base_model_init: string | null;
  base_model_dir: string | null;
  adapter_dir: string | null;
  model_dir: string | null;
  tokens: { pad: number; bos: number; eos: number };
  prompts: string[];
  input_ids: number[][];
  attention: string;
  shape: [number, number, number];
  base_logits: number[];
  adapted_logits: number[];
}

/** The check's fixed input: the first two held-out prompts of the task (in-dist), encoded as the
 * lab encodes every prompt (<bos> + prompt, left-padded with <pad> to the task's prompt width). */
export function checkInput(task: Task): { prompts: string[]; ids: Int32Array; rows: number[][]; B: number; T: number } {
  const prompts = task.evalSet('in-dist').problems.slice(0, 2).map((p) => p.prompt);
  const T = promptWidth(task), B = prompts.length;
  const ids = encodePrompts(charTokenizer, prompts, T);
  const rows = Array.from({ length: B }, (_, b) => Array.from(ids.subarray(b * T, (b + 1) * T)));
  return { prompts, ids, rows, B, T };
}

/** Logits (B·T·V) of one forward pass over the whole input. */
async function logitsOf(model: Model, input: { ids: Int32Array; B: number; T: number }): Promise<Float32Array> {
  const { logits } = model.forward(input.ids, new Int32Array(input.B * input.T).fill(-1), input.B, input.T);
  return model.backend.read(logits);
}

/** float32 values as JSON numbers: 9 significant digits round-trip a float32 exactly. */
const f32List = (a: Float32Array): number[] => Array.from(a, (x) => Number(x.toPrecision(9)));

export async function main(argv: string[]): Promise<number> {
  const f = flags(argv);
  const known = ['config', 'out', 'checkpoint', 'model', 'init', 'base-model-name'];
  const bad = Object.keys(f).filter((k) => !known.includes(k));
  if (bad.length || !f.out || !(f.config || f.checkpoint)) {
    console.error(`usage: npm run export -- --config run.json --out DIR [--checkpoint CKPT_DIR (--model MODEL_DIR | --init tiny)]${bad.length ? `\nunknown: --${bad.join(', --')}` : ''}`);
    return 2;
  }
  const meta = f.checkpoint ? (JSON.parse(readFileSync(join(f.checkpoint, 'state.json'), 'utf8')) as CheckpointMeta) : null;
  let cfg: RLConfig;
  if (meta) cfg = completeConfig(meta.config);
  else {
    const json = JSON.parse(readFileSync(f.config, 'utf8')) as Partial<RLConfig> & { config?: RLConfig };
    const partial = (json.config ?? json) as Partial<RLConfig>; // a run.json or a state.json
    const d = defaultConfig(partial.peft?.method);
    cfg = completeConfig({ ...d, ...partial, peft: { ...d.peft, ...partial.peft } } as RLConfig);
  }
  const errors = validateConfig(cfg);
  if (errors.length) {
    for (const e of errors) console.error(`invalid setting: ${e}`);
    return 2;
  }
  // Unless told, the model the checkpoint says it was trained from (npm run train records it).
  if (!f.model && !f.init && meta?.model) {
    if ('dir' in meta.model) f.model = meta.model.dir;
    else f.init = meta.model.init;
  }
  mkdirSync(f.out, { recursive: true });
  const source: ModelSource = f.model ? { kind: 'url', base: f.model } : { kind: 'random', size: (f.init ?? 'tiny') as 'tiny' };
  for (const [file, make] of [['rlvr_lab_trl_grpo.py', trlScript], ['rlvr_lab_verl.yaml', verlYaml]] as const) {
    try {
      writeFileSync(join(f.out, file), make(cfg, source));
      console.log(`wrote ${join(f.out, file)}`);
    } catch (e) {
      if (!(e instanceof ExportRefused)) throw e;
      writeFileSync(join(f.out, `${file}.refused`), `${e.message}\n`);
      console.log(`${file}: ${e.message}`);
    }
  }
  writeFileSync(join(f.out, 'config.json'), JSON.stringify(cfg, null, 1));
  if (meta && f.checkpoint) {
    const task = getTask(cfg.task);
    const loaded = f.model ? loadModelDir(f.model) : (() => {
      const mc = namedConfig((f.init ?? 'tiny') as 'tiny', charTokenizer.vocabSize, promptWidth(task) + cfg.maxNewTokens);
      return { cfg: mc, weights: randomWeights(mc, cfg.seed) };
    })();
    const model = new Model(new CpuBackend(), loaded.cfg, loaded.weights);
    const input = checkInput(task);
    const baseLogits = await logitsOf(model, input); // before anything is attached: the base model itself
    if (!f.model) {
      saveModelDir(join(f.out, 'base_model'), loaded.cfg, loaded.weights);
      console.log(`wrote ${join(f.out, 'base_model')}/ (the random --init ${f.init ?? 'tiny'} model the checkpoint was trained on)`);
    }
    const inst = await getMethod(cfg.peft.method).attach(model, cfg.peft);
    const trainer = new Trainer(model, inst, task, charTokenizer, cfg);
    loadCheckpoint(trainer, readArrayBuffer(join(f.checkpoint, 'checkpoint.safetensors')), meta);
    inst.setTraining?.(false); // no dropout: the adapter as PEFT's eval mode applies it
    const adaptedLogits = await logitsOf(model, input);
    const full = cfg.peft.method === 'full';
    if (full) {
      // The trained weights are the model's own: written as an HF model folder.
      const weights = new Map<string, Float32Array>();
      for (const [name, t] of model.params) weights.set(name, await model.backend.read(t));
      saveModelDir(join(f.out, 'model'), loaded.cfg, weights);
      console.log(`full fine-tuning has no adapter: wrote the trained model to ${join(f.out, 'model')}/ (config.json, model.safetensors)`);
    } else {
      const files = await exportAdapter(inst, { baseModelName: f['base-model-name'] ?? f.model ?? null });
      mkdirSync(join(f.out, 'adapter'), { recursive: true });
      writeFileSync(join(f.out, 'adapter', 'adapter_model.safetensors'), files['adapter_model.safetensors']);
      writeFileSync(join(f.out, 'adapter', 'adapter_config.json'), files['adapter_config.json']);
      console.log(`wrote ${join(f.out, 'adapter')}/ (adapter_config.json, adapter_model.safetensors)`);
    }
    const record: LabLogits = {
      format: LAB_LOGITS_FORMAT,
      method: cfg.peft.method,
      task: cfg.task,
      step: meta.trainer.step,
      backend: 'cpu-f64 (the CPU reference kernels: float32 storage, float64 sums)',
      base_model: f.model ?? null,
      base_model_init: f.model ? null : (f.init ?? 'tiny'),
      base_model_dir: f.model ? null : 'base_model',
      adapter_dir: full ? null : 'adapter',
      model_dir: full ? 'model' : null,
      tokens: { pad: charTokenizer.padId, bos: charTokenizer.bosId, eos: charTokenizer.eosId },
      prompts: input.prompts,
      input_ids: input.rows,
      attention: 'every position attends to itself and every earlier one, padding included (attention_mask of ones, position ids 0..T-1), as the lab runs it',
      shape: [input.B, input.T, loaded.cfg.vocabSize],
      base_logits: f32List(baseLogits),
      adapted_logits: f32List(adaptedLogits),
    };
    writeFileSync(join(f.out, 'lab_logits.json'), `${JSON.stringify(record)}\n`);
    console.log(`wrote ${join(f.out, 'lab_logits.json')} (check it where PEFT is installed: python3 tools/check_export.py ${f.out}${f.model ? ` --base ${f.model}` : ''})`);
    inst.detach();
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
