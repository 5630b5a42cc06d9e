// Downloading a checkpoint folder with a mocked fetch: progress from a streamed body, and a clear
// message naming the file for each way it can go wrong (missing, HTML fallback, network failure
// mid-download, truncated, wrong hash, corrupt safetensors header, tensors that do not fit
// config.json); the session cache reuses a good load and forgets a failed one.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { paramCount, paramShapes, toHfConfig, type ModelConfig } from '../model/config.ts';
import { randomWeights } from '../model/init.ts';
import { writeSafetensors } from '../model/safetensors.ts';
import { defaultConfig } from '../rl/config.ts';
import { download, type Progress } from './download.ts';
import { CheckpointCache, loadCheckpoint, loadModel } from './model-loader.ts';

const cfg: ModelConfig = {
  family: 'qwen2', vocabSize: 99, hidden: 8, intermediate: 16, layers: 1, heads: 2, kvHeads: 1, headDim: 4, ropeTheta: 10000, rmsEps: 1e-6,
  tieEmbeddings: true, qkvBias: true, oBias: false, mlpBias: false, maxPositions: 64, bosTokenId: 1, eosTokenId: 2,
};
const weights = randomWeights(cfg, 1);
const modelBytes = writeSafetensors(Object.fromEntries([...paramShapes(cfg)].map(([name, shape]) => [name, { shape, data: weights.get(name) as Float32Array }])));
const sha = createHash('sha256').update(modelBytes).digest('hex');
const BASE = '/models/t';
const FILE = `${BASE}/model.safetensors`;

/** A body that yields `bytes` in chunks of `chunk`, then fails with `failAfter` bytes sent if given. */
function stream(bytes: Uint8Array, chunk: number, failAfter?: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (failAfter !== undefined && at >= failAfter) return c.error(new TypeError('network error'));
      if (at >= bytes.byteLength) return c.close();
      c.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

interface Serve {
  model?: Uint8Array;
  config?: unknown;
  length?: number | null;
  failAfter?: number;
  status?: number;
  html?: boolean;
}

/** A fetch for one checkpoint folder; counts the model downloads. */
function server(s: Serve = {}) {
  let downloads = 0;
  const fetchFn = async (input: string | URL | Request): Promise<Response> => {
    const url = String(input);
    if (s.html) return new Response('<!doctype html><title>Lab</title>', { headers: { 'content-type': 'text/html' } });
    if (url === `${BASE}/config.json`) return new Response(JSON.stringify(s.config ?? toHfConfig(cfg)), { headers: { 'content-type': 'application/json' } });
    if (url !== FILE) return new Response('missing', { status: 404 });
    if (s.status) return new Response('nope', { status: s.status });
    downloads++;
    const body = s.model ?? modelBytes;
    const length = s.length === undefined ? body.byteLength : s.length;
    return new Response(stream(body, 1000, s.failAfter), { headers: length === null ? {} : { 'content-length': String(length) } });
  };
  return { fetch: fetchFn as typeof fetch, downloads: () => downloads };
}

describe('download', () => {
  it('streams the file, reporting bytes received against Content-Length', async () => {
    const seen: Progress[] = [];
    const got = await download(FILE, { fetch: server().fetch, onProgress: (p) => seen.push(p) });
    expect(got).toEqual(modelBytes);
    expect(seen[0]).toEqual({ received: 0, total: modelBytes.byteLength });
    expect(seen.at(-1)).toEqual({ received: modelBytes.byteLength, total: modelBytes.byteLength });
    expect(seen.length).toBe(Math.ceil(modelBytes.byteLength / 1000) + 1);
    expect(seen.every((p, i) => i === 0 || p.received > seen[i - 1].received)).toBe(true);
  });

  it('uses the catalogue\'s size when the server sends no Content-Length', async () => {
    const seen: Progress[] = [];
    await download(FILE, { fetch: server({ length: null }).fetch, expect: { bytes: modelBytes.byteLength }, onProgress: (p) => seen.push(p) });
    expect(seen.at(-1)).toEqual({ received: modelBytes.byteLength, total: modelBytes.byteLength });
    const unknown: Progress[] = [];
    await download(FILE, { fetch: server({ length: null }).fetch, onProgress: (p) => unknown.push(p) });
    expect(unknown.at(-1)).toEqual({ received: modelBytes.byteLength, total: null });
  });

  it('a missing file, an HTML fallback and a server error are named', async () => {
    await expect(download('/models/x/model.safetensors', { fetch: server().fetch })).rejects.toThrow('/models/x/model.safetensors was not found (HTTP 404)');
    await expect(download(FILE, { fetch: server({ html: true }).fetch })).rejects.toThrow(`${FILE} was not found (the server sent a web page instead`);
    await expect(download(FILE, { fetch: server({ status: 500 }).fetch })).rejects.toThrow(`${FILE} could not be downloaded: the server answered HTTP 500`);
    const offline = (async () => { throw new TypeError('Failed to fetch'); }) as typeof fetch;
    await expect(download(FILE, { fetch: offline })).rejects.toThrow(`${FILE} could not be downloaded: the network request failed (Failed to fetch)`);
  });

  it('a connection that fails mid-download says how far it got', async () => {
    const total = modelBytes.byteLength;
    await expect(download(FILE, { fetch: server({ failAfter: 2000 }).fetch })).rejects.toThrow(
      `${FILE} could not be downloaded: the connection failed after 0.00 MB of ${(total / 1e6).toFixed(2)} MB (network error)`);
  });

  it('a truncated file, an oversized one and a size that disagrees with the catalogue fail', async () => {
    const cut = modelBytes.slice(0, 1500);
    await expect(download(FILE, { fetch: server({ model: cut, length: null }).fetch, expect: { bytes: modelBytes.byteLength } }))
      .rejects.toThrow(`${FILE} is truncated: 1500 of ${modelBytes.byteLength} bytes arrived`);
    // The server promised the full length but the body ended early.
    await expect(download(FILE, { fetch: server({ model: cut, length: modelBytes.byteLength }).fetch })).rejects.toThrow(/is truncated: 1500 of/);
    await expect(download(FILE, { fetch: server({ length: null }).fetch, expect: { bytes: 1000 } })).rejects.toThrow(`${FILE} is larger than expected: more than 1000 bytes arrived`);
    await expect(download(FILE, { fetch: server().fetch, expect: { bytes: 1000 } }))
      .rejects.toThrow(`${FILE} has the wrong size: the server sends ${modelBytes.byteLength} bytes, the model catalogue lists 1000`);
  });

  it('checks the SHA-256 when the catalogue gives it', async () => {
    await expect(download(FILE, { fetch: server().fetch, expect: { sha256: sha } })).resolves.toEqual(modelBytes);
    const flipped = modelBytes.slice();
    flipped[flipped.length - 1] ^= 1;
    await expect(download(FILE, { fetch: server({ model: flipped }).fetch, expect: { sha256: sha } }))
      .rejects.toThrow(`${FILE} is corrupt: its SHA-256 is ${createHash('sha256').update(flipped).digest('hex').slice(0, 12)}…, the model catalogue lists ${sha.slice(0, 12)}…`);
  });
});

describe('loadCheckpoint', () => {
  it('loads config and weights that fit each other', async () => {
    const ck = await loadCheckpoint(BASE, { fetch: server().fetch, expect: { bytes: modelBytes.byteLength, sha256: sha } });
    expect(ck.cfg).toEqual(cfg);
    expect(ck.weights.get('model.layers.0.mlp.up_proj.weight')).toEqual(weights.get('model.layers.0.mlp.up_proj.weight'));
    expect(ck.summary).toEqual({ base: BASE, cfg, parameters: paramCount(cfg), bytes: modelBytes.byteLength, sha256Checked: true });
  });

  it('a missing config.json is named', async () => {
    await expect(loadCheckpoint('/models/none', { fetch: server().fetch })).rejects.toThrow('/models/none/config.json was not found (HTTP 404)');
  });

  it('a corrupt safetensors header is named', async () => {
    const garbage = modelBytes.slice();
    garbage[10] = 0xff; // inside the JSON header: not UTF-8
    await expect(loadCheckpoint(BASE, { fetch: server({ model: garbage }).fetch })).rejects.toThrow(`${FILE} is not a valid safetensors file: header is not valid UTF-8 JSON`);
    const huge = modelBytes.slice();
    new DataView(huge.buffer).setUint32(0, 1e9, true);
    await expect(loadCheckpoint(BASE, { fetch: server({ model: huge }).fetch })).rejects.toThrow(`${FILE} is not a valid safetensors file: header length 1000000000 runs past the end of the file`);
  });

  it('tensors that do not fit config.json are named, with both shapes', async () => {
    const wider = { ...toHfConfig(cfg), intermediate_size: 32 };
    await expect(loadCheckpoint(BASE, { fetch: server({ config: wider }).fetch })).rejects.toThrow(
      `${FILE} does not match ${BASE}/config.json: tensor "model.layers.0.mlp.gate_proj.weight" has shape [16,8], config.json needs [32,8]`);
    const deeper = { ...toHfConfig(cfg), num_hidden_layers: 2 };
    await expect(loadCheckpoint(BASE, { fetch: server({ config: deeper }).fetch })).rejects.toThrow(/tensor "model\.layers\.1\.input_layernorm\.weight" is missing;.*and \d+ more$/);
  });
});

describe('CheckpointCache', () => {
  it('downloads once per session, shares a download in flight, and posts progress by folder', async () => {
    const srv = server();
    const events: [string, string, Progress][] = [];
    const cache = new CheckpointCache((base, file, p) => events.push([base, file, p]), srv.fetch);
    const [a, b] = await Promise.all([cache.load(BASE), cache.load(BASE)]);
    expect(a).toBe(b);
    expect(await cache.load(BASE)).toBe(a);
    expect(srv.downloads()).toBe(1);
    expect(events.at(-1)).toEqual([BASE, FILE, { received: modelBytes.byteLength, total: modelBytes.byteLength }]);
    // A request that asks for a hash check the cached copy was not loaded with downloads again.
    await cache.load(BASE, { sha256: sha });
    expect(srv.downloads()).toBe(2);
  });

  it('forgets a failed load, so a retry downloads again', async () => {
    let broken = true;
    const good = server(), bad = server({ model: modelBytes.slice(0, 100), length: null });
    const cache = new CheckpointCache(undefined, ((u: string) => (broken ? bad.fetch(u) : good.fetch(u))) as typeof fetch);
    await expect(cache.load(BASE, { bytes: modelBytes.byteLength })).rejects.toThrow(/is truncated/);
    broken = false;
    await expect(cache.load(BASE, { bytes: modelBytes.byteLength })).resolves.toMatchObject({ cfg });
    expect(good.downloads()).toBe(1);
  });

  it('loadModel checks the checkpoint against the run: vocabulary and context length', async () => {
    const cache = new CheckpointCache(undefined, server().fetch);
    const run = { ...defaultConfig('full'), task: 'arith', maxNewTokens: 20 };
    await expect(loadModel({ kind: 'url', base: BASE }, run, cache)).resolves.toMatchObject({ cfg });
    await expect(loadModel({ kind: 'url', base: BASE }, { ...run, maxNewTokens: 60 }, cache)).rejects.toThrow(/maxNewTokens: prompt \+ completion need \d+ positions, the model has 64/);
    await expect(loadModel({ kind: 'url', base: 'https://evil.example/m' }, run, cache)).rejects.toThrow(/must be a path on this site/);
  });
});
