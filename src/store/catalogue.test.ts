// The model catalogue: what parseCatalogue accepts and the messages it gives, and the shipped
// public/models/index.json against the files it lists (size, SHA-256, parameters, loadable).
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { paramCount, parseHfConfig } from '../model/config.ts';
import { loadCheckpoint } from '../worker/model-loader.ts';
import { defaultEntry, entryFor, fetchCatalogue, parseCatalogue } from './catalogue.ts';

const entry = (over: Record<string, unknown> = {}) => ({
  name: 'm', path: '/models/m', description: 'a model', parameters: 10, task: 'arith', bytes: 100, ...over,
});

describe('parseCatalogue', () => {
  it('reads entries; the default is the first one marked default', () => {
    const c = parseCatalogue({ models: [entry({ name: 'a', path: '/models/a' }), entry({ name: 'b', path: '/models/b', default: true, sha256: 'a'.repeat(64) }), entry({ name: 'c', path: '/models/c', default: true })] });
    expect(c.models.map((m) => m.name)).toEqual(['a', 'b', 'c']);
    expect(c.models[0].default).toBe(false);
    expect(c.models[0].sha256).toBeUndefined();
    expect(defaultEntry(c)?.name).toBe('b');
    expect(entryFor(c, '/models/c')?.name).toBe('c');
    expect(entryFor(c, '/models/x')).toBeNull();
    expect(defaultEntry(parseCatalogue({ models: [entry()] }))).toBeNull();
  });

  it('names the entry and field of every problem', () => {
    const bad = () => parseCatalogue({
      models: [
        entry({ parameters: -1, sha256: 'xyz', task: 'nope', default: 'yes' }),
        entry({ path: 'https://evil.example/m', extra: 1 }),
        'not an object',
        entry({ bytes: 1.5 }),
      ],
    });
    expect(bad).toThrow(/^\/models\/index\.json is not a valid model catalogue: /);
    const msg = (() => { try { bad(); return ''; } catch (e) { return (e as Error).message; } })();
    expect(msg).toContain('models[0].parameters must be a positive integer, got -1');
    expect(msg).toContain('models[0].sha256 must be 64 lowercase hex digits, got "xyz"');
    expect(msg).toContain('models[0].task: unknown task "nope"');
    expect(msg).toContain('models[0].default must be true or false, got "yes"');
    expect(msg).toContain('models[1].path: the checkpoint path must be a path on this site');
    expect(msg).toContain('models[1] has an unknown field "extra"');
    expect(msg).toContain('models[1].name "m" is listed twice');
    expect(msg).toContain('models[2] is not an object');
    expect(msg).toContain('models[3].bytes must be a positive integer, got 1.5');
    expect(msg).toContain('models[3].path "/models/m" is listed twice');
  });

  it('reads an entry\'s RL settings and names a wrong one', () => {
    const c = parseCatalogue({ models: [entry({ settings: { 'peft.method': 'lora', 'peft.r': 8, lr: 0.002, 'peft.targets': ['q_proj', 'v_proj'] } })] });
    expect(c.models[0].settings).toEqual({ 'peft.method': 'lora', 'peft.r': 8, lr: 0.002, 'peft.targets': ['q_proj', 'v_proj'] });
    const msg = (settings: unknown) => { try { parseCatalogue({ models: [entry({ settings })] }); return ''; } catch (e) { return (e as Error).message; } };
    expect(msg({ 'peft.method': 'lora9' })).toContain('models[0].settings["peft.method"]: unknown method "lora9"');
    expect(msg({ learningRate: 1 })).toContain('models[0].settings: unknown setting "learningRate"');
    expect(msg({ lr: '0.1' })).toContain('models[0].settings["lr"] must be a number, got "0.1"');
    expect(msg({ groupSize: 1 })).toMatch(/models\[0\]\.settings: groupSize: /);
    expect(msg([1])).toContain('models[0].settings must be an object');
  });

  it('refuses a file without a models array', () => {
    expect(() => parseCatalogue([])).toThrow('/models/index.json: expected an object with a "models" array');
    expect(() => parseCatalogue({ model: [] })).toThrow(/"models" array/);
  });

  it('fetchCatalogue reports a missing file and a dev server\'s HTML fallback', async () => {
    await expect(fetchCatalogue(async () => new Response('no', { status: 404 }))).rejects.toThrow('/models/index.json was not found (HTTP 404)');
    await expect(fetchCatalogue(async () => new Response('<!doctype html>', { headers: { 'content-type': 'text/html' } }))).rejects.toThrow(/sent a web page/);
    await expect(fetchCatalogue(async () => new Response('{"models": ['))).rejects.toThrow(/is not valid JSON/);
    await expect(fetchCatalogue(async () => { throw new TypeError('Failed to fetch'); })).rejects.toThrow('/models/index.json could not be fetched: Failed to fetch');
  });
});

describe('the shipped catalogue (public/models/index.json)', () => {
  const catalogue = parseCatalogue(JSON.parse(readFileSync('public/models/index.json', 'utf8')));
  const file = (p: string) => readFileSync(`public${p}`);

  it('has a default model', () => {
    expect(defaultEntry(catalogue)).not.toBeNull();
  });

  for (const m of catalogue.models) {
    it(`${m.name}: size, SHA-256 and parameter count match its files, and it loads`, async () => {
      const bytes = file(`${m.path}/model.safetensors`);
      expect(bytes.byteLength).toBe(m.bytes);
      if (m.sha256) expect(createHash('sha256').update(bytes).digest('hex')).toBe(m.sha256);
      expect(paramCount(parseHfConfig(JSON.parse(file(`${m.path}/config.json`).toString('utf8'))))).toBe(m.parameters);
      const fetchFn = async (url: string | URL | Request) => new Response(file(String(url)));
      const ck = await loadCheckpoint(m.path, { expect: { bytes: m.bytes, sha256: m.sha256 }, fetch: fetchFn as typeof fetch });
      expect(ck.summary).toMatchObject({ base: m.path, parameters: m.parameters, bytes: m.bytes, sha256Checked: m.sha256 !== undefined });
    });
  }
});
