// Full fine-tuning: every base parameter trains, through the model's own forward and backward
// (model.setTrainable(all)). Parameters are listed under their HF names with the model's own
// tensors and gradients; biases and norm weights get no weight decay (as HF Trainer's default
// grouping). merged() / snapshot() are the model's weights; there is nothing to detach but the
// gradients (the trained weights are the model's).
import { paramShapes, type ModelConfig } from '../model/config.ts';
import type { Model } from '../model/model.ts';
import { loadChecked, uploadTo } from './adalora.ts';
import type { MethodSpec, PeftConfig, PeftInstance, SettingSpec, TrainableParam } from './types.ts';

const SETTINGS: SettingSpec[] = [];

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
  const be = model.backend;
  const shapes = paramShapes(model.cfg);
  model.setTrainable(model.params.keys());
  model.zeroGrads();
  const params: TrainableParam[] = [...model.params].map(([name, tensor]) => {
    const grad = model.grads.get(name);
    if (!grad) throw new Error(`full fine-tuning: the model allocated no gradient for "${name}"`);
    return { name, shape: shapes.get(name) ?? [tensor.size], tensor, grad, lrScale: 1, weightDecay: !noDecay(name) };
  });
  const byName = new Map(params.map((p) => [p.name, p]));
  const readAll = async () => {
    const out = new Map<string, Float32Array>();
    for (const p of params) out.set(p.name, await be.read(p.tensor));
    return out;
  };
  return {
    config: cfg,
    params,
    zeroGrads() {
      model.zeroGrads();
    },
    merged: readAll,
    snapshot: readAll,
    load(tensors) {
      loadChecked(tensors, 'full fine-tuning', (name) => {
        const p = byName.get(name);
        return p && uploadTo(be, p.tensor);
      });
    },
    detach() {
      // Keep the model's default (everything trainable) but release the gradients; an upload of
      // nothing submits queued work before they are freed.
      be.upload(params[0].tensor, new Float32Array(0));
      model.setTrainable([]);
      model.setTrainable(model.params.keys());
    },
  };
}

export const full: MethodSpec = {
  id: 'full',
  name: 'Full fine-tuning',
  description: 'Every parameter of the model trains (the study\'s baseline, at a 10× lower learning rate)',
  paper: 'https://arxiv.org/abs/2512.23165',
  settings: SETTINGS,
  validate: () => [],
  trainableCount,
  attach,
};
