// The engine in a real browser: tests.html runs the model parity checks against the HF reference
// fixtures on Chromium's WebGPU (SwiftShader on CPU-only machines) and publishes window.__results.
// No adapter fails the test: it never skips.
import { expect, test } from '@playwright/test';
import type { TestPageResults } from '../src/testpage/results.ts';

const FIXTURES = ['hf-qwen2-tiny', 'hf-llama-tiny'];

function table(r: TestPageResults): string {
  return r.rows
    .map((x) => `${x.ok ? 'ok  ' : 'FAIL'} ${x.backend.padEnd(7)} ${x.model.padEnd(14)} ${x.name.padEnd(48)} ${x.relErr.toExponential(2).padStart(9)} tol ${x.tol.toExponential(0)}`)
    .join('\n');
}

test('model parity on WebGPU in the browser: every row ok, for both fixtures', async ({ page }, testInfo) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  await page.goto('/tests.html');
  await page.waitForFunction(() => window.__results?.done === true, undefined, { timeout: testInfo.timeout - 30_000, polling: 1000 });
  const r = (await page.evaluate(() => window.__results)) as TestPageResults;
  await testInfo.attach('results.json', { body: JSON.stringify(r, null, 1), contentType: 'application/json' });
  console.log(`adapter: ${r.adapter}\n${table(r)}\n${r.rows.length} rows in ${r.seconds} s`);

  expect(r.error, `the page could not run the checks (${r.errorKind}); page errors: ${errors.join(' | ')}`).toBeNull();
  expect(r.adapter, 'no WebGPU adapter').toBeTruthy();
  for (const model of FIXTURES) {
    expect(r.rows.filter((x) => x.model === model).length, `rows for ${model}`).toBeGreaterThan(0);
  }
  const failed = r.rows.filter((x) => !x.ok);
  expect(failed, `failing rows:\n${failed.map((x) => `${x.model} ${x.name}: ${x.relErr} > ${x.tol}`).join('\n')}`).toEqual([]);
  expect(r.ok).toBe(true);
});
