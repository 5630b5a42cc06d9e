// Every PEFT method of the study, as the UI and CLI see them, and each method's defaults assembled
// from what its module declares (MethodSpec.defaults) over the settings every method shares.
import { PROJS } from '../model/model.ts';
import { adalora, ADALORA_DEFAULTS } from './adalora.ts';
import { dora } from './dora.ts';
import { full } from './full.ts';
import { ia3, IA3_FEED_FORWARD } from './ia3.ts';
import { lnTuning } from './ln_tuning.ts';
import { lora, loraFa, loraPlus, LORA_PLUS_RATIO, loraR1, milora, olora, pissa, rslora } from './lora.ts';
import { miss } from './miss.ts';
import type { MethodId, MethodSpec, PeftConfig } from './types.ts';
import { vera, VERA_DEFAULTS } from './vera.ts';

export const methods: Record<MethodId, MethodSpec> = {
  full, lora, lora_r1: loraR1, rslora, lora_plus: loraPlus, lora_fa: loraFa, dora, adalora, miss,
  pissa, milora, olora, vera, ia3, ln_tuning: lnTuning,
};

export const methodIds = Object.keys(methods) as MethodId[];

export function getMethod(id: string): MethodSpec {
  if (!(id in methods)) throw new Error(`unknown PEFT method "${id}"; valid: ${methodIds.join(', ')}`);
  return methods[id as MethodId];
}

/** The settings every config carries, whatever its method (so a method switch keeps them): the
 * study's rank 32, α 64 and dropout 0.05 on every linear layer, and each method's own block with
 * its module's defaults. */
function shared(): Omit<PeftConfig, 'method'> {
  return {
    r: 32, alpha: 64, dropout: 0.05, targets: [...PROJS], loraPlusRatio: LORA_PLUS_RATIO, adalora: { ...ADALORA_DEFAULTS },
    vera: { ...VERA_DEFAULTS }, ia3FeedForward: [...IA3_FEED_FORWARD], seed: 0,
  };
}

/** A method's adapter settings at the study's scale: the shared ones under the method's own. */
export function defaultPeftConfig(method: MethodId): PeftConfig {
  return { method, ...shared(), ...structuredClone(getMethod(method).defaults.peft) };
}

/** The scale of the lab's two default experiments, under each method's own settings. */
const EXPERIMENT_SCALE: Record<'study' | 'page', Pick<PeftConfig, 'r' | 'alpha' | 'dropout'>> = {
  study: { r: 16, alpha: 32, dropout: 0 },
  page: { r: 16, alpha: 64, dropout: 0 },
};

/** A method's adapter settings and learning rate in one of the lab's default experiments: the
 * study's recipe at the lab's scale (rl defaultConfig) or the page's warm-up (store pageDefaults). */
export function experimentDefaults(method: MethodId, experiment: 'study' | 'page'): { peft: PeftConfig; lr: number } {
  const own = getMethod(method).defaults[experiment];
  return { peft: { ...defaultPeftConfig(method), ...EXPERIMENT_SCALE[experiment], ...structuredClone(own.peft) }, lr: own.lr };
}
