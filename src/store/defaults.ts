// The page's settings before any model is chosen. The bare page then starts with the catalogue's
// default model (public/models/index.json) and that entry's settings; a link without `model=`
// keeps these: a randomly initialised tiny model on the `lastdigit` warm-up, which such a model
// learns by RL alone in a few dozen steps (see src/rl/trainer.test.ts): two new tokens, 8 prompts
// × 8 completions, the study's DAPO recipe without overlong shaping (answers are one character).
import type { ModelSource } from '../model/source.ts';
import { defaultPeftConfig } from '../peft/common.ts';
import type { MethodId } from '../peft/types.ts';
import { defaultConfig, type RLConfig } from '../rl/config.ts';
import type { BackendChoice } from '../worker/protocol.ts';

export const DEFAULT_METHOD: MethodId = 'full';
export const DEFAULT_MODEL: ModelSource = { kind: 'random', size: 'tiny' };

/** Learning rates that work on the warm-up task: full fine-tuning moves every weight, adapters need more. */
function warmupLr(method: MethodId): number {
  return method === 'full' ? 3e-3 : method === 'ln_tuning' || method === 'ia3' || method === 'vera' ? 3e-2 : 1e-2;
}

/** The adapter settings a method starts with on the page: rank 16, α = 4r (a tiny model's updates
 * need a larger scale), no dropout. */
export function pagePeft(method: MethodId, seed = 0): RLConfig['peft'] {
  const p = defaultPeftConfig(method);
  if (method === 'lora_r1') return { ...p, dropout: 0, seed };
  if (method === 'vera') return { ...p, r: 64, dropout: 0, seed };
  return { ...p, r: 16, alpha: 64, dropout: 0, seed };
}

export function pageDefaults(method: MethodId = DEFAULT_METHOD): RLConfig {
  const c = defaultConfig(method);
  return {
    ...c,
    task: 'lastdigit',
    peft: pagePeft(method),
    maxNewTokens: 2,
    overlongShaping: false,
    groupSize: 8,
    promptsPerStep: 8,
    miniBatches: 2,
    lr: warmupLr(method),
    steps: 40,
    seed: 0,
    evalEvery: 10,
    evalK: 2,
    evalProblems: 20,
  };
}

export const DEFAULT_BACKEND: BackendChoice = 'webgpu';
