// Settings addressed by dotted paths ("lr", "peft.r", "peft.adalora.targetR"): the names that
// validation messages use, the keys of a shared URL, and the keys of the config diff.
import { PROJS, type Proj } from '../model/model.ts';

export type Leaf = number | string | boolean | Proj[];

/** Every leaf of a config, in a stable order (nested objects flattened, arrays kept whole). */
export function leaves(obj: object, prefix = ''): [string, Leaf][] {
  const out: [string, Leaf][] = [];
  for (const [k, v] of Object.entries(obj)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (Array.isArray(v)) out.push([path, v as Proj[]]);
    else if (typeof v === 'object' && v !== null) out.push(...leaves(v as object, path));
    else if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out.push([path, v]);
  }
  return out;
}

export function getPath(obj: object, path: string): unknown {
  let cur: unknown = obj;
  for (const k of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, k)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** A copy of `obj` with `path` set (only paths that exist: a URL cannot add keys, or reach __proto__). */
export function setPath<T extends object>(obj: T, path: string, value: unknown): T {
  const [head, ...rest] = path.split('.');
  if (!Object.hasOwn(obj, head)) return obj;
  const cur = (obj as Record<string, unknown>)[head];
  const next = rest.length === 0 ? value : typeof cur === 'object' && cur !== null && !Array.isArray(cur) ? setPath(cur, rest.join('.'), value) : cur;
  return { ...obj, [head]: next };
}

export const sameLeaf = (a: unknown, b: unknown): boolean =>
  Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((x, i) => x === b[i]) : Object.is(a, b);

/** Parse a text value into the type of `like` (the default's leaf). Numbers that do not parse become
 * NaN, so the field keeps its validation message; returns undefined for a value of the wrong kind. */
export function coerce(like: Leaf, text: string): Leaf | undefined {
  if (typeof like === 'number') {
    const t = text.trim();
    return t === '' ? Number.NaN : Number(t);
  }
  if (typeof like === 'boolean') return text === 'true' || text === '1' ? true : text === 'false' || text === '0' ? false : undefined;
  if (Array.isArray(like)) {
    const parts = text.split(',').map((s) => s.trim()).filter(Boolean);
    return parts.filter((p): p is Proj => (PROJS as readonly string[]).includes(p));
  }
  return text;
}

/** A JSON value checked against the type of `like`; undefined when it does not fit. */
export function fromJson(like: Leaf, v: unknown): Leaf | undefined {
  if (typeof like === 'number') return typeof v === 'number' ? v : undefined;
  if (typeof like === 'boolean') return typeof v === 'boolean' ? v : undefined;
  if (Array.isArray(like)) return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.filter((p): p is Proj => (PROJS as readonly string[]).includes(p)) : undefined;
  return typeof v === 'string' && v.length <= 200 ? v : undefined;
}
