// npm run study -- --preset methods|loss|lr|rank|batch [--seeds 3] [--jobs N] --out DIR [--publish DIR]
//                  [--model DIR] [--backend cpu] [--config FILE.json] [--set path=value ...]
// The study's comparison and its ablations as headless grids over the page's sweep presets
// (src/store/grid.ts), each cell one `npm run train` process. Resumable: a finished cell (its JSON
// lines end with a summary) is kept; an interrupted one restarts from its last checkpoint. --jobs runs
// cells in parallel processes, dividing the cores between them. At the end it writes DIR/<preset>.json
// (the table: mean ± sample s.d. over seeds, n) and DIR/<preset>/<cell>.json (each run: config, seed,
// every step's metrics, held-out avg@k / pass@k with standard errors at the start and end, time,
// trainable parameters, spectral records); --publish copies those two into another folder
// (public/study for the page); --report-only writes them from the runs finished so far.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, relative, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../engine/backend.ts';
import { Model } from '../model/model.ts';
import { readArrayBuffer, loadModelDir } from '../model/io.node.ts';
import { getMethod } from '../peft/registry.ts';
import { SpectralProbe } from '../peft/spectral.ts';
import { loadCheckpoint, type CheckpointMeta } from '../rl/checkpoint.ts';
import { completeConfig, defaultConfig, validateConfig, type RLConfig } from '../rl/config.ts';
import { Trainer } from '../rl/trainer.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';
import { createBackend } from './backends.ts';
import { expandGrid, presetSpec, SWEEP_PRESETS, type GridItem } from '../store/grid.ts';
import { cellFromLines, parseJsonLines, PRESET_IDS, tableRows, type Cell, type StudyPreset, type StudyResults } from '../study/results.ts';
import { mergeConfig, setPath, type Json } from './args.ts';
import { catalogueConfig } from './catalogue.ts';

const HELP = `usage: npm run study -- --preset ${PRESET_IDS.join('|')} --out DIR [options]
  --seeds N          seeds per setting [3]
  --jobs N           cells run in parallel processes, the cores divided between them [1]
  --model DIR        model folder [the catalogue's default model]
  --backend B        passed to npm run train [cpu]
  --config FILE      JSON with settings over the base, the study's recipe (STUDY_RECIPE; any of npm run train's)
  --set path=value   one setting over the base, repeatable (e.g. --set steps=20 --set evalProblems=100)
  --publish DIR      also write the table and per-run files there (public/study for the page)
  --report-only      run nothing: write the table from the runs finished so far (n per row says how many seeds)
What the study scales: docs/STUDY.md.`;

/** What the lab scales from the paper's recipe; written into the results. */
export const SCALED = [
  'model: the shipped 0.8 M-parameter distilled Qwen2-style model on the arith task, not DeepSeek-R1-Distill-Qwen 1.5B/7B on math benchmarks',
  'learning rate: the experiment\'s (100× the paper\'s 1e-5 class for the tiny model); full fine-tuning at a tenth of it, as the paper\'s 1e-6 vs 1e-5',
  'rank 16, α 32 (paper: 32 / 64) and no dropout (paper: 0.05), the page\'s LoRA defaults',
  'steps, prompts per step and evaluation size: a few minutes of CPU per run (the values are in each run\'s config)',
  'rank ablation 1, 4, 16, 64 (paper: 1, 8, 16, 32); batch ablation in prompts per step; lr ablation ÷3, ×1, ×3 around the experiment\'s',
  'sampling temperature 1.5 for rollouts and evaluation (paper: 1): at 1 the small model has almost no room to gain in 20 steps, so no method moved; at 1.5 RL\'s first effect, sharpening, is worth about 20 points and every method has a signal to learn',
];

/** The study's one recipe at the lab's scale, over the catalogue model's task: LoRA r16 α32 (the other
 * methods swap in) at lr 1e-3, the DAPO preset, 16 prompts × 8, 20 steps, sampling at temperature 1.5,
 * avg@4 on 100 held-out problems at the start and the end. Not the page's default experiment, which is
 * designed to learn visibly in one run (docs/STUDY.md); --config and --set go over it. */
export const STUDY_RECIPE = { lr: 1e-3, warmupSteps: 5, temperature: 1.5, promptsPerStep: 16, steps: 20, evalEvery: 20, evalK: 4, evalProblems: 100 } as const;

export function studyBase(): RLConfig {
  return completeConfig({ ...catalogueConfig().cfg, ...STUDY_RECIPE, peft: defaultConfig('lora').peft });
}

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const ROOT = here('../../');

export function cellId(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9.]+/g, '-').replace(/^-|-$/g, '');
}

/** The grid of a preset over the base experiment, with the paper's 10× lower lr for full fine-tuning. */
export function studyCells(preset: StudyPreset, base: RLConfig, seeds: number): GridItem[] {
  const spec = { ...presetSpec(preset, base), seeds: Array.from({ length: seeds }, (_, i) => i) };
  // Seed-major: every setting's first seed before any second one, so a study stopped early has the
  // whole table at fewer seeds rather than half of it at all.
  const items = expandGrid(base, spec).map((it, i) => ({ it, i }))
    .sort((a, b) => a.it.config.seed - b.it.config.seed || a.i - b.i).map(({ it }) => it);
  return items.map((it) => it.config.peft.method === 'full' && preset === 'methods'
    ? { label: it.label.replace(/lr [^ ]+/, `lr ${Number((base.lr / 10).toPrecision(3))}`), config: { ...it.config, lr: base.lr / 10 } }
    : it);
}

export interface Paths { jsonl: string; ckpt: string; cfg: string }

function paths(dir: string, preset: string, id: string): Paths {
  return { jsonl: join(dir, preset, 'runs', `${id}.jsonl`), ckpt: join(dir, preset, 'ckpt', id), cfg: join(dir, preset, 'cfg', `${id}.json`) };
}

function finished(p: Paths): boolean {
  return existsSync(p.jsonl) && readFileSync(p.jsonl, 'utf8').includes('"type":"summary"');
}

/** Keeps the records up to the checkpoint's step (the resumed run writes the later ones again). */
export function trimToCheckpoint(p: Paths): boolean {
  const state = join(p.ckpt, 'state.json');
  if (!existsSync(state) || !existsSync(p.jsonl)) return false;
  const step = (JSON.parse(readFileSync(state, 'utf8')) as { trainer?: { step?: unknown } }).trainer?.step;
  if (typeof step !== 'number') throw new Error(`${state}: no trainer.step; delete ${p.ckpt} and ${p.jsonl} to rerun the cell`);
  const lines = parseJsonLines(readFileSync(p.jsonl, 'utf8'), p.jsonl).filter((l) => l.type === 'config' || ((l.type === 'step' || l.type === 'eval' || l.type === 'spectral') && (l.step as number) <= step));
  writeFileSync(p.jsonl, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return true;
}

function runCell(item: GridItem, p: Paths, model: string, backend: string, threads: number): Promise<void> {
  mkdirSync(join(p.jsonl, '..'), { recursive: true });
  mkdirSync(join(p.cfg, '..'), { recursive: true });
  writeFileSync(p.cfg, JSON.stringify(item.config, null, 1));
  const resume = trimToCheckpoint(p);
  const args = ['--import', 'tsx', join(ROOT, 'src/cli/train.ts'), '--out', p.jsonl, '--save', p.ckpt, '--save-every', '5', '--backend', backend,
    '--model', model, ...(resume ? ['--resume', p.ckpt, '--steps', String(item.config.steps)] : ['--method', item.config.peft.method, '--config', p.cfg])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, RLVR_CPU_THREADS: String(threads) }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${item.label}: npm run train exited ${code}: ${err.trim().split('\n').slice(-3).join(' / ')}`))));
  });
}

/** A finished run without spectral records (made before they existed, or with --spectral-every 0)
 * gets its end-of-run record from its final checkpoint: W_0 from the same init (same config and seed),
 * the trained state loaded over it. Appended to its JSON lines. */
async function spectralFromCheckpoint(p: Paths, loaded: ReturnType<typeof loadModelDir>, backend: Backend): Promise<void> {
  const meta = JSON.parse(readFileSync(join(p.ckpt, 'state.json'), 'utf8')) as CheckpointMeta;
  const model = new Model(backend, loaded.cfg, loaded.weights);
  const inst = await getMethod(meta.config.peft.method).attach(model, meta.config.peft);
  try {
    const probe = await SpectralProbe.create(inst, loaded.cfg);
    const task = getTask(meta.config.task);
    loadCheckpoint(new Trainer(model, inst, task, charTokenizer, meta.config, null), readArrayBuffer(join(p.ckpt, 'checkpoint.safetensors')), meta);
    appendFileSync(p.jsonl, JSON.stringify({ ...(await probe.record(meta.trainer.step)), from_checkpoint: true }) + '\n');
  } finally {
    inst.detach();
    model.free();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      preset: { type: 'string' }, seeds: { type: 'string', default: '3' }, jobs: { type: 'string', default: '1' }, out: { type: 'string' },
      publish: { type: 'string' }, model: { type: 'string' }, backend: { type: 'string', default: 'cpu' }, config: { type: 'string' },
      set: { type: 'string', multiple: true }, 'report-only': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const preset = values.preset as StudyPreset;
  if (!PRESET_IDS.includes(preset)) throw new Error(`--preset must be one of ${PRESET_IDS.join(', ')}, got "${values.preset ?? ''}"`);
  if (!values.out) throw new Error('--out DIR is required (the study\'s working folder)');
  const seeds = Number(values.seeds), jobs = Number(values.jobs);
  if (!Number.isInteger(seeds) || seeds < 1) throw new Error(`--seeds must be a positive integer, got "${values.seeds}"`);
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs must be a positive integer, got "${values.jobs}"`);

  const cat = catalogueConfig();
  let base = studyBase() as unknown as Json;
  if (values.config) base = mergeConfig(base, JSON.parse(readFileSync(values.config, 'utf8')) as Json, values.config);
  for (const kv of values.set ?? []) {
    const i = kv.indexOf('=');
    if (i < 1) throw new Error(`--set expects path=value, got "${kv}"`);
    const raw = kv.slice(i + 1);
    let v: Json;
    try {
      v = JSON.parse(raw) as Json;
    } catch {
      v = raw;
    }
    base = setPath(base, kv.slice(0, i), v);
  }
  const baseCfg = completeConfig(base as unknown as RLConfig);
  const errors = validateConfig(baseCfg);
  if (errors.length) throw new Error(`invalid base settings: ${errors.join('; ')}`);
  const model = values.model ?? cat.dir;

  const items = studyCells(preset, baseCfg, seeds);
  const threads = Math.max(1, Math.floor(availableParallelism() / jobs));
  console.log(`study ${preset}: ${items.length} runs (${SWEEP_PRESETS[preset].name}), ${jobs} at a time × ${threads} thread(s), into ${values.out}`);
  const isDone = (it: GridItem) => finished(paths(values.out!, preset, cellId(it.label)));
  const todo = values['report-only'] ? [] : items.filter((it) => !isDone(it));
  if (!values['report-only'] && todo.length < items.length) console.log(`  ${items.length - todo.length} already finished, kept`);
  let next = 0, done = items.length - todo.length;
  const failures: string[] = [];
  const t0 = Date.now();
  const worker = async () => {
    while (next < todo.length) {
      const it = todo[next++];
      const t = Date.now();
      try {
        await runCell(it, paths(values.out!, preset, cellId(it.label)), model, values.backend!, threads);
        done++;
        console.log(`  [${done}/${items.length}] ${it.label}: ${((Date.now() - t) / 1000).toFixed(0)} s`);
      } catch (e) {
        failures.push(e instanceof Error ? e.message : String(e));
        console.error(`  failed: ${failures[failures.length - 1]}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, todo.length) }, worker));
  if (failures.length) {
    console.error(`${failures.length} run(s) failed; rerun the same command to retry them (finished runs are kept)`);
    return 1;
  }

  const reported = values['report-only'] ? items.filter(isDone) : items;
  const lacking = reported.map((it) => paths(values.out!, preset, cellId(it.label))).filter((q) => !readFileSync(q.jsonl, 'utf8').includes('"type":"spectral"'));
  if (lacking.length) {
    console.log(`  spectral records from the final checkpoints of ${lacking.length} run(s) ...`);
    const loaded = loadModelDir(model);
    const { backend } = await createBackend('cpu');
    for (const q of lacking) await spectralFromCheckpoint(q, loaded, backend);
  }
  if (reported.length === 0) throw new Error(`no finished runs in ${join(values.out, preset)}`);
  if (reported.length < items.length) console.log(`  --report-only: ${reported.length} of ${items.length} runs finished; the table has them (n per row)`);
  const cells: Cell[] = reported.map((it) => {
    const id = cellId(it.label);
    return cellFromLines(id, it.label, parseJsonLines(readFileSync(paths(values.out!, preset, id).jsonl, 'utf8'), id));
  });
  const c = cpus();
  const results: StudyResults = {
    preset, name: SWEEP_PRESETS[preset].name, command: `npm run study -- ${process.argv.slice(2).join(' ')}`,
    machine: `${c[0]?.model?.trim() ?? 'CPU'} × ${c.length}, Node ${process.version}`, createdAt: new Date().toISOString(),
    model: values.model ? `/${relative(join(ROOT, 'public'), values.model).split(sep).join('/')}` : cat.path,
    base: baseCfg, scaled: SCALED, rows: tableRows(preset, cells), cellFiles: cells.map((x) => `${preset}/${x.id}.json`),
  };
  for (const dir of [values.out, values.publish].filter((d): d is string => !!d)) {
    mkdirSync(join(dir, preset), { recursive: true });
    for (const cell of cells) writeFileSync(join(dir, preset, `${cell.id}.json`), JSON.stringify(cell));
    writeFileSync(join(dir, `${preset}.json`), JSON.stringify(results, null, 1));
  }
  console.log(`done in ${((Date.now() - t0) / 60000).toFixed(1)} min; table: ${join(values.out, `${preset}.json`)}`);
  for (const r of results.rows) {
    console.log(`  ${r.setting.padEnd(12)} end ${(100 * r.end.mean).toFixed(1)}% ± ${(100 * r.end.sd).toFixed(1)} (n ${r.end.n}), change ${(100 * r.change.mean).toFixed(1)} ± ${(100 * r.change.sd).toFixed(1)} points` +
      (r.share ? `, principal share ${(100 * r.share.mean).toFixed(1)}% (random ${(100 * r.share.random).toFixed(1)}%)` : ''));
  }
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then((code) => process.exit(code), (e: unknown) => {
    console.error(`study: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
