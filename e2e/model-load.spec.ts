// The shipped model in the page: the bare page opens the catalogue's default checkpoint, shows its
// download reaching 100% and trains from it; a corrupt or missing model.safetensors gives a message
// naming the file and what is wrong, with a Retry that downloads again and keeps the settings.
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { formatCount } from '../src/ui/format.ts';

const catalogue = JSON.parse(readFileSync('public/models/index.json', 'utf8')) as { models: { path: string; bytes: number; parameters: number; task: string; default?: boolean }[] };
const shipped = catalogue.models.find((m) => m.default);
if (!shipped) throw new Error('public/models/index.json marks no default model');
const FILE = `${shipped.path}/model.safetensors`;
const good = readFileSync(`public${FILE}`);

const field = (page: Page, label: string) => page.getByLabel(label, { exact: true });
const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

test('the bare page loads the default shipped model with a progress bar, and trains from it', async ({ page }) => {
  const errors = watchErrors(page);
  let downloads = 0;
  page.on('request', (r) => { if (new URL(r.url()).pathname === FILE) downloads++; });
  await page.goto('/');
  await expect(field(page, 'Base model')).toHaveValue(shipped.path);
  await expect(field(page, 'Task')).toHaveValue(shipped.task);
  const load = page.getByTestId('model-load');
  await expect(load).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await expect(load).toHaveAttribute('data-percent', '100');
  const total = `${(shipped.bytes / 1e6).toFixed(2)} MB`;
  await expect(load).toContainText(`Loaded: ${total} of ${total} (100%)`);
  await expect(load).toContainText('SHA-256 checked');
  expect(await load.locator('progress').evaluate((p: HTMLProgressElement) => p.value === p.max && p.max > 0)).toBe(true);
  await expect(page.getByTestId('share-link')).toHaveValue(new RegExp(`model=${encodeURIComponent(shipped.path)}`));

  // A run on the CPU backend (SwiftShader is slow), stopped once it shows output; the downloaded
  // weights are reused.
  await page.getByRole('radio', { name: /CPU backend/ }).check();
  const experiment = page.getByRole('region', { name: 'Experiment' });
  // Far more steps than can run before Stop is clicked, however fast or loaded the machine: the run
  // being stopped must not be able to finish first.
  for (const [label, value] of [['Group size G', '2'], ['Prompts per step', '2'], ['Mini-batches', '1'], ['Eval problems per set', '1'], ['Samples per eval problem (k)', '1'], ['Steps', '100000']]) {
    await experiment.getByLabel(label, { exact: true }).fill(value);
  }
  await expect(page.getByTestId('share-link')).toHaveValue(/steps=100000/);
  await button(page, 'Start').click();
  await expect.poll(async () => Number(await page.getByTestId('chart-reward').getAttribute('data-points')), { timeout: 180_000 }).toBeGreaterThanOrEqual(1);
  await expect(page.getByTestId('run-facts')).toContainText(`of ${formatCount(shipped.parameters)} parameters`);
  await expect(page.getByTestId('inspector')).toContainText('Answer:');
  await button(page, 'Stop').click();
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-state', 'stopped', { timeout: 60_000 });
  expect(downloads).toBe(1);
  expect(errors).toEqual([]);
});

test('a corrupt model file says what is wrong; Retry downloads again and keeps the settings', async ({ page }) => {
  const errors = watchErrors(page);
  let body = good.subarray(0, 1000);
  await page.route(`**${FILE}`, (route) => route.fulfill({ body, contentType: 'application/octet-stream' }));
  await page.goto('/');
  const error = page.getByTestId('model-error');
  await expect(error).toContainText(`${FILE} has the wrong size: the server sends 1000 bytes, the model catalogue lists ${shipped.bytes}`, { timeout: 60_000 });
  await expect(page.locator('.field.invalid').filter({ hasText: 'Base model' })).toBeVisible();
  await expect(button(page, 'Start')).toBeDisabled();

  // Same size, one byte changed: the hash check names it.
  const flipped = Buffer.from(good);
  flipped[flipped.length - 1] ^= 1;
  body = flipped;
  await field(page, 'Learning rate').fill('0.02');
  await button(page, 'Retry').click();
  await expect(error).toContainText(`${FILE} is corrupt: its SHA-256 is`);
  await expect(error).toContainText('the model catalogue lists');

  await page.unroute(`**${FILE}`);
  await button(page, 'Retry').click();
  await expect(page.getByTestId('model-load')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await expect(page.getByTestId('model-load')).toHaveAttribute('data-percent', '100');
  await expect(error).toHaveCount(0);
  await expect(field(page, 'Learning rate')).toHaveValue('0.02');
  await expect(field(page, 'Base model')).toHaveValue(shipped.path);
  await expect(button(page, 'Start')).toBeEnabled();
  expect(errors).toEqual([]);
});

test('a missing model file gives a clear message, and another model can be picked', async ({ page }) => {
  const errors = watchErrors(page);
  await page.route(`**${FILE}`, (route) => route.fulfill({ status: 404, body: 'Not Found' }));
  await page.goto('/');
  await expect(page.getByTestId('model-error')).toContainText(`${FILE} was not found (HTTP 404)`, { timeout: 60_000 });
  await expect(button(page, 'Retry')).toBeVisible();
  await field(page, 'Base model').selectOption('tiny');
  await expect(page.getByTestId('model-error')).toHaveCount(0);
  await expect(field(page, 'Task')).toHaveValue(shipped.task); // the settings stay
  await expect(button(page, 'Start')).toBeEnabled();
  expect(errors).toEqual([]);
});

test('without the catalogue the page falls back to a random tiny model and says so', async ({ page }) => {
  const errors = watchErrors(page);
  await page.route('**/models/index.json', (route) => route.fulfill({ status: 404, body: 'Not Found' }));
  await page.goto('/');
  await expect(page.getByTestId('catalogue-note')).toContainText('/models/index.json was not found (HTTP 404)');
  await expect(page.getByTestId('catalogue-note')).toContainText('random tiny model');
  await expect(field(page, 'Base model')).toHaveValue('tiny');
  await expect(field(page, 'Task')).toHaveValue('lastdigit');
  await expect(button(page, 'Start')).toBeEnabled();
  expect(errors).toEqual([]);
});
