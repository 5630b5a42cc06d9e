// The base model of a run: a randomly initialised model of a named size (the default until a
// distilled checkpoint ships), or a checkpoint folder served with the page
// (`public/models/<name>/config.json` + `model.safetensors`, HuggingFace layout).
import { parseHfConfig, type ModelConfig } from '../model/config.ts';
import { namedConfig, randomWeights } from '../model/init.ts';
import { loadWeights } from '../model/parity.ts';
import { promptWidth } from '../rl/rollout.ts';
import type { RLConfig } from '../rl/config.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';
import { MODEL_SIZES, type ModelSource } from './protocol.ts';

/** Weight-init seed of random models: fixed, so runs that differ only in `seed` share the base model. */
export const RANDOM_MODEL_SEED = 0;

/** A checkpoint base path is accepted only on this page's origin: a shared link must not make the
 * page fetch from elsewhere. Returns an error message, or null when acceptable. */
export function checkModelBase(base: string): string | null {
  if (typeof base !== 'string' || base.length === 0 || base.length > 200) return 'model: the checkpoint path must be 1–200 characters';
  if (!/^\/[A-Za-z0-9._\-/]*$/.test(base) || base.startsWith('//') || base.split('/').includes('..')) {
    return 'model: the checkpoint path must be a path on this site such as /models/lab-small (letters, digits, . _ - /)';
  }
  return null;
}

export function describeSource(s: ModelSource): string {
  return s.kind === 'random' ? `random ${s.size} model (untrained)` : `checkpoint ${s.base}`;
}

/** Positions a random model needs for this config: the prompt width plus the completion. */
export function positionsFor(cfg: Pick<RLConfig, 'task' | 'maxNewTokens'>): number {
  let width = 64;
  try {
    width = promptWidth(getTask(cfg.task));
  } catch {
    // unknown task: the config validation reports it; any width will do here
  }
  return width + (Number.isInteger(cfg.maxNewTokens) && cfg.maxNewTokens > 0 ? cfg.maxNewTokens : 1);
}

/** The config of a random model (known without fetching anything). */
export function randomModelConfig(size: string, cfg: Pick<RLConfig, 'task' | 'maxNewTokens'>): ModelConfig {
  if (!(MODEL_SIZES as readonly string[]).includes(size)) throw new Error(`model: unknown size "${size}"`);
  return namedConfig(size, charTokenizer.vocabSize, positionsFor(cfg));
}

async function fetchOk(url: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`could not fetch ${url}: ${String(e)}`);
  }
  const html = (res.headers.get('content-type') ?? '').includes('text/html'); // a dev server's SPA fallback
  if (!res.ok || html) throw new Error(`${url} was not found${res.ok ? '' : ` (HTTP ${res.status})`}`);
  return res;
}

/** The config.json of a checkpoint folder (the page calls this to size the config panel). */
export async function fetchModelConfig(base: string): Promise<ModelConfig> {
  const err = checkModelBase(base);
  if (err) throw new Error(err);
  const res = await fetchOk(`${base.replace(/\/$/, '')}/config.json`);
  let json: unknown;
  try {
    json = await res.json();
  } catch (e) {
    throw new Error(`${base}/config.json is not valid JSON: ${String(e)}`);
  }
  return parseHfConfig(json);
}

/** The model's config and weights, checked against the character tokenizer and the run's lengths. */
export async function loadModel(source: ModelSource, cfg: RLConfig): Promise<{ cfg: ModelConfig; weights: Map<string, Float32Array> }> {
  if (source.kind === 'random') {
    const mc = randomModelConfig(source.size, cfg);
    return { cfg: mc, weights: randomWeights(mc, RANDOM_MODEL_SEED) };
  }
  const mc = await fetchModelConfig(source.base);
  if (mc.vocabSize < charTokenizer.vocabSize) throw new Error(`model: its vocabulary (${mc.vocabSize}) is smaller than the tokenizer's (${charTokenizer.vocabSize})`);
  const need = positionsFor(cfg);
  if (need > mc.maxPositions) throw new Error(`maxNewTokens: prompt + completion need ${need} positions, the model has ${mc.maxPositions}`);
  const url = `${source.base.replace(/\/$/, '')}/model.safetensors`;
  const buf = await (await fetchOk(url)).arrayBuffer();
  return { cfg: mc, weights: loadWeights(buf, url) };
}
