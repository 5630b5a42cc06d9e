// The Spectral panel as a visitor meets it: a short LoRA run on the CPU backend posts its records
// (every 5 steps and at the end); the heat map shows every adapted layer, hovering a cell reads out
// that layer's principal share beside a random update's and its singular values, and the
// model-average line is drawn; a reload draws them again from IndexedDB. An IA³ run adds its internals (src/peft/internals.ts): a table of its
// scale vectors per layer at the latest step, the hovered layer's row marked.
import { expect, test, type Page } from '@playwright/test';

/** The page with a 5-step run of `method` on the random tiny model (CPU backend), its Spectral panel,
 * the page errors seen, and a function that starts the run and waits until it is done. */
async function shortRun(page: Page, method: string) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`/?peft.method=${method}&groupSize=4&promptsPerStep=2&miniBatches=1&dynamicSampling=false&evalProblems=2&evalK=1&evalEvery=0&steps=5&backend=cpu`);
  const panel = page.getByRole('region', { name: 'Where the updates land' });
  const runToEnd = async () => {
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect(page.getByTestId('run-status')).toHaveAttribute('data-state', 'done', { timeout: 240_000 });
  };
  return { errors, panel, runToEnd };
}

test('spectral panel: a LoRA run’s updates per layer, with hover readout and the model-average line', async ({ page }) => {
  const { errors, panel, runToEnd } = await shortRun(page, 'lora');
  await expect(panel.getByTestId('spectral-empty')).toBeVisible();
  await runToEnd();
  const map = panel.getByTestId('spectral-heatmap');
  await expect(map).toBeVisible();
  await expect(map).toHaveAttribute('aria-label', /steps 5\)$/); // step 5 is also the end: one record
  // A link without a model gets the random tiny model: 2 layers × 7 projections = 14 rows of 12 px.
  expect(await map.evaluate((c: HTMLCanvasElement) => c.height)).toBe(14 * 12);
  const box = (await map.boundingBox())!;
  await map.hover({ position: { x: box.width / 2, y: 6 } });
  await expect(panel.getByTestId('spectral-readout')).toContainText(/L0 q_proj, step 5: principal share \d+\.\d% \(random 1\.6%\)/);
  await expect(panel.getByTestId('spectral-mean')).toHaveAttribute('aria-label', /principal share per step: Run 1 \d+\.\d%/);
  await expect(panel.locator('[data-testid="spectral-mean"] canvas')).toBeVisible();
  await expect(panel.getByTestId('spectral-internals')).toHaveCount(0); // LoRA has no internals
  // Measured in a worker of the lab's worker, off the training loop's thread.
  await expect(panel.getByTestId('spectral-cost')).toContainText(/The step-5 record took \d+\.\d\d s to measure, on a worker thread while training went on; the run waited \d+\.\d\d s/);
  // Stored with the run: a reload draws the same map.
  const label = await map.getAttribute('aria-label');
  await page.reload();
  await expect(panel.getByTestId('spectral-heatmap')).toHaveAttribute('aria-label', label!);
  expect(errors).toEqual([]);
});

test('spectral panel: an IA³ run’s scale vectors per layer', async ({ page }) => {
  const { errors, panel, runToEnd } = await shortRun(page, 'ia3');
  await runToEnd();
  const table = panel.getByTestId('spectral-internals');
  await expect(table).toContainText('IA³ scales, step 5');
  await expect(table).toContainText('starts at 1');
  // IA³'s default targets k, v, down on the random tiny model's 2 layers: 6 rows, l moved off 1.
  const rows = table.locator('tbody tr');
  await expect(rows).toHaveCount(6);
  await expect(rows.first().locator('th')).toHaveText('L0 k_proj');
  const rms = Number(await rows.first().locator('td').nth(3).textContent());
  expect(rms).toBeGreaterThan(0);
  const map = panel.getByTestId('spectral-heatmap');
  await map.hover({ position: { x: (await map.boundingBox())!.width / 2, y: 18 } }); // the second row: L0 v_proj
  await expect(table.locator('tr.selected th')).toHaveText('L0 v_proj');
  expect(errors).toEqual([]);
});

test('spectral panel: LN tuning changes no weight matrix, and the panel says so instead of drawing an empty map', async ({ page }) => {
  const { errors, panel, runToEnd } = await shortRun(page, 'ln_tuning');
  await expect(panel.getByTestId('spectral-empty')).toContainText('no weight matrix changes');
  await runToEnd();
  await expect(panel.getByTestId('spectral-empty')).toContainText('LN tuning trains only the RMSNorm weights');
  await expect(panel.getByTestId('spectral-heatmap')).toHaveCount(0);
  expect(errors).toEqual([]);
});
