import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { parseHfConfig, toHfConfig, paramShapes, paramCount, ConfigError, type ModelConfig } from './config.ts';
import { parseSafetensors } from './safetensors.ts';

const read = (model: string, file: string): Buffer =>
  readFileSync(new URL(`../../tests/fixtures/${model}/${file}`, import.meta.url));
const configJson = (model: string): Record<string, unknown> => JSON.parse(read(model, 'config.json').toString('utf8'));

const QWEN2: ModelConfig = {
  family: 'qwen2',
  vocabSize: 96,
  hidden: 64,
  intermediate: 128,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  headDim: 16,
  ropeTheta: 10000,
  rmsEps: 1e-6,
  tieEmbeddings: true,
  qkvBias: true,
  oBias: false,
  mlpBias: false,
  maxPositions: 128,
  bosTokenId: null,
  eosTokenId: null,
};
const LLAMA: ModelConfig = {
  family: 'llama',
  vocabSize: 96,
  hidden: 64,
  intermediate: 160,
  layers: 2,
  heads: 4,
  kvHeads: 1,
  headDim: 16,
  ropeTheta: 50000,
  rmsEps: 1e-5,
  tieEmbeddings: false,
  qkvBias: false,
  oBias: false,
  mlpBias: false,
  maxPositions: 128,
  bosTokenId: 1,
  eosTokenId: 2,
};

function expectConfigError(json: unknown, ...patterns: RegExp[]): void {
  let err: unknown;
  try {
    parseHfConfig(json);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  for (const p of patterns) expect((err as Error).message).toMatch(p);
}

describe('parseHfConfig on the fixtures', () => {
  const cases: [string, ModelConfig][] = [
    ['hf-qwen2-tiny', QWEN2],
    ['hf-llama-tiny', LLAMA],
  ];
  for (const [model, want] of cases) {
    it(`${model}: every field`, () => {
      expect(parseHfConfig(configJson(model))).toStrictEqual(want);
    });

    it(`${model}: paramShapes lists exactly the tensors of model.safetensors`, () => {
      const file = parseSafetensors(read(model, 'model.safetensors'), `${model}/model.safetensors`);
      const shapes = paramShapes(want);
      const have = [...file.tensors].map(([k, t]) => [k, t.shape]).sort();
      expect([...shapes].sort()).toEqual(have);
      let n = 0;
      for (const t of file.tensors.values()) n += t.data.length;
      expect(paramCount(want)).toBe(n);
    });

    it(`${model}: toHfConfig round trips`, () => {
      const hf = toHfConfig(want);
      expect(hf.model_type).toBe(want.family);
      expect(parseHfConfig(JSON.parse(JSON.stringify(hf)))).toStrictEqual(want);
    });
  }
});

describe('parseHfConfig variants', () => {
  const base = (): Record<string, unknown> => configJson('hf-llama-tiny');

  it('reads the transformers v4 rope_theta key and defaults head_dim and kv heads', () => {
    const j = base();
    delete j.rope_parameters;
    delete j.head_dim;
    delete j.num_key_value_heads;
    j.rope_theta = 123456;
    j.rope_scaling = null;
    const c = parseHfConfig(j);
    expect(c.ropeTheta).toBe(123456);
    expect(c.headDim).toBe(16);
    expect(c.kvHeads).toBe(4);
  });

  it('llama attention_bias puts bias on q,k,v,o and mlp_bias on the MLP', () => {
    const j = { ...base(), attention_bias: true, mlp_bias: true };
    const c = parseHfConfig(j);
    expect([c.qkvBias, c.oBias, c.mlpBias]).toEqual([true, true, true]);
    const s = paramShapes(c);
    expect(s.get('model.layers.1.self_attn.q_proj.bias')).toEqual([64]);
    expect(s.get('model.layers.1.self_attn.k_proj.bias')).toEqual([16]);
    expect(s.get('model.layers.1.self_attn.o_proj.bias')).toEqual([64]);
    expect(s.get('model.layers.1.mlp.gate_proj.bias')).toEqual([160]);
    expect(s.get('model.layers.1.mlp.down_proj.bias')).toEqual([64]);
    expect(parseHfConfig(toHfConfig(c))).toStrictEqual(c);
  });

  it('an explicit head_dim may differ from hidden / heads', () => {
    const c = parseHfConfig({ ...base(), head_dim: 32 });
    expect(c.headDim).toBe(32);
    const s = paramShapes(c);
    expect(s.get('model.layers.0.self_attn.q_proj.weight')).toEqual([128, 64]);
    expect(s.get('model.layers.0.self_attn.k_proj.weight')).toEqual([32, 64]);
    expect(s.get('model.layers.0.self_attn.o_proj.weight')).toEqual([64, 128]);
  });

  it('accepts an explicit default rope type and a list of eos ids', () => {
    const c = parseHfConfig({ ...configJson('hf-qwen2-tiny'), rope_scaling: { rope_type: 'default' }, eos_token_id: [2, 7] });
    expect(c.eosTokenId).toEqual([2, 7]);
  });
});

describe('parseHfConfig errors name the field', () => {
  const base = (): Record<string, unknown> => configJson('hf-qwen2-tiny');
  const without = (k: string): Record<string, unknown> => {
    const j = base();
    delete j[k];
    return j;
  };

  it('not an object', () => {
    expectConfigError(null, /not a JSON object/);
    expectConfigError([1], /not a JSON object/);
  });
  it('unknown or missing model_type', () => {
    expectConfigError({ ...base(), model_type: 'mistral' }, /"model_type"/, /"mistral" is unsupported/);
    expectConfigError(without('model_type'), /"model_type"/);
  });
  for (const k of ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads']) {
    it(`missing ${k}`, () => expectConfigError(without(k), new RegExp(`"${k}" is missing`)));
  }
  it('non-integer sizes', () => {
    expectConfigError({ ...base(), hidden_size: 64.5 }, /"hidden_size" must be an integer/);
    expectConfigError({ ...base(), vocab_size: '96' }, /"vocab_size" must be an integer/);
  });
  it('non-positive sizes', () => {
    expectConfigError({ ...base(), num_hidden_layers: 0 }, /"num_hidden_layers" must be positive/);
    expectConfigError({ ...base(), intermediate_size: -4 }, /"intermediate_size" must be positive/);
    expectConfigError({ ...base(), num_key_value_heads: 0 }, /"num_key_value_heads" must be positive/);
  });
  it('heads not divisible by kv heads', () =>
    expectConfigError({ ...base(), num_key_value_heads: 3 }, /"num_key_value_heads"/, /must divide num_attention_heads \(4\)/));
  it('hidden not divisible by heads without head_dim', () =>
    expectConfigError({ ...base(), hidden_size: 66 }, /"hidden_size"/, /not divisible by num_attention_heads/));
  it('odd head size', () => {
    expectConfigError({ ...base(), head_dim: 15 }, /"head_dim"/, /odd head size 15/);
    expectConfigError({ ...base(), hidden_size: 60 }, /"hidden_size"/, /odd head size 15/);
  });
  it('unsupported RoPE scaling', () => {
    expectConfigError({ ...base(), rope_scaling: { type: 'linear', factor: 2 } }, /"rope_scaling"/, /"linear" is unsupported/);
    expectConfigError(
      { ...base(), rope_parameters: { rope_type: 'llama3', rope_theta: 500000, factor: 8 } },
      /"rope_parameters"/,
      /"llama3" is unsupported/,
    );
  });
  it('non-silu activation', () => expectConfigError({ ...base(), hidden_act: 'gelu' }, /"hidden_act"/, /"gelu"/));
  it('sliding-window attention', () => expectConfigError({ ...base(), use_sliding_window: true }, /"use_sliding_window"/));
  it('bad scalar fields', () => {
    expectConfigError({ ...base(), rms_norm_eps: -1 }, /"rms_norm_eps"/);
    expectConfigError({ ...base(), rope_parameters: { rope_theta: 0 } }, /"rope_parameters.rope_theta"/);
    expectConfigError({ ...base(), tie_word_embeddings: 'yes' }, /"tie_word_embeddings"/);
    expectConfigError({ ...base(), eos_token_id: [2, 'x'] }, /"eos_token_id"/);
    expectConfigError({ ...base(), bos_token_id: [1] }, /"bos_token_id"/);
  });
});

describe('toHfConfig refuses bias layouts the HF class cannot express', () => {
  it('qwen2 with an o_proj bias', () => expect(() => toHfConfig({ ...QWEN2, oBias: true })).toThrow(ConfigError));
  it('llama with q/k/v bias but no o bias', () => expect(() => toHfConfig({ ...LLAMA, qkvBias: true })).toThrow(ConfigError));
});
