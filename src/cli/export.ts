// npm run export -- --config run.json --out DIR [--checkpoint CKPT_DIR --model MODEL_DIR | --init tiny]
// Writes DIR/rlvr_lab_trl_grpo.py and DIR/rlvr_lab_verl.yaml for a run's config (a partial RLConfig
// JSON, merged on the defaults, or a checkpoint's state.json), and with --checkpoint (a folder from
// `npm run train -- --save`) the trained adapter in PEFT's save_pretrained layout under DIR/adapter/.
// A target that cannot express the config gets DIR/<file>.refused with the reason instead (exit 0:
// the refusal is the export's answer; exit 2 on bad arguments).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { namedConfig, randomWeights } from '../model/init.ts';
import { loadModelDir, readArrayBuffer } from '../model/io.node.ts';
import { Model } from '../model/model.ts';
import { exportAdapter } from '../peft/hf.ts';
import { getMethod } from '../peft/registry.ts';
import { loadCheckpoint, type CheckpointMeta } from '../rl/checkpoint.ts';
import { completeConfig, defaultConfig, validateConfig, type RLConfig } from '../rl/config.ts';
import { promptWidth } from '../rl/rollout.ts';
import { Trainer } from '../rl/trainer.ts';
import { ExportRefused, trlScript, verlYaml } from '../store/scaleout.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';
import type { ModelSource } from '../worker/protocol.ts';

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
    if (cfg.peft.method === 'full') {
      console.log('full fine-tuning has no adapter: the checkpoint holds the whole model');
      return 0;
    }
    const task = getTask(cfg.task);
    const loaded = f.model ? loadModelDir(f.model) : (() => {
      const mc = namedConfig((f.init ?? 'tiny') as 'tiny', charTokenizer.vocabSize, promptWidth(task) + cfg.maxNewTokens);
      return { cfg: mc, weights: randomWeights(mc, cfg.seed) };
    })();
    const model = new Model(new CpuBackend(), loaded.cfg, loaded.weights);
    const inst = await getMethod(cfg.peft.method).attach(model, cfg.peft);
    const trainer = new Trainer(model, inst, task, charTokenizer, cfg);
    loadCheckpoint(trainer, readArrayBuffer(join(f.checkpoint, 'checkpoint.safetensors')), meta);
    const files = await exportAdapter(inst, { baseModelName: f['base-model-name'] ?? f.model ?? null });
    mkdirSync(join(f.out, 'adapter'), { recursive: true });
    writeFileSync(join(f.out, 'adapter', 'adapter_model.safetensors'), files['adapter_model.safetensors']);
    writeFileSync(join(f.out, 'adapter', 'adapter_config.json'), files['adapter_config.json']);
    console.log(`wrote ${join(f.out, 'adapter')}/ (adapter_config.json, adapter_model.safetensors)`);
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
