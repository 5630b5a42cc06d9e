// The experiment being configured: one typed RLConfig (src/rl/config.ts), the base model and the
// backend. Text fields keep what the visitor typed in `drafts` (so "0." or "abc" stays on screen
// with its message) while the config holds the parsed value. Actions are module functions.
// The base model may be a checkpoint folder: the catalogue of shipped models
// (public/models/index.json) lists them, and the training worker downloads and checks the chosen
// one as soon as it is chosen (`modelLoad` follows the download), so Start finds it ready.
import { create } from 'zustand';
import type { ModelConfig } from '../model/config.ts';
import { positionsFor, randomModelConfig, type ModelSource } from '../model/source.ts';
import { methodIds } from '../peft/registry.ts';
import type { MethodId } from '../peft/types.ts';
import { experimentLr, PRESETS, type PresetId, type RLConfig } from '../rl/config.ts';
import { getTask } from '../tasks/index.ts';
import { defaultEntry, entryFor, fetchCatalogue, type Catalogue, type CatalogueEntry } from './catalogue.ts';
import type { BackendChoice, CheckpointSummary } from '../worker/protocol.ts';
import { DEFAULT_BACKEND, DEFAULT_MODEL, pageDefaults, pagePeft } from './defaults.ts';
import { coerce, getPath, sameLeaf, setPath, type Leaf } from './paths.ts';
import { fromQuery, linkQuery } from './share.ts';
import { detectGpu, useLab, type GpuState } from './lab.ts';
import { configIssues, issuesByPath, type Issue } from './validate.ts';
import { labClient, onWorkerEvent } from './worker.ts';

export type CatalogueState = { status: 'loading' } | { status: 'ready'; catalogue: Catalogue } | { status: 'failed'; error: string };

/** The chosen checkpoint's download (random models need none). */
export interface ModelLoad {
  base: string;
  status: 'loading' | 'ready' | 'failed';
  /** Bytes of model.safetensors received so far, and the size to expect (null: unknown). */
  received: number;
  total: number | null;
  summary: CheckpointSummary | null;
  error: string | null;
}

export interface ConfigState {
  config: RLConfig;
  model: ModelSource;
  backend: BackendChoice;
  /** Who picked the backend: the page (from what the GPU check found), or the visitor or a link. */
  backendSource: 'auto' | 'chosen';
  /** Why the backend is the one it is, in words (null until the GPU check has answered). */
  backendReason: string | null;
  drafts: Record<string, string>;
  /** What a shared link carried that could not be used. */
  linkNotes: string[];
  catalogue: CatalogueState;
  modelLoad: ModelLoad | null;
  /** A link or the visitor chose the model: the catalogue's default no longer replaces it. */
  modelChosen: boolean;
  /** What the last method switch changed besides the method, in words (null: nothing). */
  methodNote: string | null;
}

export const useConfig = create<ConfigState>()(() => ({
  config: pageDefaults(),
  model: DEFAULT_MODEL,
  backend: DEFAULT_BACKEND,
  backendSource: 'auto',
  backendReason: null,
  drafts: {},
  linkNotes: [],
  catalogue: { status: 'loading' },
  modelLoad: null,
  modelChosen: false,
  methodNote: null,
}));

/** The model config the panel sizes things against (null while a checkpoint's config loads). */
let randomCache: { key: string; cfg: ModelConfig | null } | null = null;

export function modelConfigOf(s: Pick<ConfigState, 'config' | 'model' | 'modelLoad'>): ModelConfig | null {
  if (s.model.kind === 'random') {
    // The same object while the size and context length stay the same (it keys the issue memo).
    const key = `${s.model.size}:${positionsFor(s.config)}`;
    if (randomCache?.key !== key) {
      let cfg: ModelConfig | null = null;
      try {
        cfg = randomModelConfig(s.model.size, s.config);
      } catch {
        cfg = null;
      }
      randomCache = { key, cfg };
    }
    return randomCache.cfg;
  }
  return s.modelLoad?.base === s.model.base ? (s.modelLoad.summary?.cfg ?? null) : null;
}

/** Why the chosen checkpoint cannot be used, if it failed to load. */
function modelError(s: Pick<ConfigState, 'model' | 'modelLoad'>): string | null {
  return s.model.kind === 'url' && s.modelLoad?.base === s.model.base ? s.modelLoad.error : null;
}

let issueCache: { key: ConfigState['config']; model: ModelConfig | null; error: string | null; out: Issue[] } | null = null;

/** Validation of the current config (memoised on the config, the model's config and its load error). */
export function currentIssues(s: ConfigState = useConfig.getState()): Issue[] {
  const model = modelConfigOf(s), error = modelError(s);
  if (issueCache?.key === s.config && issueCache.model === model && issueCache.error === error) return issueCache.out;
  const out = configIssues(s.config, model);
  if (error) out.push({ path: 'model', message: error });
  issueCache = { key: s.config, model, error, out };
  return out;
}

const byPath = new WeakMap<Issue[], Map<string, string>>();

export function issueFor(s: ConfigState, path: string): string | undefined {
  const issues = currentIssues(s);
  let m = byPath.get(issues);
  if (!m) byPath.set(issues, (m = issuesByPath(issues)));
  return m.get(path);
}

export function setLeaf(path: string, value: Leaf): void {
  useConfig.setState((s) => {
    const drafts = { ...s.drafts };
    delete drafts[path];
    return { config: setPath(s.config, path, value), drafts };
  });
}

/** A typed field's text: kept as typed, parsed into the config (NaN when it does not parse). */
export function setText(path: string, text: string): void {
  useConfig.setState((s) => {
    const like = getPath(s.config, path) as Leaf | undefined;
    if (like === undefined) return s;
    const v = coerce(like, text);
    return v === undefined ? s : { config: setPath(s.config, path, v), drafts: { ...s.drafts, [path]: text } };
  });
}

/** Methods whose rank or α mean something else (LoRA-r1: fixed r = 1, α = 2; VeRA: the shared
 * random matrices' rank) or whose targets differ (IA³): those settings come from the method's defaults. */
const OWN_RANK: MethodId[] = ['lora_r1', 'vera'];

const shownValue = (v: unknown) => (Array.isArray(v) ? v.join(', ') : String(v));

/** The learning rate the current shipped model's catalogue entry sets, with the method it sets it for:
 * a rate still at it is that experiment's, not the visitor's, so a method switch takes the new
 * method's own. */
function shippedLr(s: ConfigState): { method: string; lr: number } | null {
  const entry = s.model.kind === 'url' && s.catalogue.status === 'ready' ? entryFor(s.catalogue.catalogue, s.model.base) : null;
  const method = entry?.settings?.['peft.method'], lr = entry?.settings?.lr;
  return typeof method === 'string' && typeof lr === 'number' ? { method, lr } : null;
}

/** Switch method. Settings the two methods share (rank, α, dropout, targets, the learning rate) stay
 * as they are, except where the new method fixes its own; full fine-tuning trains at a 10× lower
 * learning rate (as in the study), so switching to or from it scales the rate (a rate still at the
 * old method's page default takes the new one's). Every change besides the method is listed in
 * `methodNote`, shown under the Method field. */
export function setMethod(method: MethodId): void {
  if (!methodIds.includes(method)) return;
  useConfig.setState((s) => {
    const from = s.config.peft.method, cur = s.config.peft;
    if (from === method) return s;
    const known = methodIds.includes(from);
    const next = pagePeft(method, cur.seed);
    const peft = !known ? next : {
      ...next,
      r: OWN_RANK.includes(method) || OWN_RANK.includes(from) ? next.r : cur.r,
      alpha: OWN_RANK.includes(method) || OWN_RANK.includes(from) ? next.alpha : cur.alpha,
      dropout: cur.dropout,
      targets: method === 'ia3' || from === 'ia3' ? next.targets : cur.targets,
    };
    let lr = s.config.lr, why = '';
    const shipped = shippedLr(s);
    const atShipped = shipped !== null && shipped.method === from && shipped.lr === s.config.lr;
    if (!known || s.config.lr === pageDefaults(from).lr) lr = pageDefaults(method).lr;
    else if (atShipped) [lr, why] = [experimentLr(shipped, method), ` (the study's rate for ${method}; ${shipped.lr} was this model's default experiment's, for ${from})`];
    else if (method === 'full' && from !== 'full') [lr, why] = [Number((s.config.lr / 10).toPrecision(6)), ' (full fine-tuning trains at a 10× lower rate, as in the study)'];
    else if (from === 'full' && method !== 'full') [lr, why] = [Number((s.config.lr * 10).toPrecision(6)), ' (adapters train at a 10× higher rate than full fine-tuning)'];
    const changes: string[] = [];
    if (known) {
      for (const [key, label] of [['r', 'rank r'], ['alpha', 'α'], ['dropout', 'dropout'], ['targets', 'target modules']] as const) {
        if (shownValue(cur[key]) !== shownValue(peft[key])) changes.push(`${label} ${shownValue(cur[key])} → ${shownValue(peft[key])}`);
      }
    }
    if (lr !== s.config.lr && Number.isFinite(s.config.lr)) changes.push(`learning rate ${s.config.lr} → ${lr}${why}`);
    const drafts = Object.fromEntries(Object.entries(s.drafts).filter(([k]) => !k.startsWith('peft.') && !(k === 'lr' && lr !== s.config.lr)));
    return { config: { ...s.config, lr, peft }, drafts, methodNote: changes.length ? `Switching to ${method} also changed: ${changes.join('; ')}.` : null };
  });
}

export function applyPreset(id: PresetId): void {
  useConfig.setState((s) => ({ config: { ...s.config, ...PRESETS[id] }, drafts: {} }));
}

/** Which preset the recipe matches, or null ("custom"). */
export function matchingPreset(cfg: RLConfig): PresetId | null {
  for (const [id, p] of Object.entries(PRESETS) as [PresetId, (typeof PRESETS)[PresetId]][]) {
    if (Object.entries(p).every(([k, v]) => sameLeaf(getPath(cfg, k), v))) return id;
  }
  return null;
}

/** The preset the recipe is closest to (fewest differing fields). */
export function closestPreset(cfg: RLConfig): PresetId {
  let best: PresetId = 'dapo', bestN = Infinity;
  for (const [id, p] of Object.entries(PRESETS) as [PresetId, (typeof PRESETS)[PresetId]][]) {
    const n = Object.entries(p).filter(([k, v]) => !sameLeaf(getPath(cfg, k), v)).length;
    if (n < bestN) [best, bestN] = [id, n];
  }
  return best;
}

const BACKEND_KEY = 'rlvr-lab.backend';

function storedBackend(): BackendChoice | null {
  try {
    const v = globalThis.localStorage?.getItem(BACKEND_KEY);
    return v === 'cpu' || v === 'webgpu' ? v : null;
  } catch {
    return null; // storage blocked: the page picks
  }
}

/** The visitor's choice of backend: kept (in this browser and in the page's link) until changed. */
export function setBackend(backend: BackendChoice): void {
  useConfig.setState({ backend, backendSource: 'chosen', backendReason: 'your choice (kept on reload and in the link)' });
  try {
    globalThis.localStorage?.setItem(BACKEND_KEY, backend);
  } catch {
    // storage blocked: the link still carries it
  }
}

/** Pick the backend from what the GPU check found, as the CLI's `--backend auto` does: WebGPU on a
 * real GPU, the CPU backend on a software rasteriser (much faster there) or without WebGPU. A
 * visitor's or link's choice stays, unless it is WebGPU and there is none. */
export function applyGpuCheck(gpu: GpuState): void {
  if (gpu.status === 'checking') return;
  const s = useConfig.getState();
  if (gpu.status === 'unavailable') {
    if (s.backend === 'webgpu' || s.backendSource === 'auto') {
      useConfig.setState({ backend: 'cpu', backendReason: 'WebGPU is not available here, so the lab trains on the CPU backend.' });
    }
    return;
  }
  if (s.backendSource === 'chosen') return;
  useConfig.setState(gpu.software
    ? { backend: 'cpu', backendReason: 'Picked for you: the only WebGPU adapter here is a software rasteriser (no GPU), on which the CPU backend is many times faster.' }
    : { backend: 'webgpu', backendReason: 'Picked for you: WebGPU, on your GPU.' });
}

/** The backend once the GPU check has answered (a Start before then waits for it). */
export async function settledBackend(): Promise<BackendChoice> {
  if (useLab.getState().gpu.status === 'checking') {
    await detectGpu();
    applyGpuCheck(useLab.getState().gpu);
  }
  return useConfig.getState().backend;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

let catalogueLoad: Promise<Catalogue | null> | null = null;

/** The catalogue of shipped models, fetched once (null when it could not be read). */
export function loadCatalogue(): Promise<Catalogue | null> {
  catalogueLoad ??= fetchCatalogue().then(
    (catalogue) => {
      useConfig.setState({ catalogue: { status: 'ready', catalogue } });
      return catalogue;
    },
    (e: unknown) => {
      useConfig.setState({ catalogue: { status: 'failed', error: message(e) } });
      return null;
    },
  );
  return catalogueLoad;
}

function select(model: ModelSource, chosen: boolean): void {
  useConfig.setState((s) => ({ model, modelChosen: s.modelChosen || chosen, modelLoad: model.kind === 'url' ? s.modelLoad : null }));
  if (model.kind === 'url') void loadModelFiles(model.base).catch(() => {}); // the failure is in modelLoad
}

/** Use this base model (the visitor's or a link's choice): a checkpoint starts downloading at once. */
export function setModel(model: ModelSource): void {
  select(model, true);
}

/** A shipped model with the task it was distilled for, room for that task's longest answer, and the
 * RL settings its catalogue entry starts it with (method first, so its other settings apply to it). */
function selectShipped(entry: CatalogueEntry, chosen: boolean): void {
  const need = getTask(entry.task).limits.completionChars + 1; // + <eos>
  const { 'peft.method': method, ...settings } = entry.settings ?? {};
  if (typeof method === 'string') setMethod(method as MethodId);
  for (const [path, v] of Object.entries(settings)) setLeaf(path, v);
  useConfig.setState({ methodNote: null }); // the model's own settings, listed in the catalogue, not a switch's side effect
  useConfig.setState((s) => {
    const drafts = { ...s.drafts };
    delete drafts.task;
    delete drafts.maxNewTokens;
    const keep = Number.isInteger(s.config.maxNewTokens) && s.config.maxNewTokens >= need;
    return { config: { ...s.config, task: entry.task, maxNewTokens: keep ? s.config.maxNewTokens : need }, drafts };
  });
  select({ kind: 'url', base: entry.path }, chosen);
}

export function chooseShipped(entry: CatalogueEntry): void {
  selectShipped(entry, true);
}

function patchLoad(base: string, patch: Partial<ModelLoad>): void {
  useConfig.setState((s) => (s.modelLoad?.base === base ? { modelLoad: { ...s.modelLoad, ...patch } } : s));
}

onWorkerEvent((e) => {
  if (e.type !== 'download') return;
  const load = useConfig.getState().modelLoad;
  if (load?.base === e.base && load.status === 'loading') patchLoad(e.base, { received: e.received, total: e.total });
});

/** Have the worker download and check the checkpoint at `base` (or reuse its copy). The panel follows
 * it while `base` is the chosen model; the promise rejects with the reason when it fails. */
export async function loadModelFiles(base: string): Promise<CheckpointSummary> {
  const s = useConfig.getState();
  const chosen = s.model.kind === 'url' && s.model.base === base;
  if (chosen && (s.modelLoad?.base !== base || s.modelLoad.status === 'failed')) {
    useConfig.setState({ modelLoad: { base, status: 'loading', received: 0, total: null, summary: null, error: null } });
  }
  const entry = entryFor(await loadCatalogue(), base);
  const expect = entry ? { bytes: entry.bytes, ...(entry.sha256 ? { sha256: entry.sha256 } : {}) } : undefined;
  try {
    const summary = await labClient().request({ type: 'loadModel', base, expect });
    patchLoad(base, { status: 'ready', summary, received: summary.bytes, total: summary.bytes, error: null });
    return summary;
  } catch (e) {
    patchLoad(base, { status: 'failed', error: message(e) });
    throw e;
  }
}

/** Download the chosen checkpoint again after a failure. */
export function retryModel(): void {
  const m = useConfig.getState().model;
  if (m.kind === 'url') void loadModelFiles(m.base).catch(() => {});
}

/** Replace the whole experiment (a shared link, a run's config). */
export function loadConfig(config: RLConfig, model: ModelSource, linkNotes: string[] = []): void {
  useConfig.setState({ config, drafts: {}, linkNotes, methodNote: null });
  setModel(model);
}

/** The page's starting experiment: a link's, or on a bare visit the catalogue's default model with
 * its task (a random tiny model when the catalogue cannot be read or marks no default). */
export function loadFromLink(search: string): void {
  const catalogue = loadCatalogue();
  const d = search && search !== '?' ? fromQuery(search) : null;
  const backend = d?.backend ?? storedBackend();
  if (backend) useConfig.setState({ backend, backendSource: 'chosen', backendReason: d?.backend ? 'the link’s choice' : 'your choice (kept on reload and in the link)' });
  if (d) {
    loadConfig(d.config, d.model, d.notes);
    return;
  }
  void catalogue.then((c) => {
    const entry = c && defaultEntry(c);
    if (entry && !useConfig.getState().modelChosen) selectShipped(entry, false);
  });
}

/** Why the current experiment cannot be put in a link (invalid settings would carry `lr=NaN`), or null. */
export function shareBlocked(s: ConfigState = useConfig.getState()): string | null {
  const n = currentIssues(s).filter((i) => i.path !== 'model').length; // a model that failed to download is still a valid link
  return n === 0 ? null : `Fix ${n === 1 ? 'the highlighted setting' : `the ${n} highlighted settings`} to get a link to this experiment.`;
}

/** The link that reproduces the current experiment (see shareBlocked: only for valid settings). */
export function shareLink(s: ConfigState = useConfig.getState(), loc: Pick<Location, 'origin' | 'pathname'> = window.location): string {
  const q = linkQuery(s.config, s.model, s.backendSource === 'chosen' ? s.backend : undefined);
  return `${loc.origin}${loc.pathname}${q ? `?${q}` : ''}`;
}
