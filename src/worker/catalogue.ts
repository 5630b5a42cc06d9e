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
//                   "default": true } ] }                   optional: the page's first-visit model
//
// The page's default model is the first entry with "default": true (none: a random tiny model).
// The file is read as untrusted input: parseCatalogue() checks every field and names what is wrong.
import { getTask } from '../tasks/index.ts';
import { checkModelBase } from './model-source.ts';

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
}

export interface Catalogue {
  models: CatalogueEntry[];
}

const KEYS = ['name', 'path', 'description', 'parameters', 'task', 'bytes', 'sha256', 'default'];

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
    for (const [kind, key] of [['name', name], ['path', path]] as const) {
      if (key && seen.has(`${kind}:${key}`)) problems.push(`${where}.${kind} ${JSON.stringify(key)} is listed twice`);
      seen.add(`${kind}:${key}`);
    }
    models.push({ name, path, description, parameters, task, bytes, ...(sha256 ? { sha256 } : {}), default: raw.default === true });
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
