// The lab page as a visitor meets it: it finds the GPU (or says plainly why not and what to do),
// and the "Check engine" button runs the parity check and shows its table.
import { expect, test, type Page } from '@playwright/test';

async function shot(page: Page, name: string, testInfo: import('@playwright/test').TestInfo): Promise<void> {
  const path = testInfo.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

test('shows the adapter, and Check engine (from the keyboard) fills the table with passing rows', async ({ page }, testInfo) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'RLVR Lab' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'What this is' })).toBeVisible();

  const adapter = page.getByTestId('adapter');
  await expect(adapter).toBeVisible({ timeout: 60_000 });
  await expect(adapter).not.toBeEmpty();
  await expect(page.getByText('WebGPU ready')).toBeVisible();

  const button = page.getByRole('button', { name: 'Check engine' });
  await expect(button).toBeEnabled();

  // Keyboard: Tab until the button has focus, then press Enter.
  for (let i = 0; i < 400 && !(await button.evaluate((b) => b === document.activeElement)); i++) await page.keyboard.press('Tab');
  await expect(button).toBeFocused();
  await page.keyboard.press('Enter');

  const status = page.getByTestId('check-status');
  await expect(status).toHaveAttribute('data-state', 'running');
  await expect(status).toHaveAttribute('data-state', /done|failed/, { timeout: testInfo.timeout - 60_000 });
  await shot(page, 'lab-check-engine', testInfo);
  await expect(status).toHaveAttribute('data-state', 'done');

  const table = page.getByRole('table', { name: /Relative error/ });
  await expect(table.getByRole('columnheader')).toHaveText(['Backend', 'Model', 'Tensor', 'Relative error', 'Tolerance', 'OK']);
  const rows = table.locator('tbody tr');
  expect(await rows.count()).toBeGreaterThan(0);
  await expect(rows.filter({ hasText: 'hf-qwen2-tiny' }).first()).toBeVisible();
  await expect(rows.filter({ hasText: 'hf-llama-tiny' }).first()).toBeVisible();
  await expect(rows.filter({ hasText: '✗ fail' })).toHaveCount(0);
  await expect(status).toContainText(/All \d+ checks passed/);
});

test('without WebGPU it says so plainly, with what to do', async ({ page }, testInfo) => {
  await page.addInitScript(() => {
    // navigator.gpu is a getter on Navigator.prototype: remove it as a browser without WebGPU would.
    delete (Navigator.prototype as { gpu?: unknown }).gpu;
  });
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'RLVR Lab' })).toBeVisible();
  const gpu = page.getByTestId('gpu-status');
  await expect(gpu).toHaveAttribute('data-kind', 'no-webgpu');
  await expect(gpu).toContainText('This browser does not offer WebGPU');
  await expect(gpu).toContainText('Chrome or Edge');
  await expect(gpu).toContainText('--enable-unsafe-webgpu');
  await expect(page.getByRole('button', { name: 'Check engine' })).toBeDisabled();
  await expect(page.getByTestId('adapter')).toHaveCount(0);
  await shot(page, 'lab-no-webgpu', testInfo);
});

test('with WebGPU but no adapter it explains that case too', async ({ page }) => {
  await page.addInitScript(() => {
    GPU.prototype.requestAdapter = () => Promise.resolve(null);
  });
  await page.goto('/');
  const gpu = page.getByTestId('gpu-status');
  await expect(gpu).toHaveAttribute('data-kind', 'no-adapter');
  await expect(gpu).toContainText('no GPU adapter');
  await expect(gpu).toContainText('chrome://gpu');
  await expect(page.getByRole('button', { name: 'Check engine' })).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Try again' })).toBeVisible();
});
