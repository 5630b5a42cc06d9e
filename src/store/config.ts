// The experiment being configured: one typed RLConfig (src/rl/config.ts), the base model and the
// backend. Text fields keep what the visitor typed in `drafts` (so "0." or "abc" stays on screen
// with its message) while the config holds the parsed value. Actions are module functions.
import { create } from 'zustand';
import type { ModelConfig } from '../model/config.ts';
import { methodIds } from '../peft/registry.ts';
import type { MethodId } from '../peft/types.ts';
import { PRESETS, type PresetId, type RLConfig } from '../rl/config.ts';
import { fetchModelConfig, positionsFor, randomModelConfig } from '../worker/model-source.ts';
import type { BackendChoice, ModelSource } from '../worker/protocol.ts';
import { DEFAULT_BACKEND, DEFAULT_MODEL, pageDefaults, pagePeft } from './defaults.ts';
import { coerce, getPath, sameLeaf, setPath, type Leaf } from './paths.ts';
import { fromQuery, toQuery } from './share.ts';
import { configIssues, issuesByPath, type Issue } from './validate.ts';

export interface ConfigState {
  config: RLConfig;
  model: ModelSource;
  backend: BackendChoice;
  drafts: Record<string, string>;
  /** What a shared link carried that could not be used. */
  linkNotes: string[];
  /** A checkpoint's config.json once fetched (random models need no fetch). */
  remoteModel: { base: string; cfg: ModelConfig | null; error: string | null } | null;
}

export const useConfig = create<ConfigState>()(() => ({
  config: pageDefaults(),
  model: DEFAULT_MODEL,
  backend: DEFAULT_BACKEND,
  drafts: {},
  linkNotes: [],
  remoteModel: null,
}));

/** The model config the panel sizes things against (null while a checkpoint's config loads). */
let randomCache: { key: string; cfg: ModelConfig | null } | null = null;

export function modelConfigOf(s: Pick<ConfigState, 'config' | 'model' | 'remoteModel'>): ModelConfig | null {
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
  return s.remoteModel?.base === s.model.base ? s.remoteModel.cfg : null;
}

let issueCache: { key: ConfigState['config']; model: ModelConfig | null; remote: ConfigState['remoteModel']; out: Issue[] } | null = null;

/** Validation of the current config (memoised on the config, model and checkpoint state objects). */
export function currentIssues(s: ConfigState = useConfig.getState()): Issue[] {
  const model = modelConfigOf(s);
  if (issueCache?.key === s.config && issueCache.model === model && issueCache.remote === s.remoteModel) return issueCache.out;
  const out = configIssues(s.config, model);
  if (s.model.kind === 'url' && s.remoteModel?.error) out.push({ path: 'model', message: s.remoteModel.error });
  issueCache = { key: s.config, model, remote: s.remoteModel, out };
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

/** Switch method: the method's own settings start from its page defaults; everything else stays. */
export function setMethod(method: MethodId): void {
  if (!methodIds.includes(method)) return;
  useConfig.setState((s) => {
    const old = pageDefaults(s.config.peft.method), next = pageDefaults(method);
    // Keep the learning rate if the visitor changed it; otherwise take the new method's default.
    const lr = s.config.lr === old.lr ? next.lr : s.config.lr;
    const drafts = Object.fromEntries(Object.entries(s.drafts).filter(([k]) => !k.startsWith('peft.') && k !== 'lr'));
    return { config: { ...s.config, lr, peft: pagePeft(method, s.config.peft.seed) }, drafts };
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

export function setBackend(backend: BackendChoice): void {
  useConfig.setState({ backend });
}

export function setModel(model: ModelSource): void {
  useConfig.setState({ model });
  if (model.kind === 'url') void loadRemoteModel(model.base);
}

async function loadRemoteModel(base: string): Promise<void> {
  useConfig.setState({ remoteModel: { base, cfg: null, error: null } });
  try {
    const cfg = await fetchModelConfig(base);
    useConfig.setState({ remoteModel: { base, cfg, error: null } });
  } catch (e) {
    useConfig.setState({ remoteModel: { base, cfg: null, error: e instanceof Error ? e.message : String(e) } });
  }
}

/** Replace the whole experiment (a shared link, a run's config). */
export function loadConfig(config: RLConfig, model: ModelSource, linkNotes: string[] = []): void {
  useConfig.setState({ config, drafts: {}, linkNotes });
  setModel(model);
}

export function loadFromLink(search: string): void {
  if (!search || search === '?') return;
  const d = fromQuery(search);
  loadConfig(d.config, d.model, d.notes);
}

export function resetConfig(): void {
  loadConfig(pageDefaults(), DEFAULT_MODEL);
}

/** The link that reproduces the current experiment. */
export function shareLink(s: ConfigState = useConfig.getState(), loc: Pick<Location, 'origin' | 'pathname'> = window.location): string {
  const q = toQuery(s.config, s.model);
  return `${loc.origin}${loc.pathname}${q ? `?${q}` : ''}`;
}
