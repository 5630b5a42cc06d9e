// Model hyper-parameters, read from and written to HuggingFace config.json for the two families
// the engine implements: Qwen2 and Llama. Both are the same decoder (RMSNorm → GQA attention with
// RoPE → RMSNorm → SiLU-gated MLP); they differ only in which linear layers carry a bias and in
// defaults. Anything in a config that would change the maths but that the engine does not
// implement (RoPE scaling, sliding windows, other activations) is refused here, loudly, rather
// than producing a model that runs and is silently wrong.

export interface ModelConfig {
  family: 'qwen2' | 'llama';
  vocabSize: number;
  /** C: residual stream width. */
  hidden: number;
  /** MLP inner width. */
  intermediate: number;
  /** L */
  layers: number;
  /** NH: query heads. */
  heads: number;
  /** NKV: key/value heads (GQA when < heads). */
  kvHeads: number;
  /** HS: per-head size. hidden need not equal heads·headDim when config.json gives head_dim. */
  headDim: number;
  ropeTheta: number;
  rmsEps: number;
  /** lm_head shares model.embed_tokens.weight. */
  tieEmbeddings: boolean;
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  maxPositions: number;
  bosTokenId?: number | null;
  eosTokenId?: number | number[] | null;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const fail = (field: string, msg: string): never => {
  throw new ConfigError(`config.json: "${field}" ${msg}`);
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A present, non-null value (HF writes null for "use the default"). */
function given(o: Record<string, unknown>, k: string): boolean {
  return o[k] !== undefined && o[k] !== null;
}

function posInt(o: Record<string, unknown>, k: string, dflt?: number): number {
  if (!given(o, k)) {
    if (dflt !== undefined) return dflt;
    return fail(k, 'is missing');
  }
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) return fail(k, `must be an integer, got ${JSON.stringify(v)}`);
  if (v <= 0) return fail(k, `must be positive, got ${v}`);
  return v;
}

function posNum(k: string, v: unknown, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) return fail(k, `must be a positive number, got ${JSON.stringify(v)}`);
  return v;
}

function bool(o: Record<string, unknown>, k: string, dflt: boolean): boolean {
  if (!given(o, k)) return dflt;
  const v = o[k];
  if (typeof v !== 'boolean') return fail(k, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function tokenId(o: Record<string, unknown>, k: string, allowList: false): number | null;
function tokenId(o: Record<string, unknown>, k: string, allowList: true): number | number[] | null;
function tokenId(o: Record<string, unknown>, k: string, allowList: boolean): number | number[] | null {
  if (!given(o, k)) return null;
  const v = o[k];
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (ok(v)) return v;
  if (allowList && Array.isArray(v) && v.every(ok)) return [...v];
  return fail(k, `must be a token id${allowList ? ' or a list of ids' : ''}, got ${JSON.stringify(v)}`);
}

/** Refuse any RoPE variant other than the plain one (linear/dynamic/yarn/llama3 change the angles). */
function checkRopeType(field: string, v: unknown): void {
  if (v === undefined || v === null) return;
  if (!isRecord(v)) return fail(field, `must be an object or null, got ${JSON.stringify(v)}`);
  const type = v.rope_type ?? v.type;
  if (type !== 'default') fail(field, `RoPE type ${JSON.stringify(type ?? null)} is unsupported (only "default" RoPE is implemented)`);
}

export function parseHfConfig(json: unknown): ModelConfig {
  if (!isRecord(json)) throw new ConfigError('config.json: not a JSON object');
  const o = json;
  const family = o.model_type;
  if (family !== 'qwen2' && family !== 'llama') {
    return fail('model_type', `${JSON.stringify(family ?? null)} is unsupported (supported: "qwen2", "llama")`);
  }

  const vocabSize = posInt(o, 'vocab_size');
  const hidden = posInt(o, 'hidden_size');
  const intermediate = posInt(o, 'intermediate_size');
  const layers = posInt(o, 'num_hidden_layers');
  const heads = posInt(o, 'num_attention_heads');
  // HF: num_key_value_heads absent/null means plain multi-head attention.
  const kvHeads = posInt(o, 'num_key_value_heads', heads);
  if (heads % kvHeads !== 0) {
    fail('num_key_value_heads', `(${kvHeads}) must divide num_attention_heads (${heads}) for grouped-query attention`);
  }
  let headDim: number;
  if (given(o, 'head_dim')) headDim = posInt(o, 'head_dim');
  else if (hidden % heads !== 0) {
    return fail('hidden_size', `(${hidden}) is not divisible by num_attention_heads (${heads}) and no head_dim is given`);
  } else headDim = hidden / heads;
  // RoPE rotates (even, odd) pairs of each head's channels.
  if (headDim % 2 !== 0) fail(given(o, 'head_dim') ? 'head_dim' : 'hidden_size', `gives an odd head size ${headDim}; RoPE needs it even`);

  // transformers v5 moves rope settings into `rope_parameters`; v4 uses rope_theta + rope_scaling.
  // v5 resolves rope_parameters.rope_theta first, so do the same.
  const rp = o.rope_parameters;
  if (rp !== undefined && rp !== null && !isRecord(rp)) fail('rope_parameters', `must be an object, got ${JSON.stringify(rp)}`);
  const rpo = isRecord(rp) ? rp : {};
  if (given(rpo, 'rope_type')) checkRopeType('rope_parameters', rpo);
  checkRopeType('rope_scaling', o.rope_scaling);
  const ropeTheta = given(rpo, 'rope_theta')
    ? posNum('rope_parameters.rope_theta', rpo.rope_theta, 0)
    : posNum('rope_theta', o.rope_theta, 10000); // HF default for both families

  const rmsEps = posNum('rms_norm_eps', o.rms_norm_eps, 1e-6);
  const act = o.hidden_act ?? 'silu';
  if (act !== 'silu') fail('hidden_act', `${JSON.stringify(act)} is unsupported (the gated MLP is implemented with silu only)`);

  if (family === 'qwen2') {
    if (o.use_sliding_window === true) fail('use_sliding_window', 'is true; sliding-window attention is unsupported');
    const lt = o.layer_types;
    if (Array.isArray(lt) && lt.some((t) => t !== 'full_attention')) {
      fail('layer_types', 'contains a layer type other than "full_attention"; sliding-window attention is unsupported');
    }
  }

  // Qwen2 hard-codes bias on q/k/v only; Llama's attention_bias covers q,k,v,o together.
  const attnBias = family === 'llama' ? bool(o, 'attention_bias', false) : true;
  return {
    family,
    vocabSize,
    hidden,
    intermediate,
    layers,
    heads,
    kvHeads,
    headDim,
    ropeTheta,
    rmsEps,
    tieEmbeddings: bool(o, 'tie_word_embeddings', false),
    qkvBias: attnBias,
    oBias: family === 'llama' && attnBias,
    mlpBias: family === 'llama' && bool(o, 'mlp_bias', false),
    maxPositions: posInt(o, 'max_position_embeddings', family === 'llama' ? 2048 : 32768),
    bosTokenId: tokenId(o, 'bos_token_id', false),
    eosTokenId: tokenId(o, 'eos_token_id', true),
  };
}

/** The config.json HF transformers needs to load this model (both v4 and v5 key styles for RoPE). */
export function toHfConfig(cfg: ModelConfig): Record<string, unknown> {
  // Refuse bias layouts the family's HF class cannot express, rather than write a config whose
  // model would not load our weights.
  if (cfg.family === 'qwen2' && (!cfg.qkvBias || cfg.oBias || cfg.mlpBias)) {
    throw new ConfigError('toHfConfig: Qwen2 has bias on q/k/v only; this bias layout is not expressible');
  }
  if (cfg.family === 'llama' && cfg.qkvBias !== cfg.oBias) {
    throw new ConfigError('toHfConfig: Llama attention_bias covers q,k,v and o together; qkvBias must equal oBias');
  }
  const out: Record<string, unknown> = {
    architectures: [cfg.family === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: cfg.family,
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.hidden,
    intermediate_size: cfg.intermediate,
    num_hidden_layers: cfg.layers,
    num_attention_heads: cfg.heads,
    num_key_value_heads: cfg.kvHeads,
    head_dim: cfg.headDim,
    hidden_act: 'silu',
    max_position_embeddings: cfg.maxPositions,
    rms_norm_eps: cfg.rmsEps,
    rope_theta: cfg.ropeTheta,
    rope_parameters: { rope_theta: cfg.ropeTheta, rope_type: 'default' },
    tie_word_embeddings: cfg.tieEmbeddings,
    bos_token_id: cfg.bosTokenId ?? null,
    eos_token_id: cfg.eosTokenId ?? null,
  };
  if (cfg.family === 'llama') {
    out.attention_bias = cfg.qkvBias;
    out.mlp_bias = cfg.mlpBias;
  } else {
    out.use_sliding_window = false;
  }
  return out;
}

/** Every parameter under its HF name, PyTorch (out, in) shapes, in a stable order. */
export function paramShapes(cfg: ModelConfig): Map<string, number[]> {
  const { hidden: C, intermediate: I, heads: NH, kvHeads: NKV, headDim: HS } = cfg;
  const m = new Map<string, number[]>();
  m.set('model.embed_tokens.weight', [cfg.vocabSize, C]);
  for (let i = 0; i < cfg.layers; i++) {
    const p = `model.layers.${i}.`;
    m.set(`${p}input_layernorm.weight`, [C]);
    const attn: [string, number, number, boolean][] = [
      ['q_proj', NH * HS, C, cfg.qkvBias],
      ['k_proj', NKV * HS, C, cfg.qkvBias],
      ['v_proj', NKV * HS, C, cfg.qkvBias],
      ['o_proj', C, NH * HS, cfg.oBias],
    ];
    for (const [n, out, inp, bias] of attn) {
      m.set(`${p}self_attn.${n}.weight`, [out, inp]);
      if (bias) m.set(`${p}self_attn.${n}.bias`, [out]);
    }
    m.set(`${p}post_attention_layernorm.weight`, [C]);
    const mlp: [string, number, number][] = [
      ['gate_proj', I, C],
      ['up_proj', I, C],
      ['down_proj', C, I],
    ];
    for (const [n, out, inp] of mlp) {
      m.set(`${p}mlp.${n}.weight`, [out, inp]);
      if (cfg.mlpBias) m.set(`${p}mlp.${n}.bias`, [out]);
    }
  }
  m.set('model.norm.weight', [C]);
  if (!cfg.tieEmbeddings) m.set('lm_head.weight', [cfg.vocabSize, C]);
  return m;
}

/** Total parameter count (tied embeddings counted once). */
export function paramCount(cfg: ModelConfig): number {
  let n = 0;
  for (const s of paramShapes(cfg).values()) n += s.reduce((a, b) => a * b, 1);
  return n;
}
