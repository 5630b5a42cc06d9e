// The page's settings before any model is chosen. The bare page then starts with the catalogue's
// default model (public/models/index.json) and that entry's settings; a link without `model=`
// keeps these: a randomly initialised tiny model on the `lastdigit` warm-up, which such a model
// learns by RL alone in a few dozen steps (see src/rl/trainer.test.ts): two new tokens, 8 prompts
// × 8 completions, the study's DAPO recipe without overlong shaping (answers are one character).
import type { ModelSource } from '../model/source.ts';
import { experimentDefaults } from '../peft/registry.ts';
import type { MethodId } from '../peft/types.ts';
import { defaultConfig, type RLConfig } from '../rl/config.ts';
import type { BackendChoice } from '../worker/protocol.ts';

export const DEFAULT_METHOD: MethodId = 'full';
export const DEFAULT_MODEL: ModelSource = { kind: 'random', size: 'tiny' };

/** The adapter settings a method starts with on the page (its module's MethodDefaults.page): rank
 * 16, α 64 (a tiny model's updates need a larger scale), no dropout, unless it sets its own. */
export function pagePeft(method: MethodId, seed = 0): RLConfig['peft'] {
  return { ...experimentDefaults(method, 'page').peft, seed };
}

/** The page's experiment for a method, with its learning rate for the warm-up task (its module's
 * MethodDefaults.page: full fine-tuning moves every weight, adapters need more). */
export function pageDefaults(method: MethodId = DEFAULT_METHOD): RLConfig {
  const page = experimentDefaults(method, 'page');
  return {
    ...defaultConfig(method),
    task: 'lastdigit',
    peft: page.peft,
    maxNewTokens: 2,
    overlongShaping: false,
    groupSize: 8,
    promptsPerStep: 8,
    miniBatches: 2,
    lr: page.lr,
    steps: 40,
    seed: 0,
    evalEvery: 10,
    evalK: 2,
    evalProblems: 20,
  };
}

export const DEFAULT_BACKEND: BackendChoice = 'webgpu';
