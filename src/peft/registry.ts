// Every PEFT method of the study, as the UI and CLI see them.
import { adalora } from './adalora.ts';
import { dora } from './dora.ts';
import { full } from './full.ts';
import { ia3 } from './ia3.ts';
import { lnTuning } from './ln_tuning.ts';
import { lora, loraFa, loraPlus, loraR1, milora, olora, pissa, rslora } from './lora.ts';
import { miss } from './miss.ts';
import type { MethodId, MethodSpec } from './types.ts';
import { vera } from './vera.ts';

export const methods: Record<MethodId, MethodSpec> = {
  full, lora, lora_r1: loraR1, rslora, lora_plus: loraPlus, lora_fa: loraFa, dora, adalora, miss,
  pissa, milora, olora, vera, ia3, ln_tuning: lnTuning,
};

export const methodIds = Object.keys(methods) as MethodId[];

export function getMethod(id: string): MethodSpec {
  if (!(id in methods)) throw new Error(`unknown PEFT method "${id}"; valid: ${methodIds.join(', ')}`);
  return methods[id as MethodId];
}
