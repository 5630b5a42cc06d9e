// Every problem with a config, each tied to the field it concerns, in the engine's own words:
// validateConfig (RL settings), the method's validate (its settings, checked against the model),
// the ranges its settings declare, and what the page adds (task, model size, context length).
import type { ModelConfig } from '../model/config.ts';
import { positionsFor } from '../model/source.ts';
import { getMethod, methodIds } from '../peft/registry.ts';
import type { SettingSpec } from '../peft/types.ts';
import { validateConfig, type RLConfig } from '../rl/config.ts';
import { DIFFICULTIES, taskIds } from '../tasks/index.ts';
import { getPath } from './paths.ts';

export interface Issue {
  /** The setting's path ("lr", "peft.r"), or "" for the config as a whole. */
  path: string;
  message: string;
}

/** "lr: must be in (0, 1], got 0" → { path: 'lr', message: 'must be in (0, 1], got 0' }. */
export function splitMessage(msg: string, prefix = ''): Issue {
  const m = /^([A-Za-z][A-Za-z0-9_.]*): (.*)$/s.exec(msg);
  return m ? { path: prefix + m[1], message: m[2] } : { path: '', message: msg };
}

function rangeIssue(s: SettingSpec, v: unknown): string | null {
  if (s.kind !== 'int' && s.kind !== 'float') return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) return `must be a number, got ${String(v)}`;
  if (s.kind === 'int' && !Number.isInteger(v)) return `must be a whole number, got ${v}`;
  if ((s.min !== undefined && v < s.min) || (s.max !== undefined && v > s.max)) return `must be in [${s.min ?? '−∞'}, ${s.max ?? '∞'}], got ${v}`;
  return null;
}

export function configIssues(cfg: RLConfig, model: ModelConfig | null): Issue[] {
  const out: Issue[] = validateConfig(cfg).map((m) => splitMessage(m));
  if (!taskIds.includes(cfg.task)) out.push({ path: 'task', message: `unknown task "${cfg.task}"; choose one of ${taskIds.join(', ')}` });
  if (!DIFFICULTIES.includes(cfg.difficulty)) out.push({ path: 'difficulty', message: `must be one of ${DIFFICULTIES.join(', ')}` });
  if (!methodIds.includes(cfg.peft.method)) {
    out.push({ path: 'peft.method', message: `unknown method "${cfg.peft.method}"` });
    return out;
  }
  const spec = getMethod(cfg.peft.method);
  for (const s of spec.settings) {
    const msg = rangeIssue(s, getPath(cfg.peft, s.key));
    if (msg) out.push({ path: `peft.${s.key}`, message: msg });
  }
  if (model) {
    try {
      for (const m of spec.validate(cfg.peft, model)) {
        const issue = splitMessage(m, 'peft.');
        if (!out.some((o) => o.path === issue.path)) out.push(issue); // one message per field is enough
      }
    } catch (e) {
      out.push({ path: 'peft.method', message: e instanceof Error ? e.message : String(e) });
    }
    const need = positionsFor(cfg);
    if (need > model.maxPositions) out.push({ path: 'maxNewTokens', message: `prompt and completion need ${need} positions; the model has ${model.maxPositions}` });
  }
  return out;
}

/** The first message for each field. */
export function issuesByPath(issues: Issue[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const i of issues) if (!m.has(i.path)) m.set(i.path, i.message);
  return m;
}
