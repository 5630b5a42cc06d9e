import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [react()],
  server: { host: '127.0.0.1' },
  // Two pages: the lab (index.html) and the in-browser engine checks Playwright reads (tests.html).
  build: {
    rolldownOptions: {
      input: { main: 'index.html', tests: 'tests.html' },
    },
  },
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
