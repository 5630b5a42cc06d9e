// LN tuning (Zhao et al., "Tuning LayerNorm in Attention", ICLR 2024) as HF PEFT's LNTuningLayer:
// PEFT deep-copies each targeted norm into `ln_tuning_layers.default` and trains the copy; merging
// swaps the copy in. Here the model's own RMSNorm weights train in place (model.setTrainable), so
// the forward and backward are the model's, and "merged" is simply the current norm weights. PEFT's
// default targets are every input_layernorm, post_attention_layernorm and the final norm for Llama,
// but only post_attention_layernorm for Qwen2 (peft/utils/constants.py); the lab trains all of them
// and its export lists them explicitly (PeftConfig.targets, which lists linear layers, does not
// apply). detach() puts the original norm weights back.
import type { ModelConfig } from '../model/config.ts';
import type { Model } from '../model/model.ts';
import { peftName, savedName } from './common.ts';
import { fail, parseModuleList, unsupported } from './hf_config.ts';
import { baseParamsInstance } from './runtime.ts';
import { NOT_LORA } from './trl_verl.ts';
import type { HfMapping, MethodDefaults, MethodSpec, PeftConfig, PeftInstance, SettingSpec } from './types.ts';

const SETTINGS: SettingSpec[] = [];

const DEFAULTS: MethodDefaults = { study: { lr: 1e-3 }, page: { lr: 3e-2 } };

/** PEFT's names of the norms: every layer's two, and the final one. */
const NORMS = ['input_layernorm', 'post_attention_layernorm', 'norm'];

/** HF names of the RMSNorm weights LN tuning trains. */
export function normNames(model: ModelConfig): string[] {
  const out: string[] = [];
  for (let l = 0; l < model.layers; l++) out.push(`model.layers.${l}.input_layernorm.weight`, `model.layers.${l}.post_attention_layernorm.weight`);
  out.push('model.norm.weight');
  return out;
}

/** `model.layers.0.input_layernorm.weight` → PEFT's `base_model.model.model.layers.0.input_layernorm.ln_tuning_layers.default.weight`. */
export function lnTuningName(hf: string): string {
  return peftName(hf.slice(0, -'.weight'.length), 'ln_tuning_layers.default.weight');
}

function trainableCount(_cfg: PeftConfig, model: ModelConfig): number {
  return normNames(model).length * model.hidden;
}

async function attach(model: Model, cfg: PeftConfig): Promise<PeftInstance> {
  const names = normNames(model.cfg);
  const original = new Map<string, Float32Array>();
  for (const n of names) original.set(n, await model.backend.read(model.p(n)));
  return baseParamsInstance(model, cfg, 'LN tuning', names,
    (n) => ({ name: lnTuningName(n), shape: [model.cfg.hidden], weightDecay: false }), original);
}

// PEFT's LNTuningConfig, every norm listed; only the whole set is read.
const HF: HfMapping = {
  write: () => ({ peft_type: 'LN_TUNING', target_modules: [...NORMS], exclude_modules: null, modules_to_save: null }),
  read: {
    types: ['LN_TUNING'],
    settings(json) {
      unsupported(json, ['modules_to_save', 'exclude_modules']);
      const names = parseModuleList(json.target_modules, 'target_modules', NORMS) ?? NORMS;
      for (const n of names) if (!NORMS.includes(n)) fail('target_modules', `unknown norm "${n}" (known: ${NORMS.join(', ')})`);
      if (!NORMS.every((n) => names.includes(n))) fail('target_modules', `LN tuning here tunes every RMSNorm (${NORMS.join(', ')}); a subset is not supported`);
      return { method: 'ln_tuning', dropout: 0 };
    },
  },
  // Each norm's weight (hidden).
  shapes: (_cfg, model) => new Map(normNames(model).map((n) => [savedName(lnTuningName(n))!, [model.hidden]])),
};

export const lnTuning: MethodSpec = {
  id: 'ln_tuning',
  name: 'LN tuning',
  description: 'Train only the RMSNorm weights (every layer\'s two norms and the final norm)',
  paper: 'https://arxiv.org/abs/2312.11420',
  settings: SETTINGS,
  defaults: DEFAULTS,
  validate: () => [],
  trainableCount,
  hf: HF,
  trlVerl: NOT_LORA,
  attach,
};
