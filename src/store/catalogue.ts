// The catalogue of models shipped with the page: public/models/index.json. Each entry names a
// checkpoint folder (`<path>/config.json` + `<path>/model.safetensors`) and what the page needs to
// offer it before downloading anything:
//
//   { "models": [ { "name": "rlvr-lab-arith-tiny",          shown in the model picker
//                   "path": "/models/rlvr-lab-arith-tiny",  the folder, a path on this site
//                   "description": "…",                     one line
//                   "parameters": 80640,                    parameter count
//                   "task": "arith",                        the task it was distilled for
//                   "bytes": 325184,                        size of model.safetensors
//                   "sha256": "eea1…",                      optional: SHA-256 of model.safetensors (hex)
//                   "default": true,                        optional: the page's first-visit model
//                   "settings": { "peft.method": "lora",    optional: the RL settings the page starts
//                                 "lr": 0.002 } } ] }       this model with (setting paths → values)
//
// The page's default model is the first entry with "default": true (none: a random tiny model).
// The file is read as untrusted input: parseCatalogue() checks every field and names what is wrong.
import { checkModelBase } from '../model/source.ts';
import { methodIds } from '../peft/registry.ts';
import type { MethodId } from '../peft/types.ts';
import { defaultConfig, validateConfig } from '../rl/config.ts';
import { getTask } from '../tasks/index.ts';
import { getPath, leaves, setPath, type Leaf } from './paths.ts';

export const CATALOGUE_URL = '/models/index.json';

export interface CatalogueEntry {
  name: string;
  path: string;
  description: string;
  parameters: number;
  task: string;
  bytes: number;
  sha256?: string;
  default: boolean;
  /** RL settings to start from with this model, by setting path ("peft.method", "lr", ...). */
  settings?: Record<string, Leaf>;
}

export interface Catalogue {
  models: CatalogueEntry[];
}

const KEYS = ['name', 'path', 'description', 'parameters', 'task', 'bytes', 'sha256', 'default', 'settings'];

/** An entry's `settings`, checked: known setting paths with values of the right type, valid together
 * (applied to the method's defaults). Problems are pushed, prefixed with `where`. */
function parseSettings(raw: unknown, where: string, problems: string[]): Record<string, Leaf> | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return void problems.push(`${where} must be an object of setting paths to values`);
  const method = (raw as Record<string, unknown>)['peft.method'] ?? 'lora';
  if (typeof method !== 'string' || !methodIds.includes(method as MethodId)) return void problems.push(`${where}["peft.method"]: unknown method ${JSON.stringify(method)}`);
  let cfg = defaultConfig(method as MethodId);
  const known = new Map(leaves(cfg));
  const before = problems.length;
  for (const [path, v] of Object.entries(raw as Record<string, unknown>)) {
    const like = known.get(path);
    if (like === undefined) problems.push(`${where}: unknown setting "${path}"`);
    else if (Array.isArray(like) ? !Array.isArray(v) || v.some((x) => typeof x !== 'string') : typeof v !== typeof like) problems.push(`${where}["${path}"] must be ${Array.isArray(like) ? 'a list of strings' : `a ${typeof like}`}, got ${JSON.stringify(v)}`);
    else cfg = setPath(cfg, path, v);
  }
  if (problems.length > before) return undefined;
  for (const e of validateConfig(cfg)) problems.push(`${where}: ${e}`);
  return Object.fromEntries(Object.keys(raw).map((k) => [k, getPath(cfg, k) as Leaf]));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The catalogue in `json`, checked; throws an Error listing every problem, each naming its entry and field. */
export function parseCatalogue(json: unknown, source = CATALOGUE_URL): Catalogue {
  if (!isObject(json) || !Array.isArray(json.models)) throw new Error(`${source}: expected an object with a "models" array`);
  const problems: string[] = [];
  const models: CatalogueEntry[] = [];
  const seen = new Set<string>();
  json.models.forEach((raw: unknown, i: number) => {
    const where = `models[${i}]`;
    if (!isObject(raw)) return void problems.push(`${where} is not an object`);
    const bad = (field: string, want: string) => problems.push(`${where}.${field} must be ${want}, got ${JSON.stringify(raw[field]) ?? 'nothing'}`);
    const text = (field: string, max: number) => {
      const v = raw[field];
      if (typeof v === 'string' && v.trim().length > 0 && v.length <= max) return v;
      bad(field, `a non-empty string of at most ${max} characters`);
      return '';
    };
    const count = (field: string) => {
      const v = raw[field];
      if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
      bad(field, 'a positive integer');
      return 0;
    };
    for (const k of Object.keys(raw)) if (!KEYS.includes(k)) problems.push(`${where} has an unknown field "${k}" (known: ${KEYS.join(', ')})`);
    const name = text('name', 100), path = text('path', 200), description = text('description', 300);
    const parameters = count('parameters'), bytes = count('bytes');
    const pathError = path ? checkModelBase(path) : null;
    if (pathError) problems.push(`${where}.path: ${pathError.replace(/^model: /, '')}`);
    const task = text('task', 40);
    if (task) {
      try {
        getTask(task);
      } catch (e) {
        problems.push(`${where}.task: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    let sha256: string | undefined;
    if (raw.sha256 !== undefined) {
      if (typeof raw.sha256 === 'string' && /^[0-9a-f]{64}$/.test(raw.sha256)) sha256 = raw.sha256;
      else bad('sha256', '64 lowercase hex digits');
    }
    if (raw.default !== undefined && typeof raw.default !== 'boolean') bad('default', 'true or false');
    const settings = parseSettings(raw.settings, `${where}.settings`, problems);
    for (const [kind, key] of [['name', name], ['path', path]] as const) {
      if (key && seen.has(`${kind}:${key}`)) problems.push(`${where}.${kind} ${JSON.stringify(key)} is listed twice`);
      seen.add(`${kind}:${key}`);
    }
    models.push({ name, path, description, parameters, task, bytes, ...(sha256 ? { sha256 } : {}), default: raw.default === true, ...(settings ? { settings } : {}) });
  });
  if (problems.length) throw new Error(`${source} is not a valid model catalogue: ${problems.join('; ')}`);
  return { models };
}

/** The page's first-visit model: the first entry marked default, if any. */
export function defaultEntry(c: Catalogue): CatalogueEntry | null {
  return c.models.find((m) => m.default) ?? null;
}

export function entryFor(c: Catalogue | null, path: string): CatalogueEntry | null {
  return c?.models.find((m) => m.path === path) ?? null;
}

/** Fetch and check the catalogue; errors name the file and what went wrong. */
export async function fetchCatalogue(fetchFn: typeof fetch = fetch): Promise<Catalogue> {
  let res: Response;
  try {
    res = await fetchFn(CATALOGUE_URL, { cache: 'no-cache' });
  } catch (e) {
    throw new Error(`${CATALOGUE_URL} could not be fetched: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!res.ok) throw new Error(`${CATALOGUE_URL} was not found (HTTP ${res.status})`);
  if ((res.headers.get('content-type') ?? '').includes('text/html')) throw new Error(`${CATALOGUE_URL} was not found (the server sent a web page instead)`);
  let json: unknown;
  try {
    json = await res.json();
  } catch (e) {
    throw new Error(`${CATALOGUE_URL} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseCatalogue(json);
}
