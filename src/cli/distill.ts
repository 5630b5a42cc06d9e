// npm run distill -- [--out DIR] [--size tiny|small|base] [--task arith] [--steps N] [--backend auto|webgpu|cpu|cpu-f64] [--seed S] ...
// Distils a small reasoning model from a task's teacher by supervised fine-tuning, from a seed:
// same tokenizer, same data (teacher solutions regenerated from the seed), same steps. Prints
// progress; every --save-every steps it writes a resumable checkpoint (DIR/checkpoint) and a
// loadable model folder; at the end it evaluates on the held-out sets and writes the model card.
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { toHfConfig, type ModelConfig } from '../model/config.ts';
import { namedConfig, randomWeights } from '../model/init.ts';
import { loadModelDir, saveModelDir } from '../model/io.node.ts';
import { Model } from '../model/model.ts';
import { modelCard, type CurvePoint } from '../sft/card.ts';
import { hasSftCheckpoint, readSftCheckpoint, restoreSft, saveSftCheckpoint, type SftCheckpoint } from '../sft/checkpoint.node.ts';
import { defaultSftConfig, validateSftConfig, type SftConfig } from '../sft/config.ts';
import { SftTrainer } from '../sft/trainer.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';
import { ArgError, helpText, leaves, mergeConfig, parseFlags, setPath, type Json } from './args.ts';
import { BACKENDS, createBackend, type BackendName } from './backends.ts';

const EXTRA: Record<string, string> = {
  help: 'print this help',
  out: 'output model folder (config.json, model.safetensors, tokenizer, README.md) [out/distill-<task>-<size>-seed<seed>]',
  backend: 'auto (headless WebGPU on a real GPU, else the CPU backend), webgpu, cpu (WebAssembly SIMD on every core), or cpu-f64 (the former CPU backend, float64 sums, one thread: the shipped models were distilled on it and their cards reproduce bit for bit there) [auto]',
  config: 'JSON file with any of the settings below (flags override it)',
  'save-every': 'steps between checkpoints (DIR/checkpoint, resumable; DIR stays a loadable model) [50]',
  'stop-at': 'N: stop after step N of the schedule, with DIR a loadable model and DIR/checkpoint resumable (a first stage for --init) [run to --steps]',
  resume: 'DIR: continue the run whose checkpoint is in DIR/checkpoint (its settings are used; only --backend, --save-every, --stop-at, --log may be given)',
  'keep-checkpoint': 'true: keep DIR/checkpoint (optimizer state) after the run finishes [false]',
  name: 'model name for the card [basename of DIR]',
  note: 'a line for the card\'s Notes section (repeat the flag for more)',
  log: 'metrics file, JSON lines (appended) [none]',
};

const usage = 'usage: npm run distill -- [--out DIR] [--size tiny|small|base] [--task arith] [--steps N] [--backend auto|webgpu|cpu|cpu-f64] [--seed S] [settings...]';

function machine(): string {
  const c = cpus();
  return `${c[0]?.model.trim() ?? 'unknown CPU'} × ${c.length} cores, Node ${process.version}`;
}

/** The flags that reproduce `cfg` from the defaults. */
function reproduceCommand(cfg: SftConfig, out: string): string {
  const d = new Map(leaves(defaultSftConfig() as unknown as Json));
  const flags = leaves(cfg as unknown as Json).filter(([k, v]) => JSON.stringify(d.get(k)) !== JSON.stringify(v)).map(([k, v]) => `--${k} ${String(v)}`);
  return ['npm run distill --', `--out ${out}`, ...flags].join(' ');
}

function collectNotes(argv: string[]): string[] {
  const notes: string[] = [];
  argv.forEach((a, i) => {
    if (a === '--note' && argv[i + 1] !== undefined) notes.push(argv[i + 1]);
    else if (a.startsWith('--note=')) notes.push(a.slice(7));
  });
  return notes;
}

async function main(argv: string[]): Promise<number> {
  const defaults = defaultSftConfig() as unknown as Json;
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText(usage, defaults, EXTRA));
    return 0;
  }
  const notes = collectNotes(argv);
  const rest = argv.filter((a, i) => !(a === '--note' || argv[i - 1] === '--note' || a.startsWith('--note=')));
  const { config: flagged, extra, positionals } = parseFlags(rest, defaults, EXTRA);
  if (positionals.length) throw new ArgError(`unexpected argument "${positionals[0]}" (see --help)`);
  const defaultLeaves = new Map(leaves(defaults));
  const changed = leaves(flagged).filter(([k, v]) => JSON.stringify(defaultLeaves.get(k)) !== JSON.stringify(v));
  const isTrue = (v: string | undefined) => v !== undefined && v !== 'false' && v !== '0';

  let cfg: SftConfig;
  let ck: SftCheckpoint | null = null;
  let out: string;
  if (extra.resume !== undefined) {
    out = extra.resume || (extra.out ?? '');
    if (!out) throw new ArgError('--resume: give the run\'s folder: --resume DIR');
    if (extra.out !== undefined && resolve(extra.out) !== resolve(out)) throw new ArgError('--resume DIR continues the run in DIR; --out may not name another folder');
    if (!hasSftCheckpoint(join(out, 'checkpoint'))) throw new ArgError(`--resume: no checkpoint in ${join(out, 'checkpoint')}`);
    if (changed.length || extra.config) throw new ArgError(`--resume: the checkpoint's settings are used; --${changed[0]?.[0] ?? 'config'} may not be given`);
    ck = readSftCheckpoint(join(out, 'checkpoint'));
    cfg = ck.meta.config;
  } else {
    let c = defaults;
    if (extra.config) c = mergeConfig(c, JSON.parse(readFileSync(extra.config, 'utf8')) as Json, extra.config);
    for (const [k, v] of changed) c = setPath(c, k, v);
    cfg = c as unknown as SftConfig;
    out = extra.out ?? join('out', `distill-${cfg.task}-${cfg.size}-seed${cfg.seed}`);
  }
  const errors = validateSftConfig(cfg);
  const backendName = (extra.backend ?? 'auto') as BackendName;
  if (!BACKENDS.includes(backendName)) errors.push(`backend: must be one of ${BACKENDS.join(', ')}, got "${backendName}"`);
  const saveEvery = Number(extra['save-every'] ?? 50);
  const stopAt = Number(extra['stop-at'] ?? cfg.steps);
  if (!Number.isInteger(stopAt) || stopAt < 1 || stopAt > cfg.steps) errors.push(`stop-at: must be an integer in [1, steps = ${cfg.steps}], got "${extra['stop-at']}"`);
  if (!Number.isInteger(saveEvery) || saveEvery < 1) errors.push(`save-every: must be a positive integer, got "${extra['save-every']}"`);
  if (errors.length) {
    for (const e of errors) console.error(`invalid setting: ${e}`);
    return 2;
  }
  if (!ck && hasSftCheckpoint(join(out, 'checkpoint'))) {
    throw new ArgError(`${out} holds an unfinished run: continue it with --resume ${out}, or remove the folder`);
  }

  const task = getTask(cfg.task);
  const tok = charTokenizer;
  const ids = tok.configIds();
  let mc: ModelConfig = ck?.modelConfig ?? { ...namedConfig(cfg.size, ids.vocab_size, cfg.maxPositions), bosTokenId: ids.bos_token_id, eosTokenId: ids.eos_token_id };
  let weights = ck?.weights;
  if (!ck && cfg.init) {
    const from = loadModelDir(cfg.init);
    const want = namedConfig(cfg.size, ids.vocab_size, cfg.maxPositions);
    const dims = (m: ModelConfig) => `hidden ${m.hidden}, ${m.layers} layers, ${m.heads} heads, ${m.kvHeads} KV heads, MLP ${m.intermediate}, vocab ${m.vocabSize}`;
    if (dims(from.cfg) !== dims(want)) throw new ArgError(`--init ${cfg.init}: its model (${dims(from.cfg)}) is not size ${cfg.size} (${dims(want)})`);
    mc = { ...from.cfg, maxPositions: cfg.maxPositions };
    weights = from.weights;
  }
  const { backend, description } = await createBackend(backendName);
  const model = new Model(backend, mc, weights ?? randomWeights(mc, cfg.seed));
  const tr = await SftTrainer.create(model, task, tok, cfg);
  if (ck) restoreSft(tr, ck);
  const name = extra.name ?? basename(resolve(out));
  mkdirSync(out, { recursive: true });

  type Rec = { type: string } & Record<string, unknown>;
  const history: Rec[] = (ck?.meta.history as Rec[] | undefined) ?? [];
  const emit = (rec: Rec) => {
    history.push(rec);
    if (extra.log) appendFileSync(extra.log, JSON.stringify(rec) + '\n');
  };
  const clock = () => performance.now() / 1000;
  const t0 = clock();
  const before = ck?.meta.elapsedSeconds ?? 0;
  const elapsed = () => before + clock() - t0;
  const sum = (type: string, k: string) => history.filter((r) => r.type === type).reduce((a, r) => a + Number(r[k] ?? 0), 0);
  const curve = (): CurvePoint[] => history.filter((r) => r.type === 'eval').map((r) => r as unknown as CurvePoint);

  console.log(`${description}\nmodel: ${ck ? `${cfg.size} from the checkpoint` : cfg.init ? `${cfg.size} from ${cfg.init}` : `random ${cfg.size}`} (${model.cfg.hidden} hidden, ${model.cfg.layers} layers, ${tr.peft.params.reduce((a, p) => a + p.tensor.size, 0)} parameters); ` +
    `task ${cfg.task} (${cfg.difficulty}); ${cfg.steps} steps × ${cfg.batchSize}; out ${out}${ck ? `; resuming at step ${tr.step}` : ''}`);
  if (!ck) emit({ type: 'config', config: cfg, backend: description, machine: machine() });

  const evalAt = async (problems: number, k: number): Promise<CurvePoint> => {
    const t = clock();
    const heldOutLoss = await tr.heldOutLoss();
    const evals = await tr.evaluate(problems, k);
    const p: CurvePoint = { step: tr.step, heldOutLoss, evals };
    const secs = clock() - t;
    console.log(`  eval @${tr.step}: held-out loss ${heldOutLoss.toFixed(4)}  ` + evals.map((e) => `${e.split} avg@${e.k} ${e.avg_at_k.toFixed(3)} pass@${e.k} ${e.pass_at_k.toFixed(3)}`).join('  ') + `  (${secs.toFixed(1)}s)`);
    return Object.assign(p, { seconds: secs });
  };
  const writeModel = async (finished: boolean, final: CurvePoint, finalLoss: number) => {
    saveModelDir(out, mc, await tr.weights(), {
      'tokenizer.json': JSON.stringify(tok.toTokenizerJson(), null, 1),
      'tokenizer_config.json': JSON.stringify(tok.tokenizerConfigJson(mc.maxPositions), null, 1),
    });
    writeFileSync(join(out, 'config.json'), JSON.stringify({ ...toHfConfig(mc), ...ids }, null, 1));
    const evalSeconds = sum('eval', 'seconds') + sum('final', 'seconds');
    writeFileSync(join(out, 'README.md'), modelCard({
      name, cfg, model: mc, backend: description, machine: machine(), trainSeconds: sum('step', 'time_s'), evalSeconds, totalSeconds: elapsed(),
      steps: tr.step, trainTokens: sum('step', 'tokens'), finalLoss, final, curve: curve(), notes, finished,
      command: reproduceCommand(cfg, out),
      evalCommand: `npm run eval -- --model ${out} --task ${cfg.task} --k ${final.evals[0]?.k ?? cfg.finalEvalK} --problems ${final.evals[0]?.problems ?? cfg.finalEvalProblems} ` +
        `--temperature ${cfg.temperature} --top-p ${cfg.topP} --max-new-tokens ${cfg.maxNewTokens} --backend cpu`,
    }));
  };
  const lastLoss = () => Number(history.filter((r) => r.type === 'step').at(-1)?.loss ?? NaN);

  while (tr.step < stopAt) {
    const m = await tr.trainStep();
    emit({ type: 'step', ...m });
    console.log(`step ${String(m.step).padStart(5)}/${cfg.steps}  loss ${m.loss.toFixed(4)}  |g| ${m.grad_norm.toFixed(3)}  lr ${m.lr.toExponential(2)}  ` +
      `${m.B}x${m.T}  ${m.time_s.toFixed(2)}s  ${m.tokens_per_s.toFixed(0)} tok/s  ${elapsed().toFixed(0)}s`);
    if (cfg.evalEvery > 0 && m.step % cfg.evalEvery === 0 && m.step < cfg.steps) emit({ type: 'eval', ...(await evalAt(cfg.evalProblems, cfg.evalK)) });
    if ((m.step % saveEvery === 0 || m.step === stopAt) && m.step < cfg.steps) {
      await saveSftCheckpoint(join(out, 'checkpoint'), tr, { elapsedSeconds: elapsed(), backend: description, history });
      const lastEval = curve().at(-1) ?? { step: tr.step, heldOutLoss: NaN, evals: [] };
      await writeModel(false, lastEval, lastLoss());
      console.log(`  checkpoint: ${join(out, 'checkpoint')} (step ${m.step})`);
    }
  }
  if (tr.step < cfg.steps) {
    console.log(`stopped at step ${tr.step} of ${cfg.steps} (--stop-at): ${out} is a loadable model; continue with --resume ${out}`);
    return 0;
  }
  const final = await evalAt(cfg.finalEvalProblems, cfg.finalEvalK);
  emit({ type: 'final', ...final });
  await writeModel(true, final, lastLoss());
  if (isTrue(extra['keep-checkpoint'])) await saveSftCheckpoint(join(out, 'checkpoint'), tr, { elapsedSeconds: elapsed(), backend: description, history });
  else rmSync(join(out, 'checkpoint'), { recursive: true, force: true });
  console.log(`done: ${out} (${elapsed().toFixed(0)}s in all)`);
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (e: unknown) => {
  console.error(e instanceof ArgError ? e.message : `distill: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  process.exit(e instanceof ArgError ? 2 : 1);
});
