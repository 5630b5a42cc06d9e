// HF PEFT interchange: adapter_config.json ⇄ PeftConfig, and adapter files (adapter_model.safetensors
// + adapter_config.json, what PeftModel.save_pretrained writes and PeftModel.from_pretrained reads)
// ⇄ an attached PeftInstance. What each method's config and tensors are in PEFT's format is its
// module's (MethodSpec.hf); this is the dispatch and the file handling.
//
// Saved tensor names (common.ts: savedName) are the model's state-dict names without the adapter name, as PEFT's
// get_peft_model_state_dict does (_remove_adapter_name_from_state_dict_key):
//   `…q_proj.lora_A.default.weight` → `…q_proj.lora_A.weight`, `…k_proj.ia3_l.default` → `…k_proj.ia3_l`,
// plus LoRA's DoRA rule (LoraModel._get_adapter_state_dict): the magnitude is saved as
// `…lora_magnitude_vector` (no `.weight`), and AdaLoRA's `ranknum` is not saved.
import type { ModelConfig } from '../model/config.ts';
import type { Model } from '../model/model.ts';
import { parseSafetensors, writeSafetensors, type WriteTensor } from '../model/safetensors.ts';
import { savedName } from './common.ts';
import { fail } from './hf_config.ts';
import { LowRankInstance } from './lora.ts';
import { defaultPeftConfig, getMethod, methodIds } from './registry.ts';
import type { PeftConfig, PeftInstance } from './types.ts';

export const PEFT_VERSION = '0.21.0';

/** A lab PeftConfig from an HF PEFT adapter_config.json (PEFT 0.21 field names): the settings the
 * file sets, read by the method that reads its peft_type, over that method's defaults. */
export function fromHfPeftConfig(json: Record<string, unknown>): PeftConfig {
  const type = typeof json.peft_type === 'string' ? json.peft_type.toUpperCase() : fail('peft_type', `missing or not a string: ${JSON.stringify(json.peft_type)}`);
  const readers = methodIds.flatMap((id) => getMethod(id).hf.read ?? []);
  const reader = readers.find((r) => r.types.includes(type));
  if (!reader) fail('peft_type', `"${type}" is not supported (${readers.flatMap((r) => r.types).join(', ')})`);
  const set = reader.settings(json, type);
  return { ...defaultPeftConfig(set.method), ...set };
}

/** adapter_config.json contents (PEFT 0.21) for a lab config: PEFT's common header, then the
 * method's own fields. LoRA+ and LoRA-FA are optimizer choices, saved as plain LoRA. MiLoRA (not in
 * PEFT), and PiSSA/OLoRA with `asLora`, are saved as the equivalent plain LoRA on the original
 * weights: rank 2r, α' = 2α (see exportAdapter). */
export function toHfPeftConfig(cfg: PeftConfig, baseModelName: string | null = null, opts: { asLora?: boolean } = {}): Record<string, unknown> {
  const fields = getMethod(cfg.method).hf.write(cfg, opts);
  return { task_type: 'CAUSAL_LM', auto_mapping: null, peft_version: PEFT_VERSION, base_model_name_or_path: baseModelName,
    revision: null, inference_mode: true, ...fields };
}

/** Every tensor PEFT's save_pretrained writes for this config on this model, by saved name, with
 * the shape PEFT's layer builds (each method's hf.shapes). `rank` overrides r for LoRA (the
 * rank-2r conversions). */
export function peftShapes(cfg: PeftConfig, model: ModelConfig, rank = cfg.r): Map<string, number[]> {
  return getMethod(cfg.method).hf.shapes(cfg, model, rank);
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export interface AdapterFiles {
  'adapter_model.safetensors': Uint8Array;
  'adapter_config.json': string;
}

export interface ExportOptions {
  baseModelName?: string | null;
  /** PiSSA/OLoRA: save as a plain LoRA of rank 2r that applies to the original weights (PEFT's
   * path_initial_model_for_weight_conversion). MiLoRA is always saved this way: PEFT lacks it. */
  asLora?: boolean;
}

/** The adapter in PEFT's save_pretrained format. */
export async function exportAdapter(inst: PeftInstance, opts: ExportOptions = {}): Promise<AdapterFiles> {
  const cfg = inst.config;
  const snap = await inst.snapshot();
  const tensors: Record<string, WriteTensor> = {};
  const shapes = new Map<string, number[]>(inst.params.map((p) => [p.name, p.shape]));
  if (inst instanceof LowRankInstance) for (const ls of inst.sites) shapes.set(ls.A.name, ls.A.shape);
  const hf = getMethod(cfg.method).hf;
  for (const [key, data] of snap) {
    const name = savedName(key);
    if (name === null) continue;
    // A param's own shape, or a frozen buffer's as the method saves it (VeRA's shared projections).
    const shape = shapes.get(key) ?? hf.bufferShape?.(cfg, name, data.length);
    if (!shape || shape.reduce((a, b) => a * b, 1) !== data.length) throw new Error(`exportAdapter: no PEFT shape for "${name}" (${data.length} values)`);
    tensors[name] = { shape, data };
  }
  const convert = inst instanceof LowRankInstance && inst.initFactors.size > 0 && (hf.onlyAsLora === true || opts.asLora === true);
  const config = toHfPeftConfig(cfg, opts.baseModelName ?? null, { asLora: convert });
  if (convert && inst instanceof LowRankInstance) {
    // ΔW = s·(B·A − B₀·A₀) = s'·[B | −B₀]·[A ; A₀] with rank 2r and α' = 2α (s' = s).
    const r = cfg.r;
    for (const ls of inst.sites) {
      const init = inst.initFactors.get(ls.site.base);
      if (!init) continue;
      const { inF, outF } = ls.site;
      const nA = savedName(ls.A.name)!, nB = savedName(ls.B.name)!;
      const A = tensors[nA].data as Float32Array, B = tensors[nB].data as Float32Array;
      const A2 = new Float32Array(2 * r * inF), B2 = new Float32Array(outF * 2 * r);
      A2.set(A);
      A2.set(init.A, r * inF);
      for (let o = 0; o < outF; o++) {
        for (let i = 0; i < r; i++) {
          B2[o * 2 * r + i] = B[o * r + i];
          B2[o * 2 * r + r + i] = -init.B[o * r + i];
        }
      }
      tensors[nA] = { shape: [2 * r, inF], data: A2 };
      tensors[nB] = { shape: [outF, 2 * r], data: B2 };
    }
  }
  return {
    'adapter_model.safetensors': writeSafetensors(tensors, { format: 'pt' }),
    'adapter_config.json': JSON.stringify(config, null, 2),
  };
}

/** Attach an adapter saved by PEFT (or by exportAdapter) to a model and load its tensors. Every
 * trainable tensor must be in the file; file tensors that match nothing throw, naming them. */
export async function importAdapter(files: { 'adapter_model.safetensors': Uint8Array | ArrayBuffer; 'adapter_config.json': string }, model: Model): Promise<PeftInstance> {
  let json: unknown;
  try {
    json = JSON.parse(files['adapter_config.json']);
  } catch (e) {
    throw new Error(`adapter_config.json: not valid JSON (${String(e)})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('adapter_config.json: expected a JSON object');
  const cfg = fromHfPeftConfig(json as Record<string, unknown>);
  const file = parseSafetensors(files['adapter_model.safetensors'], 'adapter_model.safetensors');
  // The shapes PEFT would build for this config on this model: a tensor of the right size but the
  // wrong shape (e.g. VeRA's projections written flat) does not load in PEFT, so it does not load here.
  const want = peftShapes(cfg, model.cfg);
  for (const [name, t] of file.tensors) {
    const s = want.get(name);
    if (s && !same(s, t.shape)) throw new Error(`adapter_model.safetensors: tensor "${name}" has shape [${t.shape}], PEFT builds [${s}] for this config and model`);
  }
  const inst = await getMethod(cfg.method).attach(model, cfg);
  try {
    const ours = await inst.snapshot();
    const byFile = new Map<string, string>();
    for (const key of ours.keys()) {
      const n = savedName(key);
      if (n !== null) byFile.set(n, key);
    }
    const trainableNames = new Set(inst.params.map((p) => p.name));
    const load = new Map<string, Float32Array>();
    for (const [name, t] of file.tensors) {
      const key = byFile.get(name);
      if (!key) throw new Error(`adapter_model.safetensors: tensor "${name}" matches no ${cfg.method} tensor of this model (e.g. "${[...byFile.keys()][0]}")`);
      if (!(t.data instanceof Float32Array)) throw new Error(`adapter_model.safetensors: tensor "${name}" is ${t.dtype}, expected a float type`);
      const mine = ours.get(key)!;
      if (t.data.length !== mine.length) throw new Error(`adapter_model.safetensors: tensor "${name}" has shape [${t.shape}], this model needs ${mine.length} values`);
      // Frozen tensors (VeRA's projections, LoRA-FA's A) are loaded only where they differ from ours.
      if (trainableNames.has(key) || t.data.some((v, i) => v !== mine[i])) load.set(key, t.data);
    }
    for (const name of trainableNames) {
      if (!load.has(name)) throw new Error(`adapter_model.safetensors lacks "${savedName(name) ?? name}"`);
    }
    inst.load(load);
    return inst;
  } catch (e) {
    inst.detach();
    throw e;
  }
}
