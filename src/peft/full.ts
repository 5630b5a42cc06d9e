// Full fine-tuning: every base parameter trains, through the model's own forward and backward
// (model.setTrainable(all)). Parameters are listed under their HF names with the model's own
// tensors and gradients; biases and norm weights get no weight decay (as HF Trainer's default
// grouping). merged() / snapshot() are the model's weights; there is nothing to detach but the
// gradients (the trained weights are the model's).
import { paramShapes, type ModelConfig } from '../model/config.ts';
import type { Model } from '../model/model.ts';
import { baseParamsInstance } from './runtime.ts';
import type { HfMapping, MethodDefaults, MethodSpec, PeftConfig, PeftInstance, SettingSpec, TrlVerl } from './types.ts';

const SETTINGS: SettingSpec[] = [];

// The study trains full fine-tuning at a 10× lower learning rate than the adapters.
const DEFAULTS: MethodDefaults = { study: { lr: 1e-4 }, page: { lr: 3e-3 } };

/** Whether HF Trainer's default grouping exempts a parameter from weight decay (biases, norms). */
export function noDecay(name: string): boolean {
  return name.endsWith('.bias') || /(^|\.)([a-z_]*norm)\.weight$/.test(name);
}

function trainableCount(_cfg: PeftConfig, model: ModelConfig): number {
  let n = 0;
  for (const shape of paramShapes(model).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

async function attach(model: Model, cfg: PeftConfig): Promise<PeftInstance> {
  const shapes = paramShapes(model.cfg);
  return baseParamsInstance(model, cfg, 'full fine-tuning', [...model.params.keys()],
    (name) => ({ name, shape: shapes.get(name) ?? [model.p(name).size], weightDecay: !noDecay(name) }));
}

// Full fine-tuning saves the model's weights, not an adapter.
const HF: HfMapping = {
  write: () => {
    throw new Error('full fine-tuning has no PEFT adapter format: save the model weights instead');
  },
  shapes: () => new Map(),
};

// TRL trains the whole model when it gets no PEFT config; verl when its LoRA rank is 0.
const TRL_VERL: TrlVerl = {
  trl: () => ({ adapter: false }),
  verl: () => ({ rank: 0, alpha: 16, note: 'full fine-tuning (lora_rank 0)' }),
};

export const full: MethodSpec = {
  id: 'full',
  name: 'Full fine-tuning',
  description: 'Every parameter of the model trains (the study\'s baseline, at a 10× lower learning rate)',
  paper: 'https://arxiv.org/abs/2512.23165',
  settings: SETTINGS,
  defaults: DEFAULTS,
  validate: () => [],
  trainableCount,
  hf: HF,
  trlVerl: TRL_VERL,
  attach,
};
