// npm run train -- --task T --method M --loss L --steps N --seed S --backend cpu|webgpu --out FILE.jsonl
// One JSON object per line: a config record, one per step, evaluation records, a final summary;
// each is appended as soon as it exists, so a crash loses nothing.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomWeights, namedConfig } from '../model/init.ts';
import { readArrayBuffer, loadModelDir } from '../model/io.node.ts';
import { Model } from '../model/model.ts';
import { internalsLine } from '../peft/internals.ts';
import { SpectralProbe, type SpectralRecord } from '../peft/spectral.ts';
import { nodeSpectralThread } from '../peft/spectral-thread.node.ts';
import { getMethod, methodIds } from '../peft/registry.ts';
import type { MethodId } from '../peft/types.ts';
import { completeConfig, defaultConfig, experimentLr, PRESETS, validateConfig, type PresetId, type RLConfig } from '../rl/config.ts';
import { loadCheckpoint, saveCheckpoint, type CheckpointMeta } from '../rl/checkpoint.ts';
import { promptWidth } from '../rl/rollout.ts';
import { pairedChange, Trainer, type EvalRecord } from '../rl/trainer.ts';
import { charTokenizer, getTask, taskIds } from '../tasks/index.ts';
import { ArgError, helpText, leaves, mergeConfig, parseFlags, setPath, type Json } from './args.ts';
import { BACKENDS, createBackend, type BackendName } from './backends.ts';
import { catalogueConfig } from './catalogue.ts';

const EXTRA: Record<string, string> = {
  help: 'print this help',
  method: `PEFT method: ${methodIds.join(', ')} [lora]`,
  loss: 'recipe preset: dapo, grpo, dr_grpo (sets loss type, clip bounds, KL, std scaling, dynamic sampling, overlong shaping) [dapo]',
  config: 'JSON file with any of the settings below (flags override it)',
  backend: 'auto (WebGPU on a real GPU, else CPU), webgpu (Dawn under Node, wgpu under Deno), cpu (WebAssembly SIMD on every core; RLVR_CPU_THREADS=N for another count) or cpu-f64 (the former CPU backend: float64 sums, one thread) [auto]',
  out: 'metrics file, JSON lines [stdout only]',
  model: 'model folder (config.json + model.safetensors)',
  init: 'instead of --model: a randomly initialised model of this size: tiny, small, base',
  save: 'checkpoint folder, written every --save-every steps and at the end',
  'save-every': 'steps between checkpoints [10]',
  resume: 'checkpoint folder to resume from (its config is used; flags may not change it)',
  'spectral-every': 'steps between spectral records (where each adapted layer\'s update lies against the base weight\'s singular directions; docs/STUDY.md; with the method\'s internals: AdaLoRA\'s ranks, DoRA\'s magnitudes, VeRA\'s and IA³\'s scales), and one at the end; 0: none [5]',
};

async function main(argv: string[]): Promise<number> {
  // Without --model / --init / --resume: the catalogue's default model with the settings the bare page
  // starts it with, so `npm run train` is the page's default run. Another --method keeps the rest but
  // takes that method's own adapter settings and learning rate, as a method switch on the page does.
  const bare = !argv.some((a) => /^--(model|init|resume)(=|$)/.test(a));
  const catalogue = bare ? catalogueConfig() : null;
  const given = argv.find((_, i) => argv[i - 1] === '--method') ?? argv.find((a) => a.startsWith('--method='))?.slice(9);
  const method = (given ?? catalogue?.cfg.peft.method ?? 'lora') as MethodId;
  if (!methodIds.includes(method)) throw new ArgError(`--method: unknown PEFT method "${method}"; valid: ${methodIds.join(', ')}`);
  const own = defaultConfig(method);
  const exp = catalogue?.cfg;
  const base = !exp ? own
    : { ...exp, peft: exp.peft.method === method ? exp.peft : own.peft, lr: experimentLr({ method: exp.peft.method, lr: exp.lr }, method) };
  const defaults = base as unknown as Json;
  const usage = 'usage: npm run train -- [--model DIR | --init tiny] [--task T] [--method M] [--loss L] [--steps N] [--seed S] [--backend cpu|webgpu] [--out FILE.jsonl]\n' +
    '  without --model or --init: the catalogue\'s default model, and the defaults below are the settings the page starts it with';
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText(usage, defaults, EXTRA));
    console.log('\n--maxNewTokens: unless given, the task\'s longest answer + 1 (arith and countdown 101, lastdigit 2), not the 64 above.');
    return 0;
  }
  const { config: flagged, extra } = parseFlags(argv.filter((_, i) => !(argv[i] === '--method' || argv[i - 1] === '--method' || argv[i].startsWith('--method='))), defaults, EXTRA);
  // Precedence: defaults < --config file < --loss preset < individual flags.
  const defaultLeaves = new Map(leaves(defaults));
  const changed = leaves(flagged).filter(([k, v]) => JSON.stringify(defaultLeaves.get(k)) !== JSON.stringify(v));
  let cfg: RLConfig;
  let meta: CheckpointMeta | null = null;
  if (extra.resume) {
    meta = JSON.parse(readFileSync(join(extra.resume, 'state.json'), 'utf8')) as CheckpointMeta;
    const other = changed.filter(([k]) => k !== 'steps');
    if (other.length) throw new ArgError(`--resume: the checkpoint's config is used; only --steps may change (got --${other[0][0]})`);
    cfg = { ...completeConfig(meta.config), steps: (flagged as unknown as RLConfig).steps };
  } else {
    let c = defaults;
    const fromFile = extra.config ? (JSON.parse(readFileSync(extra.config, 'utf8')) as Json) : null;
    if (fromFile !== null) c = mergeConfig(c, fromFile, extra.config!);
    if (extra.loss) {
      if (!(extra.loss in PRESETS)) throw new ArgError(`--loss: unknown recipe "${extra.loss}"; valid: ${Object.keys(PRESETS).join(', ')}`);
      c = { ...(c as Record<string, Json>), ...(PRESETS[extra.loss as PresetId] as unknown as Record<string, Json>) };
    }
    for (const [k, v] of changed) c = setPath(c, k, v);
    // Unless set, room for the task's longest answer: a shorter limit cuts answers off, and DAPO's
    // overlong shaping would penalise correct answers that reach its soft zone.
    const task = (c as { task?: Json }).task;
    const inFile = typeof fromFile === 'object' && fromFile !== null && 'maxNewTokens' in fromFile;
    if (typeof task === 'string' && taskIds.includes(task) && !inFile && !argv.some((a) => a === '--maxNewTokens' || a.startsWith('--maxNewTokens='))) {
      c = setPath(c, 'maxNewTokens', getTask(task).limits.completionChars + 1);
    }
    cfg = c as unknown as RLConfig;
  }
  if (!taskIds.includes(cfg.task)) throw new ArgError(`--task: unknown task "${cfg.task}"; valid: ${taskIds.join(', ')}`);
  const task = getTask(cfg.task);
  const tok = charTokenizer;
  const errors = validateConfig(cfg);

  const backendName = (extra.backend ?? 'auto') as BackendName;
  if (!BACKENDS.includes(backendName)) throw new ArgError(`--backend: must be one of ${BACKENDS.join(', ')}, got "${backendName}"`);
  let loaded: { cfg: ReturnType<typeof namedConfig>; weights: Map<string, Float32Array> };
  const modelDir = extra.model ?? catalogue?.dir;
  if (modelDir) loaded = loadModelDir(modelDir);
  else if (extra.init) {
    const mc = namedConfig(extra.init, tok.vocabSize, promptWidth(task) + cfg.maxNewTokens);
    loaded = { cfg: mc, weights: randomWeights(mc, cfg.seed) };
  } else throw new ArgError('--resume needs the model it was trained from: --model DIR (see --help)');
  const spec = getMethod(cfg.peft.method);
  errors.push(...spec.validate(cfg.peft, loaded.cfg).map((e) => `peft.${e}`));
  if (loaded.cfg.vocabSize < tok.vocabSize) errors.push(`model: vocabulary of ${loaded.cfg.vocabSize} is smaller than the tokenizer's ${tok.vocabSize}`);
  if (errors.length) {
    for (const e of errors) console.error(`invalid setting: ${e}`);
    return 2;
  }

  const { backend, description } = await createBackend(backendName);
  const model = new Model(backend, loaded.cfg, loaded.weights);
  const inst = await spec.attach(model, cfg.peft);
  const spectralEvery = Number(extra['spectral-every'] ?? 5);
  if (!Number.isInteger(spectralEvery) || spectralEvery < 0) throw new ArgError(`--spectral-every: expected a whole number ≥ 0, got "${extra['spectral-every']}"`);
  // W_0 is read before a checkpoint is loaded: the pretrained weights (merged at init), also on resume.
  // Measured on a worker thread while training goes on (the loop waits only for W_now's read-back).
  const created = spectralEvery > 0 ? await SpectralProbe.create(inst, loaded.cfg, { thread: nodeSpectralThread() }) : null;
  const probe = created?.measures ? created : null;
  // Full fine-tuning and LN tuning change the model's own weights: the KL reference needs a frozen copy.
  const refModel = cfg.beta > 0 && (cfg.peft.method === 'full' || cfg.peft.method === 'ln_tuning') ? new Model(backend, loaded.cfg, loaded.weights) : null;
  const trainer = new Trainer(model, inst, task, tok, cfg, refModel);
  if (meta && extra.resume) loadCheckpoint(trainer, readArrayBuffer(join(extra.resume, 'checkpoint.safetensors')), meta);

  const emit = (rec: object) => {
    const line = JSON.stringify(rec);
    if (extra.out) appendFileSync(extra.out, line + '\n');
    return line;
  };
  if (extra.out && !meta) writeFileSync(extra.out, '');
  const trainable = inst.params.reduce((a, p) => a + p.tensor.size, 0);
  console.log(`${description}\nmodel ${extra.model ?? (catalogue ? `${catalogue.name} (the catalogue's default)` : `random ${extra.init}`)}; method ${cfg.peft.method}: ${trainable} trainable parameters; task ${cfg.task}; loss ${cfg.lossType}`);
  if (!meta) emit({ type: 'config', config: cfg, backend: description, trainable_params: trainable });
  if (created && !probe) console.log(`spectral: ${cfg.peft.method} changes no weight matrix (only vectors), so there is no update to place: no records`);
  const saveEvery = Number(extra['save-every'] ?? 10);
  const save = async () => {
    if (!extra.save) return;
    mkdirSync(extra.save, { recursive: true });
    const ck = await saveCheckpoint(trainer);
    writeFileSync(join(extra.save, 'checkpoint.safetensors'), ck.tensors);
    const from = modelDir ? { dir: modelDir } : extra.init ? { init: extra.init } : meta?.model;
    writeFileSync(join(extra.save, 'state.json'), JSON.stringify({ ...ck.meta, ...(from ? { model: from } : {}) }, null, 1));
  };
  const evals: EvalRecord[] = [];
  const runEval = async () => {
    for (const r of await trainer.evaluate()) {
      evals.push(r);
      emit({ type: 'eval', ...r });
      console.log(`  eval ${r.split}: avg@${r.k} ${r.avg_at_k.toFixed(3)}  pass@${r.k} ${r.pass_at_k.toFixed(3)}`);
    }
  };
  const spectral = (r: SpectralRecord) => {
    emit(r);
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    console.log(`  spectral at step ${r.step}: principal share ${r.mean.share.map(pct).join(' / ')} (random ${r.mean.random.map(pct).join(' / ')}) at k = ${r.fractions.map((f) => `${+(f * 100).toFixed(1)}%`).join(' / ')} of the rank; effective rank ${r.mean.effRank.toFixed(1)}; ${r.seconds.toFixed(2)} s${r.offThread ? ` (the step waited ${r.waitSeconds.toFixed(2)} s)` : ''}`);
    if (r.internals) console.log(`  internals: ${internalsLine(r.internals)}`);
  };
  // Records settle in capture order, after the steps that follow them: written when they do.
  let records: Promise<void> = Promise.resolve();
  const takeSpectral = async (step: number) => {
    const { record } = await probe!.capture(step);
    records = records.then(() => record).then(spectral);
  };
  if (trainer.step === 0) await runEval(); // the baseline every curve starts from
  const t0 = performance.now();
  let last: object = {};
  while (trainer.step < cfg.steps) {
    const m = await trainer.trainStep();
    last = m;
    emit({ type: 'step', ...m });
    console.log(`step ${String(m.step).padStart(4)}  reward ${m.reward_mean.toFixed(3)}  acc ${m.accuracy.toFixed(3)}  loss ${m.loss.toExponential(2)}  ` +
      `len ${m.response_len.toFixed(1)}  kept ${m.groups_kept}/${m.groups_total}  |g| ${m.grad_norm.toExponential(2)}  ${(m.time_rollout_s + m.time_train_s).toFixed(2)}s`);
    if (cfg.evalEvery > 0 && m.step % cfg.evalEvery === 0 && m.step < cfg.steps) await runEval();
    if (probe && m.step % spectralEvery === 0 && m.step < cfg.steps) await takeSpectral(m.step);
    if (extra.save && m.step % saveEvery === 0) await save();
  }
  if (probe) await takeSpectral(trainer.step);
  await records;
  created?.close();
  await runEval();
  await save();
  // Held-out change over the run, paired by problem (the same problems and sampling seeds each time).
  const change = evals.filter((r) => r.step === trainer.step).map((end) => {
    const start = evals.find((r) => r.step === evals[0].step && r.split === end.split);
    const c = start && start !== end ? pairedChange(start, end) : null;
    if (c) {
      const pts = (x: number) => (100 * x).toFixed(1);
      console.log(`  ${end.split}: avg@${end.k} ${pts(start!.avg_at_k)}% -> ${pts(end.avg_at_k)}%, paired change ${c.delta >= 0 ? '+' : ''}${pts(c.delta)} ± ${pts(c.se)} points ` +
        `(${c.se > 0 ? (c.delta / c.se).toFixed(1) : '∞'} s.e.; ${end.problems} problems × ${end.k} samples)`);
    }
    return c && { split: end.split, from_step: start!.step, ...c };
  }).filter((c) => c !== null);
  emit({ type: 'summary', steps: trainer.step, seconds: (performance.now() - t0) / 1000, final_step: last, evals, change });
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e: unknown) => {
  console.error(e instanceof ArgError ? e.message : `train: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  process.exit(e instanceof ArgError ? 2 : 1);
});

