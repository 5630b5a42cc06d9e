// Reading adapter_config.json (HF PEFT 0.21) field by field, as every method's mapping does
// (MethodSpec.hf.read): values checked, errors naming the setting, target_modules in every form
// PEFT accepts, and settings the lab cannot honour refused by name.
import { projName, PROJS, type Proj } from '../model/model.ts';

export type Json = Record<string, unknown>;

export function fail(setting: string, msg: string): never {
  throw new Error(`adapter_config.json: ${setting}: ${msg}`);
}

export function num(j: Json, key: string, dflt: number, check: (v: number) => boolean = Number.isFinite, what = 'a number'): number {
  const v = j[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !check(v)) fail(key, `must be ${what}, got ${JSON.stringify(v)}`);
  return v;
}

export const posInt = (v: number) => Number.isInteger(v) && v >= 1;
export const nonNeg = (v: number) => Number.isFinite(v) && v >= 0;

/** Python-repr collections as PEFT's to_dict + str() writes them: "{'a', 'b'}", "['a']", "set()". */
function pyItems(s: string): string[] | null {
  const t = s.trim();
  if (t === 'set()' || t === '{}' || t === '[]') return [];
  if (!/^[[{].*[\]}]$/s.test(t)) return null;
  return t.slice(1, -1).split(',').map((x) => x.trim().replace(/^['"]|['"]$/g, '')).filter((x) => x.length > 0);
}

/** target_modules as a list of names: a list, a Python-repr set/list string, 'all-linear', or a regex
 * (full-matched, as PEFT does, against the module names of layer 0). */
export function parseModuleList(v: unknown, setting: string, candidates: readonly string[]): string[] | null {
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) {
    if (!v.every((x) => typeof x === 'string')) fail(setting, `must be a list of module names, got ${JSON.stringify(v)}`);
    return v as string[];
  }
  if (typeof v !== 'string') fail(setting, `must be a list or a string, got ${JSON.stringify(v)}`);
  if (v === 'all-linear') return [...PROJS];
  const items = pyItems(v);
  if (items) return items;
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${v})$`);
  } catch {
    fail(setting, `"${v}" is neither a module list nor a valid regular expression`);
  }
  const hit = candidates.filter((c) => re.test(c));
  if (hit.length === 0) fail(setting, `the regular expression "${v}" matches no module`);
  return hit.map((c) => c.slice(c.lastIndexOf('.') + 1));
}

const LAYER0 = PROJS.map((p) => projName(0, p));

function toProjs(names: string[], setting: string): Proj[] {
  const out: Proj[] = [];
  for (const n of names) {
    if (/(^|\.)layers\.\d+\./.test(n)) fail(setting, `"${n}" names one layer; only the same targets in every layer are supported`);
    const last = n.slice(n.lastIndexOf('.') + 1) as Proj;
    if (!PROJS.includes(last)) fail(setting, `unknown target module "${n}" (known: ${PROJS.join(', ')})`);
    if (!out.includes(last)) out.push(last);
  }
  return PROJS.filter((p) => out.includes(p));
}

export function targets(j: Json, dflt: Proj[], key = 'target_modules'): Proj[] {
  const names = parseModuleList(j[key], key, LAYER0);
  return names === null ? dflt : toProjs(names, key);
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === false) return true;
  if (typeof v === 'string') return pyItems(v)?.length === 0;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v).length === 0;
}

/** Settings the lab cannot honour: refuse them by name rather than load something different. */
export function unsupported(j: Json, keys: string[]): void {
  for (const k of keys) if (!isEmpty(j[k])) fail(k, `${JSON.stringify(j[k])} is not supported by this lab`);
  if (j.bias !== undefined && j.bias !== null && j.bias !== 'none') fail('bias', `"${String(j.bias)}" is not supported (only "none")`);
}
