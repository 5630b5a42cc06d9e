// The base model of a run, as the page, the worker and the CLIs name it: a randomly initialised
// model of a named size, or a checkpoint folder served with the page (`<base>/config.json` +
// `<base>/model.safetensors`, HuggingFace layout). Pure helpers only; downloading and checking a
// checkpoint is the worker's (src/worker/model-loader.ts).
import { namedConfig } from './init.ts';
import type { ModelConfig } from './config.ts';
import { promptWidth } from '../rl/rollout.ts';
import type { RLConfig } from '../rl/config.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';

/** Where the base model comes from: a randomly initialised size, or a shipped checkpoint folder
 * (`<base>/config.json` + `<base>/model.safetensors`, e.g. `/models/lab-small`). */
export type ModelSource = { kind: 'random'; size: ModelSize } | { kind: 'url'; base: string };
export type ModelSize = 'tiny' | 'small' | 'base';
export const MODEL_SIZES: readonly ModelSize[] = ['tiny', 'small', 'base'];

/** Weight-init seed of random models: fixed, so runs that differ only in `seed` share the base model. */
export const RANDOM_MODEL_SEED = 0;

/** A checkpoint base path is accepted only on this page's origin: a shared link must not make the
 * page fetch from elsewhere. Returns an error message, or null when acceptable. */
export function checkModelBase(base: string): string | null {
  if (typeof base !== 'string' || base.length === 0 || base.length > 200) return 'model: the checkpoint path must be 1–200 characters';
  if (!/^\/[A-Za-z0-9._\-/]*$/.test(base) || base.startsWith('//') || base.split('/').includes('..')) {
    return 'model: the checkpoint path must be a path on this site such as /models/lab-small (letters, digits, . _ - /)';
  }
  return null;
}

/** The base model as an exported adapter's `base_model_name_or_path`: the checkpoint folder's name
 * (`/models/rlvr-lab-arith-small` → `rlvr-lab-arith-small`), which `from_pretrained` loads once the
 * folder's config.json and model.safetensors are saved under that name; null for a random model,
 * which exists nowhere to load. */
export function baseModelName(s: ModelSource): string | null {
  return s.kind === 'url' ? (s.base.split('/').filter(Boolean).pop() ?? null) : null;
}

/** Positions a random model needs for this config: the prompt width plus the completion. */
export function positionsFor(cfg: Pick<RLConfig, 'task' | 'maxNewTokens'>): number {
  let width = 64;
  try {
    width = promptWidth(getTask(cfg.task));
  } catch {
    // unknown task: the config validation reports it; any width will do here
  }
  return width + (Number.isInteger(cfg.maxNewTokens) && cfg.maxNewTokens > 0 ? cfg.maxNewTokens : 1);
}

/** The config of a random model (known without fetching anything). */
export function randomModelConfig(size: string, cfg: Pick<RLConfig, 'task' | 'maxNewTokens'>): ModelConfig {
  if (!(MODEL_SIZES as readonly string[]).includes(size)) throw new Error(`model: unknown size "${size}"`);
  return namedConfig(size, charTokenizer.vocabSize, positionsFor(cfg));
}
