// tests.html: run the engine checks on WebGPU in a real browser and publish the outcome on
// window.__results (and as JSON in <pre id="results">) for Playwright. Two suites:
//   parity   the whole model against the HF reference fixtures (runParity), one row per tensor;
//   kernels  the GPU kernel tests (src/engine/webgpu/**/*.test.ts, written for vitest) run here on
//            the page's WebGPU through a small vitest-compatible runner (see vite.config.ts).
// ?suite=parity|kernels picks one (default: both); ?fixtures=a,b limits the parity fixtures.
// No adapter is a failure, never a skip: the results then say done, not ok, and why.
import { createGpu, describeGpu, GpuError } from '../engine/webgpu/device.ts';
import { WebGpuBackend } from '../engine/webgpu/backend.ts';
import { shaders } from '../engine/webgpu/shaders.vite.ts';
import { FIXTURES, runModelChecks } from './checks.ts';
import type { Suite, TestPageResults } from './results.ts';
import { runTestFile } from './vitest-shim.ts';

// Lazy: each file is imported (and its tests collected) only when its turn comes.
const KERNEL_TESTS = import.meta.glob('/src/engine/webgpu/**/*.test.ts');

const statusEl = document.getElementById('status') as HTMLElement;
const preEl = document.getElementById('results') as HTMLElement;

/** JSON with one line per row, so the page stays readable. */
function render(r: TestPageResults): string {
  const { rows, kernels, ...head } = r;
  const list = (xs: unknown[]) => (xs.length ? `[\n  ${xs.map((x) => JSON.stringify(x)).join(',\n  ')}\n ]` : '[]');
  const top = JSON.stringify(head, null, 1).slice(0, -2);
  return `${top},\n "rows": ${list(rows)},\n "kernels": ${list(kernels)}\n}`;
}

function publish(r: TestPageResults, status: string): void {
  window.__results = structuredClone(r);
  statusEl.textContent = status;
  preEl.textContent = render(r);
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const q = new URLSearchParams(location.search);
  const suiteParam = q.get('suite') ?? 'all';
  const suites: Suite[] = suiteParam === 'parity' || suiteParam === 'kernels' ? [suiteParam] : ['parity', 'kernels'];
  const fixtures = q.get('fixtures')?.split(',').filter(Boolean) ?? [...FIXTURES];
  const r: TestPageResults = {
    done: false, ok: false, suites, adapter: null, error: null, errorKind: null, fixtures, rows: [], kernels: [], seconds: 0,
  };
  const seconds = () => Math.round((performance.now() - t0) / 100) / 10;
  publish(r, 'Looking for a WebGPU adapter…');
  try {
    const gpu = await createGpu();
    r.adapter = describeGpu(gpu.info);
    void gpu.device.lost.then((info) => {
      if (!r.done) {
        r.error ??= `device lost: ${info.reason} ${info.message}`;
        r.errorKind ??= 'device-lost';
      }
    });

    if (suites.includes('parity')) {
      const backend = new WebGpuBackend(gpu, shaders);
      r.rows = await runModelChecks(backend, (p) => {
        r.rows = p.rows;
        r.seconds = seconds();
        publish(r, p.model ? `Parity: checking ${p.model}… (${p.rows.length} rows so far)` : 'Parity done.');
      }, fixtures);
    }

    if (suites.includes('kernels')) {
      const files = Object.keys(KERNEL_TESTS).sort();
      for (const [i, file] of files.entries()) {
        publish(r, `Kernel tests: ${file} (${i + 1} of ${files.length}), ${r.kernels.length} tests so far…`);
        await runTestFile(file, KERNEL_TESTS[file], (t) => { r.kernels.push(t); });
        r.seconds = seconds();
      }
    }

    const parityOk = !suites.includes('parity') || (r.rows.length > 0 && r.rows.every((row) => row.ok));
    const kernelsOk = !suites.includes('kernels') || (r.kernels.length > 0 && r.kernels.every((t) => t.state !== 'fail'));
    r.ok = r.error === null && parityOk && kernelsOk;
  } catch (e) {
    r.error = e instanceof Error ? e.message : String(e);
    r.errorKind = e instanceof GpuError ? e.kind : 'exception';
  }
  r.done = true;
  r.seconds = seconds();
  const failedRows = r.rows.filter((row) => !row.ok).length;
  const failedTests = r.kernels.filter((t) => t.state === 'fail').length;
  const parts = [
    suites.includes('parity') ? `parity ${r.rows.length - failedRows} of ${r.rows.length} rows ok` : '',
    suites.includes('kernels') ? `kernel tests ${r.kernels.length - failedTests} of ${r.kernels.length} ok` : '',
  ].filter(Boolean).join('; ');
  publish(r, r.error ? `Failed: ${r.error}` : `${r.ok ? 'All passed' : 'FAILED'} in ${r.seconds} s: ${parts}.`);
}

void main();
