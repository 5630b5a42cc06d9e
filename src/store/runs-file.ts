// Runs out of and into the lab as files: a JSON runs file with each run's config, metrics and
// spectral records (import reads it back, checking every field: a file is untrusted, and adds its runs to the
// list), and one run's step metrics as CSV. The format functions are pure; the actions at the end
// read and write the stored runs.
import type { ModelSource } from '../model/source.ts';
import type { Internals } from '../peft/internals.ts';
import type { SpectralLayer, SpectralRecord } from '../peft/spectral.ts';
import type { EvalRecord, StepMetrics } from '../rl/trainer.ts';
import type { BackendChoice } from '../worker/protocol.ts';
import { putEval, putRun, putSpectral, putStep, runEvals, runSpectral, runSteps, type EvalRow, type RunRecord, type StepRow } from './db.ts';
import { DEFAULT_MODEL } from './defaults.ts';
import { nextColor, runById, setNotice, setSelected, useRuns } from './runs.ts';
import { seriesFor, STEP_KEYS, tick } from './series.ts';
import { setSpectral } from './spectral.ts';
import { configFromJson, decodeModel } from './share.ts';
import { newId } from './training.ts';
import { configIssues } from './validate.ts';

export const FORMAT = 'rlvr-lab-runs';
const MAX_RUNS = 200;
const MAX_ROWS = 200_000;

export interface ExportedRun {
  name: string;
  color: string;
  createdAt: number;
  config: RunRecord['config'];
  model: ModelSource;
  backend: BackendChoice;
  status: RunRecord['status'];
  seconds: number;
  steps: Omit<StepRow, 'runId'>[];
  evals: Omit<EvalRow, 'runId'>[];
  /** Absent in files written before spectral records were exported. */
  spectral?: SpectralRecord[];
}

export interface RunsFile {
  format: typeof FORMAT;
  version: 1;
  exportedAt: string;
  runs: ExportedRun[];
}

export function toRunsFile(runs: { run: RunRecord; steps: StepRow[]; evals: EvalRow[]; spectral?: SpectralRecord[] }[]): RunsFile {
  return {
    format: FORMAT, version: 1, exportedAt: new Date().toISOString(),
    runs: runs.map(({ run, steps, evals, spectral }) => ({
      name: run.name, color: run.color, createdAt: run.createdAt, config: run.config, model: run.model, backend: run.backend,
      status: run.status, seconds: run.seconds,
      steps: steps.map(({ runId: _r, ...m }) => m), evals: evals.map(({ runId: _r, ...e }) => e),
      ...(spectral?.length ? { spectral } : {}),
    })),
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN);
const str = (v: unknown, max: number, dflt: string): string => (typeof v === 'string' && v.length > 0 ? v.slice(0, max) : dflt);

function stepRow(v: unknown): Omit<StepRow, 'runId'> | null {
  if (!isObj(v) || !Number.isInteger(v.step) || (v.step as number) < 1) return null;
  const out: Record<string, number | null> = { step: v.step as number };
  for (const k of STEP_KEYS) {
    const x = num(v[k]);
    const optional = k === 'kl' || k === 'gpu_bytes';
    if (Number.isNaN(x) && !(optional && (v[k] === null || v[k] === undefined))) return null; // a metric that is not a number
    out[k] = Number.isNaN(x) ? null : x;
  }
  return out as unknown as Omit<StepRow, 'runId'>;
}

function evalRow(v: unknown): Omit<EvalRow, 'runId'> | null {
  if (!isObj(v) || !Number.isInteger(v.step) || (v.step as number) < 0 || typeof v.split !== 'string' || !/^[\w-]{1,24}$/.test(v.split)) return null;
  const r: EvalRecord = {
    step: v.step as number, split: v.split, k: num(v.k), avg_at_k: num(v.avg_at_k), pass_at_k: num(v.pass_at_k),
    malformed_frac: num(v.malformed_frac), problems: num(v.problems),
  };
  if ([r.k, r.avg_at_k, r.pass_at_k, r.malformed_frac, r.problems].some(Number.isNaN)) return null;
  return r;
}

// A spectral record (src/peft/spectral.ts) from a file: every field checked, sizes bounded. JSON has
// no NaN: the share of a layer that did not move is written as null and read back as NaN.
const MAX_LAYERS = 4096;
const real = (v: unknown): number => (v === null ? Number.NaN : typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN);
const reals = (v: unknown, max = 64): number[] | null =>
  Array.isArray(v) && v.length <= max && v.every((x) => x === null || (typeof x === 'number' && Number.isFinite(x))) ? v.map(real) : null;
const layerName = (v: unknown): string | null => (typeof v === 'string' && /^[\w.]{1,120}$/.test(v) ? v : null);

/** `keys` of `v`, each a finite number (or, where `nullable`, null); with its layer name. */
function numbered<T>(v: unknown, keys: readonly string[], nullable: readonly string[] = []): T | null {
  if (!isObj(v)) return null;
  const out: Record<string, unknown> = {};
  if ('name' in v) {
    const name = layerName(v.name);
    if (!name) return null;
    out.name = name;
  }
  for (const k of keys) {
    if (v[k] === null && nullable.includes(k)) out[k] = null;
    else if (typeof v[k] === 'number' && Number.isFinite(v[k])) out[k] = v[k];
    else return null;
  }
  return out as T;
}

const INTERNAL_KEYS = { adalora: ['rank', 'eMax'], dora: ['rel', 'maxDev'], vera: ['dMean', 'dMax', 'bMean', 'bMax'], ia3: ['mean', 'min', 'max', 'rms1'] } as const;

function internalsOf(v: unknown): Internals | null {
  if (!isObj(v) || typeof v.method !== 'string' || !(v.method in INTERNAL_KEYS) || !Array.isArray(v.layers) || v.layers.length > MAX_LAYERS) return null;
  const method = v.method as keyof typeof INTERNAL_KEYS;
  const layers = v.layers.map((l) => (isObj(l) && 'name' in l ? numbered(l, INTERNAL_KEYS[method]) : null));
  if (layers.some((l) => l === null)) return null;
  if (method !== 'adalora') return { method, layers } as Internals;
  const head = numbered<{ r: number; budget: number | null }>(v, ['r', 'budget'], ['budget']);
  return head && { method, r: head.r, budget: head.budget, layers } as Internals;
}

function spectralLayer(v: unknown): SpectralLayer | null {
  if (!isObj(v)) return null;
  const name = layerName(v.name), ks = reals(v.ks), share = reals(v.share), random = reals(v.random), sv = reals(v.sv), angle = reals(v.angle);
  const [m, n, norm, effRank] = [v.m, v.n, v.norm, v.effRank].map(real);
  if (!name || !ks || !share || !random || !sv || !angle || ![m, n, norm, effRank].every(Number.isFinite)) return null;
  if (!Number.isInteger(m) || !Number.isInteger(n) || !ks.every((k) => Number.isInteger(k) && k >= 1) || share.length !== ks.length) return null;
  return { name, m, n, ks, norm, share, random, sv, effRank, angle };
}

export function spectralRecord(v: unknown): SpectralRecord | null {
  if (!isObj(v) || v.type !== 'spectral' || !Number.isInteger(v.step) || (v.step as number) < 0) return null;
  const fractions = reals(v.fractions), mean = isObj(v.mean) ? { share: reals(v.mean.share), random: reals(v.mean.random), effRank: real(v.mean.effRank) } : null;
  if (!fractions || !mean?.share || !mean.random || !Array.isArray(v.layers) || v.layers.length > MAX_LAYERS) return null;
  const layers = v.layers.map(spectralLayer);
  if (layers.some((l) => l === null)) return null;
  const internals = v.internals === undefined ? undefined : internalsOf(v.internals);
  if (internals === null) return null;
  const seconds = real(v.seconds), wait = real(v.waitSeconds);
  return {
    type: 'spectral', step: v.step as number, fractions, layers: layers as SpectralLayer[], mean: { share: mean.share, random: mean.random, effRank: mean.effRank },
    ...(internals ? { internals, ...(Number.isFinite(real(v.internalsSeconds)) ? { internalsSeconds: real(v.internalsSeconds) } : {}) } : {}),
    seconds: Number.isFinite(seconds) ? seconds : 0, waitSeconds: Number.isFinite(wait) ? wait : Number.isFinite(seconds) ? seconds : 0, offThread: v.offThread === true,
  };
}

function modelOf(v: unknown, notes: string[]): ModelSource {
  if (!isObj(v)) return DEFAULT_MODEL;
  const text = v.kind === 'random' ? v.size : v.kind === 'url' ? v.base : undefined;
  if (typeof text !== 'string') return DEFAULT_MODEL;
  const d = decodeModel(text);
  if (d.note) notes.push(d.note);
  return d.model;
}

/** Parse a runs file; throws with a plain message when it is not one. */
export function parseRunsFile(text: string): { runs: ExportedRun[]; notes: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('the file is not valid JSON');
  }
  if (!isObj(json) || json.format !== FORMAT || !Array.isArray(json.runs)) throw new Error(`the file is not a runs file of the lab (expected "format": "${FORMAT}")`);
  if (json.version !== 1) throw new Error(`runs file version ${String(json.version)} is not supported`);
  const notes: string[] = [];
  const runs: ExportedRun[] = [];
  for (const [i, r] of json.runs.slice(0, MAX_RUNS).entries()) {
    if (!isObj(r)) {
      notes.push(`run ${i + 1}: not an object, skipped`);
      continue;
    }
    const runNotes: string[] = [];
    const config = configFromJson(r.config, runNotes);
    const name = str(r.name, 80, `Imported ${i + 1}`);
    // The settings pass the same checks as the page's own (validateConfig and each method's ranges);
    // a run whose method is unknown or whose settings are invalid is not imported, and says why.
    const issues = configIssues(config, null).map((x) => (x.path ? `${x.path}: ${x.message}` : x.message));
    const unknownMethod = runNotes.find((n) => n.startsWith('unknown PEFT method'));
    if (unknownMethod) issues.unshift(unknownMethod.replace(/; using .*$/, ''));
    if (issues.length) {
      notes.push(`${name}: not imported, invalid settings: ${issues.join('; ')}`);
      continue;
    }
    const rawSteps = Array.isArray(r.steps) ? r.steps.slice(0, MAX_ROWS) : [];
    const rawEvals = Array.isArray(r.evals) ? r.evals.slice(0, MAX_ROWS) : [];
    const steps = rawSteps.map(stepRow).filter((x) => x !== null);
    const evals = rawEvals.map(evalRow).filter((x) => x !== null);
    if (steps.length < rawSteps.length) runNotes.push(`${rawSteps.length - steps.length} step rows skipped (a step that is not a whole number ≥ 1, or a metric that is not a number)`);
    if (evals.length < rawEvals.length) runNotes.push(`${rawEvals.length - evals.length} evaluation rows skipped (not valid records)`);
    const rawSpectral = Array.isArray(r.spectral) ? r.spectral.slice(0, MAX_ROWS) : [];
    const spectral = rawSpectral.map(spectralRecord).filter((x) => x !== null);
    if (spectral.length < rawSpectral.length) runNotes.push(`${rawSpectral.length - spectral.length} spectral records skipped (not valid records)`);
    notes.push(...runNotes.map((n) => `${name}: ${n}`));
    runs.push({
      name, color: typeof r.color === 'string' && /^#[0-9a-fA-F]{6}$/.test(r.color) ? r.color : '', createdAt: Number.isFinite(r.createdAt) ? (r.createdAt as number) : Date.now(),
      config, model: modelOf(r.model, notes), backend: r.backend === 'cpu' ? 'cpu' : 'webgpu', status: r.status === 'done' ? 'done' : 'stopped',
      seconds: Number.isFinite(r.seconds) ? (r.seconds as number) : 0, steps, evals, ...(spectral.length ? { spectral } : {}),
    });
  }
  if (json.runs.length > MAX_RUNS) notes.push(`only the first ${MAX_RUNS} runs were read`);
  return { runs, notes };
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return '';
  const s = String(v);
  // Quote anything a spreadsheet could read as a formula or a separator.
  return /[",\n\r]/.test(s) || (typeof v === 'string' && /^[=+\-@]/.test(s)) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per step (metrics) plus the held-out evaluations as extra columns at their steps. */
export function metricsCsv(steps: StepMetrics[] | Omit<StepRow, 'runId'>[], evals: EvalRecord[]): string {
  const splits = [...new Set(evals.map((e) => e.split))].sort();
  const header = ['step', ...STEP_KEYS, ...splits.flatMap((s) => [`eval_${s}_avg_at_k`, `eval_${s}_pass_at_k`])];
  const byStep = new Map<number, Record<string, unknown>>();
  for (const m of steps) byStep.set(m.step, { ...m });
  for (const e of evals) {
    const row = byStep.get(e.step) ?? { step: e.step };
    row[`eval_${e.split}_avg_at_k`] = e.avg_at_k;
    row[`eval_${e.split}_pass_at_k`] = e.pass_at_k;
    byStep.set(e.step, row);
  }
  const rows = [...byStep.values()].sort((a, b) => (a.step as number) - (b.step as number));
  return [header.join(','), ...rows.map((r) => header.map((h) => csvCell(r[h])).join(','))].join('\n') + '\n';
}

// The page's actions: the stored runs to and from these files.

export async function runsJson(ids: string[]): Promise<string> {
  const runs = ids.map(runById).filter((r): r is RunRecord => r !== undefined);
  const full = await Promise.all(runs.map(async (run) => ({ run, steps: await runSteps(run.id), evals: await runEvals(run.id), spectral: (await runSpectral(run.id)).map(({ runId: _r, ...x }) => x) })));
  return JSON.stringify(toRunsFile(full));
}

export async function runCsv(id: string): Promise<string> {
  return metricsCsv(await runSteps(id), await runEvals(id));
}

/** Add the runs of a file to the list; returns a message for the status line. */
export async function importRuns(text: string): Promise<string> {
  let parsed: ReturnType<typeof parseRunsFile>;
  try {
    parsed = parseRunsFile(text);
  } catch (e) {
    const msg = `Could not import: ${e instanceof Error ? e.message : String(e)}.`;
    setNotice(msg);
    return msg;
  }
  for (const r of parsed.runs) {
    const existing = useRuns.getState().runs;
    const color = r.color && !existing.some((x) => x.color === r.color) ? r.color : nextColor(existing);
    const run: RunRecord = {
      id: newId(), name: r.name, color, createdAt: r.createdAt, config: r.config, model: r.model, backend: r.backend, status: r.status,
      step: r.steps.reduce((m, s) => Math.max(m, s.step), 0), seconds: r.seconds, message: 'Imported from a file.',
    };
    await putRun(run);
    const series = seriesFor(run.id);
    for (const s of r.steps.sort((a, b) => a.step - b.step)) {
      await putStep({ ...s, runId: run.id });
      series.pushStep(s, s.gpu_bytes);
    }
    for (const e of r.evals.sort((a, b) => a.step - b.step)) {
      await putEval({ ...e, runId: run.id });
      series.pushEval(e);
    }
    for (const x of r.spectral ?? []) await putSpectral({ ...x, runId: run.id });
    setSpectral(run.id, r.spectral ?? []);
    useRuns.setState((st) => ({ runs: [...st.runs, run] }));
    setSelected(run.id, true);
  }
  tick();
  const msg = `Imported ${parsed.runs.length} run${parsed.runs.length === 1 ? '' : 's'}.${parsed.notes.length ? ` Notes: ${parsed.notes.slice(0, 5).join('; ')}` : ''}`;
  setNotice(msg);
  return msg;
}
