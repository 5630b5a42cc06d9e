// End-to-end tests in real headless Chromium with WebGPU. On CPU-only machines Chromium's WebGPU
// runs on SwiftShader (a software Vulkan), which is slow: timeouts are generous and tests run one
// at a time. Debian's chromium (apt-get install chromium) is used because `npx playwright install`
// cannot download browsers here; CHROMIUM_PATH points elsewhere if needed.
import { defineConfig } from '@playwright/test';

const PORT = Number(process.env.E2E_PORT ?? 5187);
const BASE_URL = `http://127.0.0.1:${PORT}`;

/** Measured 2026-11-28 (Chromium 156, Debian 12, headless, as root): `--enable-unsafe-webgpu` is the
 * one flag WebGPU needs (without it requestAdapter() returns null), and as root Chromium only starts
 * without its sandbox (Playwright passes --no-sandbox unless chromiumSandbox is set; we say it
 * anyway). The rest pin SwiftShader for GL/ANGLE, keep the GPU process unsandboxed in containers,
 * and stop background traffic; each was checked to keep the adapter. */
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--use-angle=swiftshader',
  '--enable-features=Vulkan',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export default defineConfig({
  testDir: 'e2e',
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0, // a flaky test is a bug to find, not a retry to add
  // The parity check of two tiny models on SwiftShader takes a while; allow a lot.
  timeout: 15 * 60_000,
  expect: { timeout: 30_000 },
  reporter: process.env.CI ? [['list'], ['html', { open: 'never' }]] : 'list',
  use: {
    baseURL: BASE_URL,
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1100, height: 900 },
    actionTimeout: 30_000,
    navigationTimeout: 60_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    },
  },
  webServer: {
    command: `npx vite --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: BASE_URL,
    env: { RLVR_E2E: '1' },
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
