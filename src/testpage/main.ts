// tests.html: run the engine checks on WebGPU in a real browser and publish the outcome on
// window.__results (and as JSON in <pre id="results">) for Playwright. No adapter is a failure,
// never a skip: the results then say done, not ok, and why.
import { createGpu, describeGpu, GpuError } from '../engine/webgpu/device.ts';
import { WebGpuBackend } from '../engine/webgpu/backend.ts';
import { shaders } from '../engine/webgpu/shaders.vite.ts';
import { FIXTURES, runModelChecks } from './checks.ts';
import type { TestPageResults } from './results.ts';

const statusEl = document.getElementById('status') as HTMLElement;
const preEl = document.getElementById('results') as HTMLElement;

function publish(r: TestPageResults, status: string): void {
  window.__results = r;
  statusEl.textContent = status;
  preEl.textContent = JSON.stringify(r, null, 1);
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const wanted = new URLSearchParams(location.search).get('fixtures');
  const fixtures = wanted ? wanted.split(',').filter(Boolean) : [...FIXTURES];
  const r: TestPageResults = { done: false, ok: false, adapter: null, error: null, errorKind: null, fixtures, rows: [], seconds: 0 };
  const seconds = () => Math.round((performance.now() - t0) / 100) / 10;
  publish(r, 'Looking for a WebGPU adapter…');
  try {
    const gpu = await createGpu();
    r.adapter = describeGpu(gpu.info);
    gpu.device.lost.then((info) => {
      if (!r.done) publish({ ...r, done: true, ok: false, error: `device lost: ${info.reason} ${info.message}`, errorKind: 'device-lost', seconds: seconds() }, 'Device lost.');
    });
    const backend = new WebGpuBackend(gpu, shaders);
    r.rows = await runModelChecks(backend, (p) => {
      publish({ ...r, rows: p.rows, seconds: seconds() }, p.model ? `Checking ${p.model}… (${p.rows.length} rows so far)` : 'Finishing…');
    }, fixtures);
    r.ok = r.rows.length > 0 && r.rows.every((row) => row.ok);
  } catch (e) {
    r.error = e instanceof Error ? e.message : String(e);
    r.errorKind = e instanceof GpuError ? e.kind : 'exception';
  }
  r.done = true;
  r.seconds = seconds();
  const failed = r.rows.filter((row) => !row.ok).length;
  publish(r, r.error ? `Failed: ${r.error}`
    : `Done in ${r.seconds} s: ${r.rows.length - failed} of ${r.rows.length} checks passed${failed ? `, ${failed} failed` : ''}.`);
}

void main();
