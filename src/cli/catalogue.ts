// The model catalogue (public/models/index.json) from the command line: the default model's folder
// and the RL config the page starts it with, as `npm run train` builds it (flags over defaults, the
// task's answer length for maxNewTokens).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MethodId } from '../peft/types.ts';
import { defaultConfig, validateConfig, type RLConfig } from '../rl/config.ts';
import { getTask } from '../tasks/index.ts';

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));

/** The RL config the page starts the catalogue's default model with, as `npm run train` builds it. */
export function catalogueConfig(): { dir: string; path: string; name: string; cfg: RLConfig; label: string } {
  const index = JSON.parse(readFileSync(root('public/models/index.json'), 'utf8')) as { models: { name: string; path: string; task: string; default?: boolean; settings?: Record<string, unknown> }[] };
  const entry = index.models.find((m) => m.default) ?? index.models[0];
  const s = entry.settings ?? {};
  const cfg = defaultConfig((s['peft.method'] as MethodId | undefined) ?? 'lora');
  const rec = cfg as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(s)) {
    const path = k.split('.');
    let o = rec;
    for (const p of path.slice(0, -1)) o = o[p] as Record<string, unknown>;
    o[path[path.length - 1]] = v;
  }
  cfg.task = entry.task as RLConfig['task'];
  cfg.maxNewTokens = getTask(cfg.task).limits.completionChars + 1; // as the train CLI
  const errors = validateConfig(cfg);
  if (errors.length) throw new Error(`catalogue settings of ${entry.name} are invalid: ${errors.join('; ')}`);
  return { dir: root(`public${entry.path}`), path: entry.path, name: entry.name, cfg, label: `${entry.name}: ${cfg.peft.method} r${cfg.peft.r}, ${cfg.promptsPerStep} prompts × ${cfg.groupSize}, ${cfg.lossType}, seed ${cfg.seed}` };
}

