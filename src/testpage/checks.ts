// The in-browser engine checks, shared by tests.html (read by Playwright) and the lab page's
// "Check engine" button: fetch each reference fixture (HF transformers golden tensors, served by
// the Vite dev server from tests/fixtures/) and compare the engine against it with runParity.
import type { Backend } from '../engine/backend.ts';
import { runParity, type ParityFiles, type ParityRow } from '../model/parity.ts';

export type { ParityRow };

/** The reference folders every backend must match (copies of ../shared/reference/<name>). */
export const FIXTURES = ['hf-qwen2-tiny', 'hf-llama-tiny'] as const;

/** Where the fixtures are served from: the project root in `vite` dev, so tests/fixtures/. */
export const FIXTURE_BASE = '/tests/fixtures';

async function get(url: string, optional: boolean): Promise<Response | null> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`could not fetch ${url}: ${String(e)}`);
  }
  // Vite's dev server answers a missing file with index.html and status 200 (SPA fallback): none of
  // our fixture files is HTML, so an HTML answer means "not there".
  const missing = res.status === 404 || (res.ok && (res.headers.get('content-type') ?? '').includes('text/html'));
  if (res.ok && !missing) return res;
  if (optional && missing) return null;
  throw new Error(missing
    ? `${url} was not found (the fixtures are served by the dev server from tests/fixtures/: run \`npm start\`)`
    : `fetching ${url} gave HTTP ${res.status}`);
}

async function getJson(url: string, optional: boolean): Promise<unknown> {
  const res = await get(url, optional);
  if (!res) return undefined;
  const text = await res.text();
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(`${url} is not valid JSON: ${String(e)}`);
  }
}

async function getBytes(url: string, optional: boolean): Promise<ArrayBuffer | undefined> {
  const res = await get(url, optional);
  return res ? res.arrayBuffer() : undefined;
}

/** Fetch one reference folder. config, model and golden_base are required; the PEFT goldens and
 * the manifest are passed along when present. */
export async function loadFixture(name: string, base = FIXTURE_BASE): Promise<ParityFiles> {
  const dir = `${base}/${name}`;
  const [config, model, goldenBase, goldenPeft, manifest] = await Promise.all([
    getJson(`${dir}/config.json`, false),
    getBytes(`${dir}/model.safetensors`, false),
    getBytes(`${dir}/golden_base.safetensors`, false),
    getBytes(`${dir}/golden_peft.safetensors`, true),
    getJson(`${dir}/golden_manifest.json`, true),
  ]);
  const files: ParityFiles = { config, model: model as ArrayBuffer, goldenBase: goldenBase as ArrayBuffer };
  if (goldenPeft) files.goldenPeft = goldenPeft;
  if (manifest !== undefined) files.manifest = manifest;
  return files;
}

export interface CheckProgress {
  /** The fixture being checked now, or null when all are done. */
  model: string | null;
  /** Its place in the list (0-based) and the list's length. */
  index: number;
  total: number;
  /** Every row so far, in order. */
  rows: ParityRow[];
}

/** Run the parity check of `backend` on every fixture, one after another, reporting rows as each
 * fixture finishes. A fixture that throws becomes one failing row (name "error") and the other
 * fixtures still run, so one broken model never hides the state of the rest. */
export async function runModelChecks(
  backend: Backend,
  onProgress: (p: CheckProgress) => void = () => {},
  fixtures: readonly string[] = FIXTURES,
): Promise<ParityRow[]> {
  const rows: ParityRow[] = [];
  for (const [index, model] of fixtures.entries()) {
    onProgress({ model, index, total: fixtures.length, rows: [...rows] });
    try {
      const files = await loadFixture(model);
      rows.push(...(await runParity(backend, files, model)));
    } catch (e) {
      rows.push({ backend: backend.name, model, name: `error: ${e instanceof Error ? e.message : String(e)}`, relErr: NaN, tol: 0, ok: false });
    }
  }
  onProgress({ model: null, index: fixtures.length, total: fixtures.length, rows: [...rows] });
  return rows;
}
