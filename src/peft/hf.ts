// HF PEFT interchange: adapter_config.json ⇄ PeftConfig, and adapter files (adapter_model.safetensors
// + adapter_config.json, what PeftModel.save_pretrained writes and PeftModel.from_pretrained reads)
// ⇄ an attached PeftInstance.
//
// Saved tensor names are the model's state-dict names without the adapter name, as PEFT's
// get_peft_model_state_dict does (_remove_adapter_name_from_state_dict_key):
//   `…q_proj.lora_A.default.weight` → `…q_proj.lora_A.weight`, `…k_proj.ia3_l.default` → `…k_proj.ia3_l`,
// plus LoRA's DoRA rule (LoraModel._get_adapter_state_dict): the magnitude is saved as
// `…lora_magnitude_vector` (no `.weight`), and AdaLoRA's `ranknum` is not saved.
import type { ModelConfig } from '../model/config.ts';
import { projName, PROJS, type Model, type Proj } from '../model/model.ts';
import { parseSafetensors, writeSafetensors, type WriteTensor } from '../model/safetensors.ts';
import { defaultPeftConfig, peftName, sites } from './common.ts';
import { LowRankInstance } from './lora.ts';
import { getMethod } from './registry.ts';
import { veraDims } from './vera.ts';
import type { MethodId, PeftConfig, PeftInstance } from './types.ts';

export const PEFT_VERSION = '0.21.0';
const NORMS = ['input_layernorm', 'post_attention_layernorm', 'norm'];

type Json = Record<string, unknown>;

function fail(setting: string, msg: string): never {
  throw new Error(`adapter_config.json: ${setting}: ${msg}`);
}

function num(j: Json, key: string, dflt: number, check: (v: number) => boolean = Number.isFinite, what = 'a number'): number {
  const v = j[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !check(v)) fail(key, `must be ${what}, got ${JSON.stringify(v)}`);
  return v;
}

const posInt = (v: number) => Number.isInteger(v) && v >= 1;
const nonNeg = (v: number) => Number.isFinite(v) && v >= 0;

/** Python-repr collections as PEFT's to_dict + str() writes them: "{'a', 'b'}", "['a']", "set()". */
function pyItems(s: string): string[] | null {
  const t = s.trim();
  if (t === 'set()' || t === '{}' || t === '[]') return [];
  if (!/^[[{].*[\]}]$/s.test(t)) return null;
  return t.slice(1, -1).split(',').map((x) => x.trim().replace(/^['"]|['"]$/g, '')).filter((x) => x.length > 0);
}

/** target_modules as a list of names: a list, a Python-repr set/list string, 'all-linear', or a regex
 * (full-matched, as PEFT does, against the module names of layer 0). */
export function parseModuleList(v: unknown, setting: string, candidates: readonly string[]): string[] | null {
  if (v === undefined || v === null) return null;
  if (Array.isArray(v)) {
    if (!v.every((x) => typeof x === 'string')) fail(setting, `must be a list of module names, got ${JSON.stringify(v)}`);
    return v as string[];
  }
  if (typeof v !== 'string') fail(setting, `must be a list or a string, got ${JSON.stringify(v)}`);
  if (v === 'all-linear') return [...PROJS];
  const items = pyItems(v);
  if (items) return items;
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${v})$`);
  } catch {
    fail(setting, `"${v}" is neither a module list nor a valid regular expression`);
  }
  const hit = candidates.filter((c) => re.test(c));
  if (hit.length === 0) fail(setting, `the regular expression "${v}" matches no module`);
  return hit.map((c) => c.slice(c.lastIndexOf('.') + 1));
}

const LAYER0 = PROJS.map((p) => projName(0, p));

function toProjs(names: string[], setting: string): Proj[] {
  const out: Proj[] = [];
  for (const n of names) {
    if (/(^|\.)layers\.\d+\./.test(n)) fail(setting, `"${n}" names one layer; only the same targets in every layer are supported`);
    const last = n.slice(n.lastIndexOf('.') + 1) as Proj;
    if (!PROJS.includes(last)) fail(setting, `unknown target module "${n}" (known: ${PROJS.join(', ')})`);
    if (!out.includes(last)) out.push(last);
  }
  return PROJS.filter((p) => out.includes(p));
}

function targets(j: Json, dflt: Proj[], key = 'target_modules'): Proj[] {
  const names = parseModuleList(j[key], key, LAYER0);
  return names === null ? dflt : toProjs(names, key);
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === false) return true;
  if (typeof v === 'string') return pyItems(v)?.length === 0;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v).length === 0;
}

/** Settings the lab cannot honour: refuse them by name rather than load something different. */
function unsupported(j: Json, keys: string[]): void {
  for (const k of keys) if (!isEmpty(j[k])) fail(k, `${JSON.stringify(j[k])} is not supported by this lab`);
  if (j.bias !== undefined && j.bias !== null && j.bias !== 'none') fail('bias', `"${String(j.bias)}" is not supported (only "none")`);
}

const LORA_UNSUPPORTED = ['fan_in_fan_out', 'modules_to_save', 'layers_to_transform', 'exclude_modules', 'rank_pattern',
  'alpha_pattern', 'lora_bias', 'use_qalora', 'layer_replication', 'trainable_token_indices', 'alora_invocation_tokens',
  'target_parameters', 'megatron_config', 'use_bdlora', 'arrow_config', 'kasa_config'];

function loraMethod(j: Json): MethodId {
  const init = j.init_lora_weights ?? true;
  const dora = j.use_dora === true, rs = j.use_rslora === true;
  let method: MethodId;
  if (init === true || init === false || init === 'gaussian') method = dora ? 'dora' : rs ? 'rslora' : 'lora';
  else if (init === 'pissa' || (typeof init === 'string' && /^pissa_niter_\d+$/.test(init))) method = 'pissa';
  else if (init === 'olora') method = 'olora';
  else if (init === 'milora') method = 'milora';
  else fail('init_lora_weights', `${JSON.stringify(init)} is not supported (true, "gaussian", "pissa", "olora", "milora")`);
  if (dora && method !== 'dora') fail('use_dora', `DoRA with init_lora_weights=${JSON.stringify(init)} is not supported`);
  if (rs && method !== 'rslora') fail('use_rslora', `rsLoRA scaling combined with ${method} is not supported`);
  return method;
}

/** A lab PeftConfig from an HF PEFT adapter_config.json (PEFT 0.21 field names). */
export function fromHfPeftConfig(json: Record<string, unknown>): PeftConfig {
  const type = typeof json.peft_type === 'string' ? json.peft_type.toUpperCase() : fail('peft_type', `missing or not a string: ${JSON.stringify(json.peft_type)}`);
  switch (type) {
    case 'LORA': {
      unsupported(json, LORA_UNSUPPORTED);
      const method = loraMethod(json);
      const cfg = defaultPeftConfig(method);
      return { ...cfg, r: num(json, 'r', 8, posInt, 'a positive integer'), alpha: num(json, 'lora_alpha', 8),
        dropout: num(json, 'lora_dropout', 0, nonNeg, 'a non-negative number'), targets: targets(json, ['q_proj', 'v_proj']) };
    }
    case 'ADALORA': {
      unsupported(json, LORA_UNSUPPORTED.filter((k) => k !== 'rank_pattern'));
      if (json.use_dora === true) fail('use_dora', 'AdaLoRA does not support DoRA');
      const cfg = defaultPeftConfig('adalora'), a = cfg.adalora;
      return { ...cfg, r: num(json, 'init_r', 12, posInt, 'a positive integer'), alpha: num(json, 'lora_alpha', 8),
        dropout: num(json, 'lora_dropout', 0, nonNeg, 'a non-negative number'), targets: targets(json, ['q_proj', 'v_proj']),
        adalora: { ...a, targetR: num(json, 'target_r', 8, posInt, 'a positive integer'), tInit: num(json, 'tinit', 0, nonNeg),
          tFinal: num(json, 'tfinal', 0, nonNeg), deltaT: num(json, 'deltaT', 1, posInt, 'a positive integer'),
          beta1: num(json, 'beta1', 0.85), beta2: num(json, 'beta2', 0.85), orthRegWeight: num(json, 'orth_reg_weight', 0.5, nonNeg),
          totalStep: num(json, 'total_step', a.totalStep, posInt, 'a positive integer') } };
    }
    case 'VERA': {
      unsupported(json, ['fan_in_fan_out', 'modules_to_save', 'layers_to_transform']);
      const cfg = defaultPeftConfig('vera');
      return { ...cfg, r: num(json, 'r', 256, posInt, 'a positive integer'), dropout: num(json, 'vera_dropout', 0, nonNeg),
        targets: targets(json, ['q_proj', 'v_proj']),
        vera: { dInitial: num(json, 'd_initial', 0.1), seed: num(json, 'projection_prng_key', 0, Number.isSafeInteger, 'an integer') } };
    }
    case 'IA3': {
      unsupported(json, ['fan_in_fan_out', 'modules_to_save', 'exclude_modules']);
      const cfg = defaultPeftConfig('ia3');
      const t = targets(json, ['k_proj', 'v_proj', 'down_proj']);
      // PEFT fills a missing feedforward_modules from its model mapping: down_proj for llama and qwen2
      // (a missing target_modules is k, v, down for llama but q, v, down for qwen2: the lab assumes llama's).
      const given = json.feedforward_modules !== undefined && json.feedforward_modules !== null;
      const ff = given ? targets(json, [], 'feedforward_modules') : (['down_proj'] as Proj[]).filter((p) => t.includes(p));
      for (const f of ff) if (!t.includes(f)) fail('feedforward_modules', `"${f}" is not in target_modules`);
      return { ...cfg, dropout: 0, targets: t, ia3FeedForward: ff };
    }
    case 'MISS':
    case 'BONE': {
      unsupported(json, ['modules_to_save', 'layers_to_transform', 'exclude_modules']);
      const init = json.init_weights ?? true;
      if (init !== true) fail('init_weights', `${JSON.stringify(init)} (a MiSS variant other than the default) is not supported`);
      const cfg = defaultPeftConfig('miss');
      return { ...cfg, r: num(json, 'r', 64, posInt, 'a positive integer'), dropout: num(json, type === 'MISS' ? 'miss_dropout' : 'bone_dropout', 0, nonNeg),
        targets: targets(json, ['q_proj', 'v_proj']) };
    }
    case 'LN_TUNING': {
      unsupported(json, ['modules_to_save', 'exclude_modules']);
      const names = parseModuleList(json.target_modules, 'target_modules', NORMS) ?? NORMS;
      for (const n of names) if (!NORMS.includes(n)) fail('target_modules', `unknown norm "${n}" (known: ${NORMS.join(', ')})`);
      if (!NORMS.every((n) => names.includes(n))) fail('target_modules', `LN tuning here tunes every RMSNorm (${NORMS.join(', ')}); a subset is not supported`);
      return { ...defaultPeftConfig('ln_tuning'), dropout: 0 };
    }
    default:
      fail('peft_type', `"${type}" is not supported (LORA, ADALORA, VERA, IA3, MISS, BONE, LN_TUNING)`);
  }
}

/** adapter_config.json contents (PEFT 0.21) for a lab config. LoRA+ and LoRA-FA are optimizer
 * choices, saved as plain LoRA. MiLoRA (not in PEFT), and PiSSA/OLoRA with `asLora`, are saved as
 * the equivalent plain LoRA on the original weights: rank 2r, α' = 2α (see exportAdapter). */
export function toHfPeftConfig(cfg: PeftConfig, baseModelName: string | null = null, opts: { asLora?: boolean } = {}): Record<string, unknown> {
  const common = { task_type: 'CAUSAL_LM', auto_mapping: null, peft_version: PEFT_VERSION, base_model_name_or_path: baseModelName,
    revision: null, inference_mode: true };
  const target_modules = [...cfg.targets];
  const lora = { ...common, peft_type: 'LORA', r: cfg.r, lora_alpha: cfg.alpha, lora_dropout: cfg.dropout, target_modules,
    exclude_modules: null, fan_in_fan_out: false, bias: 'none', use_rslora: false, modules_to_save: null, init_lora_weights: true as boolean | string,
    layers_to_transform: null, layers_pattern: null, rank_pattern: {}, alpha_pattern: {}, use_dora: false, lora_bias: false };
  const converted = { ...lora, r: 2 * cfg.r, lora_alpha: 2 * cfg.alpha };
  switch (cfg.method) {
    case 'lora': case 'lora_r1': case 'lora_plus': case 'lora_fa':
      return lora;
    case 'milora': return converted;
    case 'rslora': return { ...lora, use_rslora: true };
    case 'dora': return { ...lora, use_dora: true };
    case 'pissa': return opts.asLora ? converted : { ...lora, init_lora_weights: 'pissa' };
    case 'olora': return opts.asLora ? converted : { ...lora, init_lora_weights: 'olora' };
    case 'adalora': {
      const a = cfg.adalora;
      return { ...lora, peft_type: 'ADALORA', r: 8, rank_pattern: null, target_r: a.targetR, init_r: cfg.r, tinit: a.tInit,
        tfinal: a.tFinal, deltaT: a.deltaT, beta1: a.beta1, beta2: a.beta2, orth_reg_weight: a.orthRegWeight, total_step: a.totalStep };
    }
    case 'vera':
      return { ...common, peft_type: 'VERA', r: cfg.r, target_modules, projection_prng_key: cfg.vera.seed, save_projection: true,
        vera_dropout: cfg.dropout, d_initial: cfg.vera.dInitial, fan_in_fan_out: false, bias: 'none', modules_to_save: null,
        init_weights: true, layers_to_transform: null, layers_pattern: null };
    case 'ia3':
      return { ...common, peft_type: 'IA3', target_modules, exclude_modules: null,
        feedforward_modules: cfg.ia3FeedForward.filter((p) => cfg.targets.includes(p)), fan_in_fan_out: false,
        modules_to_save: null, init_ia3_weights: true };
    case 'miss':
      return { ...common, peft_type: 'MISS', r: cfg.r, miss_dropout: cfg.dropout, mini_r: 1, target_modules, exclude_modules: null,
        init_weights: true, layers_to_transform: null, layers_pattern: null, bias: 'none', modules_to_save: null };
    case 'ln_tuning':
      return { ...common, peft_type: 'LN_TUNING', target_modules: [...NORMS], exclude_modules: null, modules_to_save: null };
    case 'full':
      throw new Error('full fine-tuning has no PEFT adapter format: save the model weights instead');
  }
}

/** The name PEFT's save_pretrained gives a model state-dict key (adapter name "default" removed). */
export function savedName(key: string): string | null {
  if (key.includes('.base_layer.') || key.endsWith('.ranknum.default')) return null;
  if (key.endsWith('.lora_magnitude_vector.default.weight')) return key.slice(0, -'.default.weight'.length);
  if (key.endsWith('.default')) return key.slice(0, -'.default'.length);
  const dot = key.lastIndexOf('.');
  return `${key.slice(0, dot).replace(/\.default$/, '')}${key.slice(dot)}`;
}

/** Every tensor PEFT's save_pretrained writes for this config on this model, by saved name, with
 * the shape PEFT's layer builds (peft/tuners/<method>/layer.py, vera/model.py _init_vera_A_vera_B):
 * LoRA lora_A (r, in), lora_B (out, r), DoRA lora_magnitude_vector (out); AdaLoRA lora_A (r, in),
 * lora_E (r, 1), lora_B (out, r); VeRA vera_lambda_d (r), vera_lambda_b (out) and the shared
 * base_model.vera_A (r, in_max), base_model.vera_B (out_max, r); IA³ ia3_l (1, in) on feed-forward
 * layers, (out, 1) elsewhere; MiSS miss_block (r, out); LN tuning each norm's weight (hidden).
 * `rank` overrides r for LoRA (the rank-2r conversions). */
export function peftShapes(cfg: PeftConfig, model: ModelConfig, rank = cfg.r): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const r = cfg.r;
  const ss = cfg.method === 'ln_tuning' || cfg.method === 'full' ? [] : sites(model, cfg.targets);
  for (const { base, inF, outF } of ss) {
    const n = (t: string) => savedName(peftName(base, t))!;
    switch (cfg.method) {
      case 'adalora':
        out.set(n('lora_A.default'), [r, inF]).set(n('lora_E.default'), [r, 1]).set(n('lora_B.default'), [outF, r]);
        break;
      case 'vera':
        out.set(n('vera_lambda_b.default'), [outF]).set(n('vera_lambda_d.default'), [r]);
        break;
      case 'ia3':
        out.set(n('ia3_l.default'), cfg.ia3FeedForward.includes(base.slice(base.lastIndexOf('.') + 1) as Proj) ? [1, inF] : [outF, 1]);
        break;
      case 'miss':
        out.set(n('miss_block.default'), [r, outF]);
        break;
      default:
        out.set(n('lora_A.default.weight'), [rank, inF]).set(n('lora_B.default.weight'), [outF, rank]);
        if (cfg.method === 'dora') out.set(n('lora_magnitude_vector.default.weight'), [outF]);
    }
  }
  if (cfg.method === 'vera') {
    const { inMax, outMax } = veraDims(cfg, model);
    out.set('base_model.vera_A', [r, inMax]).set('base_model.vera_B', [outMax, r]);
  }
  if (cfg.method === 'ln_tuning') {
    for (let l = 0; l < model.layers; l++) {
      for (const norm of ['input_layernorm', 'post_attention_layernorm']) out.set(savedName(peftName(`model.layers.${l}.${norm}`, 'ln_tuning_layers.default.weight'))!, [model.hidden]);
    }
    out.set(savedName(peftName('model.norm', 'ln_tuning_layers.default.weight'))!, [model.hidden]);
  }
  return out;
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
  // VeRA's shared projections are frozen buffers, not params: PEFT's (r, in_max) and (out_max, r).
  const r = cfg.r;
  const proj = (n: number, rows: boolean) => (rows ? [r, n / r] : [n / r, r]);
  for (const [key, data] of snap) {
    const name = savedName(key);
    if (name === null) continue;
    const shape = shapes.get(key) ?? (cfg.method === 'vera' && (name === 'base_model.vera_A' || name === 'base_model.vera_B') ? proj(data.length, name.endsWith('A')) : null);
    if (!shape || shape.reduce((a, b) => a * b, 1) !== data.length) throw new Error(`exportAdapter: no PEFT shape for "${name}" (${data.length} values)`);
    tensors[name] = { shape, data };
  }
  const convert = inst instanceof LowRankInstance && inst.initFactors.size > 0 && (cfg.method === 'milora' || opts.asLora === true);
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
