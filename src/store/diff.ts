// How each run's configuration differs from the others: the settings whose values are not the
// same across every listed run, shown as "method full · lr 0.003" beside each run.
import type { ModelSource } from '../model/source.ts';
import type { RLConfig } from '../rl/config.ts';
import { getPath, leaves, sameLeaf, type Leaf } from './paths.ts';
import { encodeModel } from './share.ts';

export interface Diffable {
  config: RLConfig;
  model: ModelSource;
  backend: string;
}

/** Short names for the settings people compare most. */
const SHORT: Record<string, string> = {
  'peft.method': 'method', 'peft.r': 'rank', 'peft.alpha': 'α', lossType: 'loss', groupSize: 'G',
  promptsPerStep: 'prompts', miniBatches: 'mini-batches', beta: 'β', epsLow: 'ε low', epsHigh: 'ε high',
  maxNewTokens: 'max tokens', scaleRewards: 'scale', dynamicSampling: 'dyn. sampling', overlongShaping: 'overlong',
};

export function shortName(path: string): string {
  return SHORT[path] ?? path.replace(/^peft\./, '');
}

export function formatLeaf(v: unknown): string {
  if (Array.isArray(v)) return v.length === 7 ? 'all' : v.map((x) => String(x).replace('_proj', '')).join('+');
  if (typeof v === 'number') return v !== 0 && Math.abs(v) < 1e-4 ? v.toExponential(1) : String(Number(v.toPrecision(4)));
  return String(v);
}

function flat(r: Diffable): Map<string, unknown> {
  const m = new Map<string, unknown>(leaves(r.config) as [string, Leaf][]);
  m.set('model', encodeModel(r.model));
  m.set('backend', r.backend);
  return m;
}

/** The paths whose values differ among the runs (method first). */
export function differingPaths(runs: Diffable[]): string[] {
  if (runs.length < 2) return [];
  const maps = runs.map(flat);
  const keys = new Set(maps.flatMap((m) => [...m.keys()]));
  const out = [...keys].filter((k) => maps.some((m) => !sameLeaf(m.get(k), maps[0].get(k))));
  return out.sort((a, b) => (a === 'peft.method' ? -1 : b === 'peft.method' ? 1 : 0));
}

/** "method full · lr 0.003" for one run against the set. */
export function diffSummary(run: Diffable, paths: string[], max = 6): string {
  if (paths.length === 0) return '';
  const m = flat(run);
  const parts = paths.slice(0, max).map((p) => `${shortName(p)} ${formatLeaf(m.get(p) ?? getPath(run.config, p))}`);
  if (paths.length > max) parts.push(`+${paths.length - max} more`);
  return parts.join(' · ');
}
