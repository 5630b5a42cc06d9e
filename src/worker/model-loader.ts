// Loading the base model of a run (src/model/source.ts) in the worker: a random model is built
// from its size; a checkpoint folder (`public/models/<name>/config.json` + `model.safetensors`,
// HuggingFace layout) is downloaded and checked. Checkpoints are downloaded once per session: the
// worker keeps each loaded checkpoint (its config and parsed weights) in a CheckpointCache, so a
// second run, a resume or an adapter export uses them without downloading again; a failed load is
// forgotten, so Retry downloads anew.
import { paramCount, paramShapes, parseHfConfig, type ModelConfig } from '../model/config.ts';
import { randomWeights } from '../model/init.ts';
import { parseSafetensors, type SafeFile } from '../model/safetensors.ts';
import { checkModelBase, positionsFor, RANDOM_MODEL_SEED, randomModelConfig, type ModelSource } from '../model/source.ts';
import type { RLConfig } from '../rl/config.ts';
import { charTokenizer } from '../tasks/index.ts';
import { download, fetchFile, type DownloadOptions, type Progress } from './download.ts';
import type { CheckpointSummary, ModelExpect } from './protocol.ts';

const folder = (base: string) => base.replace(/\/$/, '');

/** The config.json of a checkpoint folder. */
async function fetchModelConfig(base: string, fetchFn?: typeof fetch): Promise<ModelConfig> {
  const err = checkModelBase(base);
  if (err) throw new Error(err);
  const url = `${folder(base)}/config.json`;
  const res = await fetchFile(url, fetchFn);
  let json: unknown;
  try {
    json = await res.json();
  } catch (e) {
    throw new Error(`${url} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return parseHfConfig(json);
  } catch (e) {
    throw new Error(`${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The weights of `file`, checked tensor by tensor against the shapes config.json implies. */
export function weightsFor(file: SafeFile, cfg: ModelConfig, url: string, configUrl: string): Map<string, Float32Array> {
  const problems: string[] = [];
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of paramShapes(cfg)) {
    const t = file.tensors.get(name);
    if (!t) problems.push(`tensor "${name}" is missing`);
    else if (t.shape.join(',') !== shape.join(',')) problems.push(`tensor "${name}" has shape [${t.shape}], config.json needs [${shape}]`);
    else if (!(t.data instanceof Float32Array)) problems.push(`tensor "${name}" is ${t.dtype}, not a floating-point type`);
    else out.set(name, t.data);
  }
  if (problems.length) {
    const more = problems.length > 3 ? `; and ${problems.length - 3} more` : '';
    throw new Error(`${url} does not match ${configUrl}: ${problems.slice(0, 3).join('; ')}${more}`);
  }
  return out;
}

export interface Checkpoint {
  cfg: ModelConfig;
  weights: Map<string, Float32Array>;
  summary: CheckpointSummary;
}

/** Download and check a checkpoint folder: config.json, then model.safetensors with progress. */
export async function loadCheckpoint(base: string, opts: DownloadOptions = {}): Promise<Checkpoint> {
  const cfg = await fetchModelConfig(base, opts.fetch);
  const configUrl = `${folder(base)}/config.json`, url = `${folder(base)}/model.safetensors`;
  const bytes = await download(url, opts);
  let file: SafeFile;
  try {
    file = parseSafetensors(bytes, url);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`${url} is not a valid safetensors file: ${msg.startsWith(`${url}: `) ? msg.slice(url.length + 2) : msg}`);
  }
  const weights = weightsFor(file, cfg, url, configUrl);
  return { cfg, weights, summary: { base, cfg, parameters: paramCount(cfg), bytes: bytes.byteLength, sha256Checked: opts.expect?.sha256 !== undefined } };
}

/** Loaded checkpoints of this session, by folder. Concurrent loads of one folder share one download. */
export class CheckpointCache {
  private readonly entries = new Map<string, { key: string; promise: Promise<Checkpoint> }>();

  constructor(
    private readonly onProgress: (base: string, file: string, p: Progress) => void = () => {},
    private readonly fetchFn?: typeof fetch,
  ) {}

  /** The checkpoint at `base`; a cached one is reused unless `expect` asks for checks it was not loaded with. */
  load(base: string, expect?: ModelExpect): Promise<Checkpoint> {
    const key = JSON.stringify(expect ?? {});
    const hit = this.entries.get(base);
    if (hit && (expect === undefined || hit.key === key)) return hit.promise;
    const file = `${folder(base)}/model.safetensors`;
    const promise = loadCheckpoint(base, { expect, fetch: this.fetchFn, onProgress: (p) => this.onProgress(base, file, p) });
    this.entries.set(base, { key, promise });
    promise.catch(() => {
      if (this.entries.get(base)?.promise === promise) this.entries.delete(base);
    });
    return promise;
  }
}

/** The model's config and weights, checked against the character tokenizer and the run's lengths. */
export async function loadModel(source: ModelSource, cfg: RLConfig, cache: CheckpointCache): Promise<{ cfg: ModelConfig; weights: Map<string, Float32Array> }> {
  if (source.kind === 'random') {
    const mc = randomModelConfig(source.size, cfg);
    return { cfg: mc, weights: randomWeights(mc, RANDOM_MODEL_SEED) };
  }
  const err = checkModelBase(source.base);
  if (err) throw new Error(err);
  const { cfg: mc, weights } = await cache.load(source.base);
  if (mc.vocabSize < charTokenizer.vocabSize) throw new Error(`model: its vocabulary (${mc.vocabSize}) is smaller than the tokenizer's (${charTokenizer.vocabSize})`);
  const need = positionsFor(cfg);
  if (need > mc.maxPositions) throw new Error(`maxNewTokens: prompt + completion need ${need} positions, the model has ${mc.maxPositions}`);
  return { cfg: mc, weights };
}
