// Flags for a typed config object: every scalar field (nested ones dotted: --peft.r) is a flag,
// typed by its default; `--help` lists them all with their defaults. Unknown flags and values of
// the wrong type are errors naming the flag.

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

export class ArgError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArgError';
  }
}

/** Dotted paths of every leaf of `obj` with its value. */
export function leaves(obj: Json, prefix = ''): [string, Json][] {
  if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) {
    return Object.entries(obj).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, obj]];
}

function coerce(flag: string, raw: string, like: Json): Json {
  if (typeof like === 'number') {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v)) throw new ArgError(`--${flag}: expected a number, got "${raw}"`);
    return v;
  }
  if (typeof like === 'boolean') {
    if (raw === 'true' || raw === '1' || raw === '') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new ArgError(`--${flag}: expected true or false, got "${raw}"`);
  }
  if (Array.isArray(like)) return raw.split(',').map((s) => s.trim()).filter(Boolean);
  return raw;
}

/** Set `path` in a deep copy of `obj`. */
export function setPath<T extends Json>(obj: T, path: string, value: Json): T {
  const copy = structuredClone(obj) as { [k: string]: Json };
  const keys = path.split('.');
  let o = copy;
  for (const k of keys.slice(0, -1)) o = o[k] as { [k: string]: Json };
  o[keys[keys.length - 1]] = value;
  return copy as T;
}

/** Merge a JSON file's partial config into defaults, checking every key exists. */
export function mergeConfig<T extends Json>(defaults: T, partial: Json, source: string): T {
  const known = new Map(leaves(defaults));
  let out = defaults;
  for (const [path, value] of leaves(partial)) {
    if (!known.has(path)) throw new ArgError(`${source}: unknown setting "${path}"`);
    out = setPath(out, path, value);
  }
  return out;
}

/** Parse `--flag value` / `--flag=value` against the leaves of `defaults`, plus `extra` named flags. */
export function parseFlags<T extends Json>(argv: string[], defaults: T, extra: Record<string, string>): { config: T; extra: Record<string, string>; positionals: string[] } {
  const known = new Map(leaves(defaults));
  const got: Record<string, string> = {};
  const positionals: string[] = [];
  let config = defaults;
  const sets: [string, string][] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positionals.push(a);
      continue;
    }
    let [flag, value] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const isBool = typeof known.get(flag) === 'boolean' || flag === 'help';
    if (value === undefined) value = isBool && (argv[i + 1] === undefined || argv[i + 1].startsWith('--')) ? '' : argv[++i];
    if (value === undefined) throw new ArgError(`--${flag}: missing value`);
    if (flag in extra) got[flag] = value;
    else if (known.has(flag)) sets.push([flag, value]);
    else throw new ArgError(`unknown option --${flag} (see --help)`);
  }
  for (const [flag, value] of sets) config = setPath(config, flag, coerce(flag, value, known.get(flag) ?? null));
  return { config, extra: got, positionals };
}

export function helpText(usage: string, defaults: Json, extra: Record<string, string>): string {
  const lines = [usage, '', 'options:'];
  for (const [k, v] of Object.entries(extra)) lines.push(`  --${k.padEnd(26)} ${v}`);
  lines.push('', 'settings (default in brackets; nested ones dotted):');
  for (const [k, v] of leaves(defaults)) lines.push(`  --${k.padEnd(26)} [${Array.isArray(v) ? v.join(',') : String(v)}]`);
  return lines.join('\n');
}
