// Parity against HuggingFace: load a reference folder (config.json, model.safetensors,
// golden_base.safetensors — the layout of tests/fixtures/hf-qwen2-tiny) and compare logits, loss,
// every gradient, token log-probs and the greedy decode. Runs in the page, the worker and Node.
import type { Backend } from '../engine/backend.ts';
import { parseHfConfig } from './config.ts';
import { Model } from './model.ts';
import { parseSafetensors } from './safetensors.ts';
import { relErr } from '../engine/ref/testutil.ts';

export interface ParityFiles {
  config: unknown;
  model: ArrayBuffer;
  goldenBase: ArrayBuffer;
  goldenPeft?: ArrayBuffer;
  manifest?: unknown;
}

export interface ParityRow {
  backend: string;
  model: string;
  name: string;
  relErr: number;
  tol: number;
  ok: boolean;
}

/** Tolerances (relative L2 error) from the reference README: float32 against float64 goldens. */
export const TOL = { logits: 1e-5, loss: 1e-5, logprobs: 1e-5, grad: 1e-4, greedy: 0 } as const;

export { relErr };

export function loadWeights(buf: ArrayBuffer, source: string): Map<string, Float32Array> {
  const file = parseSafetensors(buf, source);
  const out = new Map<string, Float32Array>();
  for (const [name, t] of file.tensors) {
    if (t.data instanceof Float32Array) out.set(name, t.data);
  }
  return out;
}

export async function runParity(backend: Backend, files: ParityFiles, model: string): Promise<ParityRow[]> {
  const cfg = parseHfConfig(files.config);
  const golden = parseSafetensors(files.goldenBase, `${model}/golden_base.safetensors`).tensors;
  const need = (name: string) => {
    const t = golden.get(name);
    if (!t) throw new Error(`${model}/golden_base.safetensors has no tensor "${name}"`);
    return t;
  };
  const rows: ParityRow[] = [];
  const row = (name: string, err: number, tol: number) =>
    rows.push({ backend: backend.name, model, name, relErr: err, tol, ok: err <= tol });

  const m = new Model(backend, cfg, loadWeights(files.model, `${model}/model.safetensors`));
  const ids = need('input_ids'), labels = need('labels');
  const [B, T] = ids.shape;
  const idArr = Int32Array.from(ids.data), labArr = Int32Array.from(labels.data);
  // Row (b,t) predicts token t+1; the last position of each sequence predicts nothing.
  const targets = new Int32Array(B * T).fill(-1);
  const dlogp = new Float32Array(B * T);
  let count = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t + 1 < T; t++) {
      targets[b * T + t] = idArr[b * T + t + 1];
      if (labArr[b * T + t + 1] >= 0) count++;
    }
  }
  for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) if (labArr[b * T + t + 1] >= 0) dlogp[b * T + t] = -1 / count;

  m.zeroGrads();
  const { logits, logp } = m.forward(idArr, targets, B, T);
  m.backward(dlogp);
  row('logits', relErr(await backend.read(logits), need('logits').data), TOL.logits);
  const lp = await backend.read(logp);
  const tokenLogprobs = new Float32Array(B * (T - 1));
  let loss = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t + 1 < T; t++) {
      tokenLogprobs[b * (T - 1) + t] = lp[b * T + t];
      loss += dlogp[b * T + t] * lp[b * T + t];
    }
  }
  row('loss', relErr([loss], need('loss').data), TOL.loss);
  row('token_logprobs', relErr(tokenLogprobs, need('token_logprobs').data), TOL.logprobs);
  for (const [name, g] of m.grads) {
    row(`grad/${name}`, relErr(await backend.read(g), need(`grad/${name}`).data), TOL.grad);
  }

  const prompt = need('greedy/prompt'), want = need('greedy/ids');
  const got = await m.generateGreedy(Int32Array.from(prompt.data), prompt.shape[0], want.shape[1] - prompt.shape[1]);
  let mismatches = 0;
  for (let i = 0; i < want.data.length; i++) if (got[i] !== want.data[i]) mismatches++;
  row('greedy (tokens differing)', mismatches, TOL.greedy);
  return rows;
}
