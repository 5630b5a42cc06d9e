// Shared pieces of every PEFT method: HF PEFT tensor naming (in the model and as saved), the target
// sites of a model, and trainable-parameter allocation. A method module builds on these and stays short.
import type { Backend } from '../engine/backend.ts';
import type { ModelConfig } from '../model/config.ts';
import { projName, PROJS, type Proj } from '../model/model.ts';
import { Rng } from '../tasks/rng.ts';
import type { PeftConfig, TrainableParam } from './types.ts';

/** `base_model.model.<base>.<suffix>` — PEFT's name for an adapter tensor of a base module. */
export function peftName(base: string, suffix: string): string {
  return `base_model.model.${base}.${suffix}`;
}

/** The name PEFT's save_pretrained gives a model state-dict key (adapter name "default" removed). */
export function savedName(key: string): string | null {
  if (key.includes('.base_layer.') || key.endsWith('.ranknum.default')) return null;
  if (key.endsWith('.lora_magnitude_vector.default.weight')) return key.slice(0, -'.default.weight'.length);
  if (key.endsWith('.default')) return key.slice(0, -'.default'.length);
  const dot = key.lastIndexOf('.');
  return `${key.slice(0, dot).replace(/\.default$/, '')}${key.slice(dot)}`;
}

/** One adapted linear layer: where it is and its (in, out) sizes. */
export interface Site {
  layer: number;
  proj: Proj;
  /** HF module name, e.g. `model.layers.0.self_attn.q_proj`. */
  base: string;
  inF: number;
  outF: number;
}

export function linearDims(cfg: ModelConfig, proj: Proj): { inF: number; outF: number } {
  const QD = cfg.heads * cfg.headDim, KD = cfg.kvHeads * cfg.headDim, C = cfg.hidden, I = cfg.intermediate;
  switch (proj) {
    case 'q_proj': return { inF: C, outF: QD };
    case 'k_proj': case 'v_proj': return { inF: C, outF: KD };
    case 'o_proj': return { inF: QD, outF: C };
    case 'gate_proj': case 'up_proj': return { inF: C, outF: I };
    case 'down_proj': return { inF: I, outF: C };
  }
}

/** The target sites of a config, layer by layer in PROJS order. */
export function sites(cfg: ModelConfig, targets: readonly Proj[]): Site[] {
  const out: Site[] = [];
  for (let layer = 0; layer < cfg.layers; layer++) {
    for (const proj of PROJS) {
      if (targets.includes(proj)) out.push({ layer, proj, base: projName(layer, proj), ...linearDims(cfg, proj) });
    }
  }
  return out;
}

/** Kaiming-uniform as PyTorch's nn.Linear / PEFT's LoRA A init: U(−1/√in, 1/√in). */
export function kaimingUniform(rng: Rng, rows: number, inF: number): Float32Array {
  const bound = 1 / Math.sqrt(inF);
  return Float32Array.from({ length: rows * inF }, () => (2 * rng.next() - 1) * bound);
}

/** A seeded generator for one site, so a site's init does not depend on which other sites exist. */
export function siteRng(cfg: PeftConfig, site: Site, what: string): Rng {
  return new Rng(`${cfg.seed}:${cfg.method}:${site.base}:${what}`);
}

/** Allocate a trainable tensor and its gradient, upload its initial value. */
export function trainable(be: Backend, name: string, shape: number[], init: Float32Array, lrScale = 1, weightDecay = true): TrainableParam {
  const size = shape.reduce((a, b) => a * b, 1);
  if (init.length !== size) throw new Error(`${name}: init has ${init.length} values, shape [${shape}] needs ${size}`);
  const tensor = be.alloc(name, size);
  be.upload(tensor, init);
  const grad = be.alloc(`grad:${name}`, size);
  be.zero(grad);
  return { name, shape, tensor, grad, lrScale, weightDecay };
}

/** Errors shared by every adapter method: targets known, rank and alpha in range. */
export function validateCommon(cfg: PeftConfig, model: ModelConfig, opts: { rank: boolean }): string[] {
  const errors: string[] = [];
  for (const t of cfg.targets) if (!PROJS.includes(t)) errors.push(`targets: unknown target module "${t}" (known: ${PROJS.join(', ')})`);
  if (cfg.targets.length === 0) errors.push('targets: choose at least one target module');
  if (opts.rank) {
    if (!Number.isInteger(cfg.r) || cfg.r < 1) errors.push(`r: rank must be a positive integer, got ${cfg.r}`);
    for (const t of cfg.targets.filter((x) => PROJS.includes(x))) {
      const { inF, outF } = linearDims(model, t);
      if (cfg.r > Math.min(inF, outF)) errors.push(`r: rank ${cfg.r} exceeds ${t}'s size ${outF}×${inF}`);
    }
    if (!(cfg.alpha > 0)) errors.push(`alpha: must be positive, got ${cfg.alpha}`);
  }
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) errors.push(`dropout: must be in [0, 1), got ${cfg.dropout}`);
  return errors;
}
