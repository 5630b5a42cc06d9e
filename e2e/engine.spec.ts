// The engine in a real browser, on Chromium's WebGPU (SwiftShader on CPU-only machines): tests.html
// runs the checks and publishes window.__results. Two suites, one test each:
//   parity   the whole model against the HF reference fixtures, one row per tensor;
//   kernels  the GPU kernel tests (src/engine/webgpu/**/*.test.ts) run in the page.
// No adapter fails the test: it never skips.
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import type { TestPageResults } from '../src/testpage/results.ts';

const FIXTURES = ['hf-qwen2-tiny', 'hf-llama-tiny'];

async function run(page: Page, testInfo: TestInfo, suite: 'parity' | 'kernels'): Promise<TestPageResults> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`/tests.html?suite=${suite}`);
  await page.waitForFunction(() => window.__results?.done === true, undefined, { timeout: testInfo.timeout - 30_000, polling: 1000 });
  const r = (await page.evaluate(() => window.__results)) as TestPageResults;
  await testInfo.attach(`${suite}.json`, { body: JSON.stringify(r, null, 1), contentType: 'application/json' });
  console.log(`[${suite}] adapter: ${r.adapter}`);
  expect(r.error, `the page could not run the checks (${r.errorKind}); page errors: ${errors.join(' | ')}`).toBeNull();
  expect(r.adapter, 'no WebGPU adapter').toBeTruthy();
  return r;
}

test('model parity on WebGPU in the browser: every row ok, for both fixtures', async ({ page }, testInfo) => {
  const r = await run(page, testInfo, 'parity');
  console.log(r.rows.map((x) => `${x.ok ? 'ok  ' : 'FAIL'} ${x.model.padEnd(14)} ${x.name.padEnd(52)} ${x.relErr.toExponential(2).padStart(9)}  tol ${x.tol.toExponential(0)}`).join('\n'));
  console.log(`${r.rows.length} rows in ${r.seconds} s`);
  for (const model of FIXTURES) {
    expect(r.rows.filter((x) => x.model === model).length, `rows for ${model}`).toBeGreaterThan(0);
  }
  const failed = r.rows.filter((x) => !x.ok);
  expect(failed, `failing rows:\n${failed.map((x) => `${x.model} ${x.name}: ${x.relErr} > ${x.tol}`).join('\n')}`).toEqual([]);
  expect(r.ok).toBe(true);
});

test('GPU kernel tests pass on WebGPU in the browser', async ({ page }, testInfo) => {
  const r = await run(page, testInfo, 'kernels');
  const count = (s: string) => r.kernels.filter((t) => t.state === s).length;
  const files = [...new Set(r.kernels.map((t) => t.file))];
  console.log(`${r.kernels.length} kernel tests from ${files.length} files in ${r.seconds} s: ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped`);
  expect(r.kernels.length, 'no kernel tests ran').toBeGreaterThan(0);
  const failed = r.kernels.filter((t) => t.state === 'fail');
  expect(failed, `failing kernel tests:\n${failed.map((t) => `${t.file} › ${t.name}: ${t.error}`).join('\n')}`).toEqual([]);
  expect(r.ok).toBe(true);
});
