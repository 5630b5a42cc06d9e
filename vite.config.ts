import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** tests.html also runs the GPU kernel tests (written for vitest on Dawn-node) in the browser: for
 * *.test.ts files only, `vitest` becomes a small browser runner with vitest's own expect, and
 * src/engine/webgpu/testing.ts its twin on navigator.gpu. Inactive under vitest itself. */
function browserKernelTests(): Plugin {
  const shim = here('src/testpage/vitest-shim.ts');
  const nodeTesting = here('src/engine/webgpu/testing.ts');
  const browserTesting = here('src/testpage/testing.browser.ts');
  return {
    name: 'rlvr:browser-kernel-tests',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (process.env.VITEST || !importer || !importer.split('?')[0].endsWith('.test.ts')) return null;
      if (source === 'vitest') return shim;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      return resolved?.id === nodeTesting ? browserTesting : null;
    },
  };
}

/** Cross-origin isolation: SharedArrayBuffer, and so the CPU backend's worker threads, exist only on
 * an isolated page. Everything the lab loads is same-origin, so nothing breaks under require-corp. */
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  plugins: [react(), browserKernelTests()],
  preview: { headers: isolation },
  server: {
    headers: isolation,
    host: '127.0.0.1',
    // Playwright's server (RLVR_E2E=1) turns HMR off: an edit during a long e2e run must not reload
    // the page under the test.
    ...(process.env.RLVR_E2E ? { hmr: false } : {}),
  },
  // Two pages: the lab (index.html) and the in-browser engine checks Playwright reads (tests.html).
  build: {
    rolldownOptions: {
      input: { main: 'index.html', tests: 'tests.html', bench: 'bench.html' },
    },
  },
  // The training worker (src/worker/lab.worker.ts) loads the engine with dynamic imports: ES module workers.
  worker: { format: 'es' },
  // Pre-bundled up front, so the first visit to tests.html (or the lab's charts and run store) does not
  // trigger a re-optimise reload.
  optimizeDeps: { include: ['@vitest/expect', 'uplot', 'idb'] },
  test: {
    include: ['src/**/*.test.ts'],
    // GPU tests run on SwiftShader, which is slow: allow time, never skip.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // One Dawn instance per process is cheaper and avoids contention on 2 cores.
    pool: 'forks',
    fileParallelism: false,
  },
});
