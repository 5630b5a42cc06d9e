// The experiment as a link, and back. The query string lists every setting that differs from the
// page's defaults for the run's method (`?peft.method=lora&lr=0.01&seed=3`), plus the base model
// when it is not the random tiny one; decoding starts from the same defaults, so the round trip is
// exact. A link with no query at all is the bare page, which opens the model catalogue's default
// model instead, so the page's own links are never empty (see linkQuery).
// Anything a link carries is untrusted: unknown keys are ignored with a note, values are checked
// against the type of the default (numbers that do not parse stay NaN so the field shows why), and
// the panel's validation reports the rest next to each field. Nothing from a URL reaches the page
// as markup: React renders it as text.
import { checkModelBase, MODEL_SIZES, type ModelSize, type ModelSource } from '../model/source.ts';
import { methodIds } from '../peft/registry.ts';
import type { MethodId } from '../peft/types.ts';
import type { RLConfig } from '../rl/config.ts';
import type { BackendChoice } from '../worker/protocol.ts';
import { DEFAULT_METHOD, DEFAULT_MODEL, pageDefaults } from './defaults.ts';
import { coerce, fromJson, getPath, leaves, sameLeaf, setPath, type Leaf } from './paths.ts';

const MAX_PARAMS = 200;
const MAX_VALUE = 200;

export function encodeModel(m: ModelSource): string {
  return m.kind === 'random' ? m.size : m.base;
}

export function decodeModel(text: string): { model: ModelSource; note?: string } {
  if ((MODEL_SIZES as readonly string[]).includes(text)) return { model: { kind: 'random', size: text as ModelSize } };
  const err = checkModelBase(text);
  if (err) return { model: DEFAULT_MODEL, note: `${err}; using the default model` };
  return { model: { kind: 'url', base: text } };
}

export function toQuery(cfg: RLConfig, model: ModelSource): string {
  const base = pageDefaults(cfg.peft.method);
  const q = new URLSearchParams();
  if (cfg.peft.method !== DEFAULT_METHOD) q.set('peft.method', cfg.peft.method);
  for (const [path, v] of leaves(cfg)) {
    if (path === 'peft.method') continue;
    if (!sameLeaf(getPath(base, path), v)) q.set(path, Array.isArray(v) ? v.join(',') : String(v));
  }
  if (encodeModel(model) !== encodeModel(DEFAULT_MODEL)) q.set('model', encodeModel(model));
  return q.toString();
}

export const BACKEND_CHOICES: readonly BackendChoice[] = ['webgpu', 'cpu'];

/** The query of the page's link: toQuery, or when that is empty (the random tiny model with every
 * default) `model=tiny`, because an empty query opens the catalogue's default model. A backend the
 * visitor chose goes in too (`backend=cpu`); one the page picked itself does not, so a link made on
 * one machine lets the next pick for its own. */
export function linkQuery(cfg: RLConfig, model: ModelSource, backend?: BackendChoice): string {
  const q = toQuery(cfg, model) || `model=${encodeModel(model)}`;
  return backend ? `${q}&backend=${backend}` : q;
}

export interface Decoded {
  config: RLConfig;
  model: ModelSource;
  /** The backend the link names, if any. */
  backend?: BackendChoice;
  /** What was ignored, in words (unknown keys, values of the wrong kind). */
  notes: string[];
}

const shown = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

export function fromQuery(search: string): Decoded {
  const q = new URLSearchParams(search);
  const notes: string[] = [];
  const m = q.get('peft.method');
  let method: MethodId = DEFAULT_METHOD;
  let unknown: string | null = null;
  if (m !== null) {
    if ((methodIds as string[]).includes(m)) method = m as MethodId;
    else {
      // Not replaced behind the visitor's back: the Method field shows it as unknown and Start waits for a choice.
      notes.push(`unknown PEFT method ${shown(m)}: choose one in the Method field`);
      unknown = m.slice(0, 40);
    }
  }
  let config = pageDefaults(method);
  if (unknown !== null) config = { ...config, peft: { ...config.peft, method: unknown as MethodId } };
  let model = DEFAULT_MODEL;
  let backend: BackendChoice | undefined;
  let count = 0;
  for (const [key, value] of q) {
    if (++count > MAX_PARAMS) {
      notes.push(`more than ${MAX_PARAMS} settings in the link; the rest were ignored`);
      break;
    }
    if (key === 'peft.method') continue;
    if (key === 'model') {
      const d = decodeModel(value);
      model = d.model;
      if (d.note) notes.push(d.note);
      continue;
    }
    if (key === 'backend') {
      if ((BACKEND_CHOICES as readonly string[]).includes(value)) backend = value as BackendChoice;
      else notes.push(`unknown backend ${shown(value)}; the page picks one (${BACKEND_CHOICES.join(' or ')})`);
      continue;
    }
    const like = getPath(config, key);
    if (like === undefined || (typeof like === 'object' && !Array.isArray(like))) {
      notes.push(`ignored unknown setting ${shown(key)}`);
      continue;
    }
    if (value.length > MAX_VALUE) {
      notes.push(`ignored ${shown(key)}: value too long`);
      continue;
    }
    const v = coerce(like as Leaf, value);
    if (v === undefined) notes.push(`ignored ${shown(key)}: ${shown(value)} is not ${typeof like === 'boolean' ? 'true or false' : 'valid'}`);
    else config = setPath(config, key, v);
  }
  return backend ? { config, model, backend, notes } : { config, model, notes };
}

/** A config from untrusted JSON (an imported run): known keys of the right type, the rest from the
 * defaults of its method. */
export function configFromJson(json: unknown, notes: string[] = []): RLConfig {
  const obj = typeof json === 'object' && json !== null && !Array.isArray(json) ? json : {};
  const m = getPath(obj, 'peft.method');
  const method = typeof m === 'string' && (methodIds as string[]).includes(m) ? m as MethodId : DEFAULT_METHOD;
  if (m !== method) notes.push(`unknown PEFT method ${shown(String(m))}; using ${DEFAULT_METHOD}`);
  let config = pageDefaults(method);
  for (const [path, like] of leaves(config)) {
    if (path === 'peft.method') continue;
    const raw = getPath(obj, path);
    if (raw === undefined) continue;
    const v = fromJson(like, raw);
    if (v === undefined) notes.push(`ignored ${shown(path)}: wrong type`);
    else config = setPath(config, path, v);
  }
  return config;
}
