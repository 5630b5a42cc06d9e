// What the methods' TRL and verl mappings (MethodSpec.trlVerl; store/trl-verl-export.ts writes the
// files) share. TRL takes any PEFT config; verl's FSDP workers build plain LoRA only.
//   PEFT peft/optimizers/loraplus.py, lorafa.py, tuners/adalora/model.py (0.20.1.dev0, 5d602fd)
//   verl verl/workers/fsdp_workers.py, verl/workers/config/optimizer.py (0.8.0.dev, b178a3c)
import type { OptimizerSettings, PeftConfig, TrlRecipe, TrlVerl, VerlLora } from './types.ts';

/** What verl builds, and all it builds: the reason in every refusal of a method that is not plain LoRA. */
export const VERL_PLAIN_LORA = 'verl builds plain LoRA only: LoraConfig(r, lora_alpha, target_modules, exclude_modules, bias="none") in verl/workers/fsdp_workers.py';

/** TRL: PEFT's config goes to GRPOTrainer as peft_config, nothing more. */
export const trlAsPeftConfig = (): TrlRecipe => ({});

/** verl's LoraConfig sets no dropout (PEFT's default, 0): a config with dropout is refused before
 * the method's own mapping. */
export function verlNoDropout(map: (cfg: PeftConfig) => VerlLora | string): TrlVerl['verl'] {
  return (cfg) => (cfg.dropout > 0 ? `lora_dropout ${cfg.dropout} cannot be set (${VERL_PLAIN_LORA}; PEFT's default dropout is 0)` : map(cfg));
}

/** verl: a method that is not LoRA. */
export const verlNotLora = (cfg: PeftConfig): string => `${cfg.method} is not LoRA; ${VERL_PLAIN_LORA}`;

/** A method that is not LoRA: PEFT's config in TRL, refused by verl. */
export const NOT_LORA: TrlVerl = { trl: trlAsPeftConfig, verl: verlNoDropout(verlNotLora) };

/** torch.optim.AdamW's betas and eps as the lab trains with them, as Python keyword arguments. */
export const adamArgs = (o: OptimizerSettings): string => `betas=(${o.adamBeta1}, ${o.adamBeta2}), eps=${o.adamEps}`;
