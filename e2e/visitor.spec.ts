// The page as a first-time visitor meets it on this machine (no GPU: Chromium's WebGPU is
// SwiftShader): the backend the page picks and why, progress while it evaluates, Pause and Stop
// answered at once, and Continue after a reload going on from the last checkpoint.
import { expect, test, type Page } from '@playwright/test';

const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });
const status = (page: Page) => page.getByTestId('run-status');
const points = async (page: Page) => Number(await page.getByTestId('chart-reward').getAttribute('data-points'));

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

test('on a software rasteriser the page trains on the CPU backend and says why; the choice is kept on reload and in the link', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/');
  await expect(page.getByTestId('adapter')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('backend-reason')).toContainText('software rasteriser');
  await expect(page.getByRole('radio', { name: /CPU backend/ })).toBeChecked();
  // The CPU option does not talk the visitor out of it.
  await expect(page.getByRole('radio', { name: /CPU backend/ })).not.toHaveAccessibleName(/slow/i);
  await expect(page.getByTestId('share-link')).not.toHaveValue(/backend=/); // the page's pick is not the visitor's

  await page.getByRole('radio', { name: /WebGPU/ }).check();
  await expect(page.getByTestId('backend-reason')).toContainText('your choice');
  await expect(page.getByTestId('share-link')).toHaveValue(/backend=webgpu/);
  await page.reload();
  await expect(page.getByTestId('adapter')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByRole('radio', { name: /WebGPU/ })).toBeChecked();

  // A link's choice wins over the one kept in this browser.
  await page.goto('/?model=tiny&backend=cpu');
  await expect(page.getByTestId('adapter')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByRole('radio', { name: /CPU backend/ })).toBeChecked();
  await expect(page.getByTestId('backend-reason')).toContainText('link');
  expect(errors).toEqual([]);
});

/** Every text the progress line shows, recorded in the page as it changes (however short-lived). */
async function recordProgress(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { __progress: string[] };
    w.__progress = [];
    new MutationObserver(() => {
      const t = document.querySelector('[data-testid="run-progress"]')?.textContent?.trim();
      if (t && t !== w.__progress.at(-1)) w.__progress.push(t);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
}

const progressTexts = (page: Page) => page.evaluate(() => (window as unknown as { __progress: string[] }).__progress);

test('the default: evaluation progress before step 1, a first reward point, Pause acknowledged within 1 s, and Continue after a reload from the checkpoint', async ({ page }, testInfo) => {
  const errors = watchErrors(page);
  await recordProgress(page);
  await page.goto('/');
  await expect(page.getByTestId('model-load')).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  await expect(page.getByRole('radio', { name: /CPU backend/ })).toBeChecked({ timeout: 60_000 });
  // The default model, task, method and sampling (up to 101 new tokens); fewer prompts and eval
  // problems to keep the test short, and far more steps than can run before it is stopped.
  const experiment = page.getByRole('region', { name: 'Experiment' });
  for (const [label, value] of [['Prompts per step', '4'], ['Eval problems per set', '8'], ['Steps', '100000']]) {
    await experiment.getByLabel(label, { exact: true }).fill(value);
  }
  const t0 = Date.now();
  await button(page, 'Start').click();

  await expect.poll(() => points(page), { timeout: 300_000 }).toBeGreaterThanOrEqual(1);
  testInfo.annotations.push({ type: 'first reward point', description: `${((Date.now() - t0) / 1000).toFixed(1)} s after Start (CPU backend)` });
  // The baseline evaluation showed how far it was, rising, then the rollout of step 1 its tokens.
  const seen = await progressTexts(page);
  const evalPct = seen.flatMap((t) => /^Evaluating on the held-out problems before step 1: (\d+)%$/.exec(t)?.[1] ?? []).map(Number);
  expect(evalPct.length, seen.join(' | ')).toBeGreaterThan(1);
  expect(evalPct).toEqual([...evalPct].sort((a, b) => a - b));
  expect(seen.some((t) => /^Step 1: generating answers, token \d+ of at most 101$/.test(t)), seen.join(' | ')).toBe(true);
  const progress = page.getByTestId('run-progress');

  // Pause during a rollout: acknowledged at once, paused once the step is done.
  await expect(progress).toHaveAttribute('data-phase', 'rollout', { timeout: 120_000 });
  const clicked = Date.now();
  await button(page, 'Pause').click();
  await expect(page.getByTestId('run-pending')).toContainText('Pausing after this step');
  const ack = Date.now() - clicked;
  testInfo.annotations.push({ type: 'pause acknowledged', description: `${ack} ms` });
  expect(ack).toBeLessThan(1000);
  await expect(status(page)).toHaveAttribute('data-state', 'paused', { timeout: 300_000 });
  const pausedAt = Number(await status(page).getAttribute('data-step'));
  expect(pausedAt).toBeGreaterThanOrEqual(1);
  const pointsAtPause = await points(page);

  // Reload: the run is interrupted; Continue goes on from the pause's checkpoint, not from step 0.
  await page.reload();
  const row = page.getByTestId('run-row').filter({ hasText: 'Run 1' });
  await expect(row).toContainText(`interrupted, ${pausedAt}/100000 steps`);
  await button(page, 'Continue Run 1').click();
  // Past the paused step, and its reward drawn (the chart and the status line render apart).
  await expect.poll(async () => Number(await status(page).getAttribute('data-step')), { timeout: 300_000 }).toBeGreaterThan(pausedAt);
  await expect.poll(() => points(page)).toBeGreaterThan(pointsAtPause);

  await button(page, 'Stop').click();
  await expect(status(page)).toHaveAttribute('data-state', 'stopped', { timeout: 120_000 });
  expect(errors).toEqual([]);
});

test('a sweep shows, before it starts, what each run uses and how long it should take; the rank preset keeps the experiment’s lr and α', async ({ page }) => {
  const errors = watchErrors(page);
  // A LoRA experiment at lr 0.001, α 32 on the tiny random model, short runs on the CPU backend.
  await page.goto('/?peft.method=lora&peft.alpha=32&lr=0.001&groupSize=4&promptsPerStep=2&miniBatches=1&dynamicSampling=false&evalProblems=2&evalK=1&evalEvery=0&steps=2&backend=cpu');
  await page.getByLabel('The study’s experiments').selectOption({ label: 'Rank ablation (1, 4, 16, 64)' });
  const settings = page.getByTestId('sweep-settings');
  await expect(settings).toContainText('learning rate 0.001 (the experiment’s)');
  await expect(settings).toContainText('rank from the grid');
  await expect(settings).toContainText('α 32 (not scaled with the rank)');
  await expect(settings).toContainText('recipe dapo loss');
  await expect(page.getByTestId('sweep-count')).toContainText('12 runs of 2 steps');
  await expect(page.getByTestId('sweep-estimate')).toContainText('not measured yet');

  // One run measures the cost; the estimate follows from it.
  await button(page, 'Start').click();
  await expect(status(page)).toHaveAttribute('data-state', 'done', { timeout: 240_000 });
  // For the runs still to go: how many depends on how far the sweep has got by now.
  await expect(page.getByTestId('sweep-estimate')).toContainText(/Time: about .+ for the \d+ runs? \(from Run 1’s measured/);
  expect(errors).toEqual([]);
});

test('charts and inspector at 1440 px: the held-out axis spans the run’s steps, the Advantage column stays in view', async ({ page }) => {
  const errors = watchErrors(page);
  await page.setViewportSize({ width: 1440, height: 900 });
  // arith on a random tiny model: completions run to 101 tokens with no spaces, the inspector's worst case.
  await page.goto('/?model=tiny&task=arith&maxNewTokens=101&groupSize=4&promptsPerStep=2&miniBatches=1&dynamicSampling=false&evalProblems=2&evalK=1&evalEvery=10&steps=30&backend=cpu');
  await button(page, 'Start').click();
  await expect.poll(() => points(page), { timeout: 240_000 }).toBeGreaterThanOrEqual(1);
  // Few evaluations so far (step 0, perhaps 10): the axis spans the run's 30 steps (it used to guess 0–100 for one point).
  await expect(page.getByTestId('chart-accuracy')).toHaveAttribute('data-x-max', '30');
  await expect(page.getByTestId('chart-reward')).toHaveAttribute('data-x-max', '30');
  const wrap = page.getByRole('region', { name: 'Completions of the group' });
  await expect(wrap).toBeVisible();
  const fits = await wrap.evaluate((el) => el.scrollWidth <= el.clientWidth);
  expect(fits).toBe(true);
  const adv = wrap.getByRole('columnheader', { name: 'Advantage', exact: true });
  const [a, w] = [await adv.boundingBox(), await wrap.boundingBox()];
  expect(a && w && a.x + a.width <= w.x + w.width + 0.5).toBe(true);
  await expect(status(page)).toHaveAttribute('data-state', 'done', { timeout: 300_000 });
  await expect(page.getByTestId('chart-accuracy')).toHaveAttribute('data-x-max', '30');
  expect(errors).toEqual([]);
});

test('bad input: a negative rank gives no parameter count; an invalid value gives no link; AdaLoRA’s β1 reads β1', async ({ page }) => {
  const errors = watchErrors(page);
  await page.goto('/?peft.method=lora&model=tiny');
  await page.getByLabel('Rank r', { exact: true }).fill('-4');
  await expect(page.getByTestId('trainable-count')).toHaveText('Trainable parameters: — (fix the highlighted method settings)');
  await expect(page.getByTestId('share-blocked')).toBeVisible();
  await expect(page.getByTestId('share-link')).toHaveValue('');
  expect(page.url()).not.toContain('peft.r=-4');
  await page.getByLabel('Rank r', { exact: true }).fill('8');
  await expect(page.getByTestId('trainable-count')).toContainText(/^[\d,.]+k? trainable parameters/);
  await expect(page.getByTestId('share-link')).toHaveValue(/peft\.r=8/);
  await page.getByLabel('Learning rate', { exact: true }).fill('abc');
  await expect(page.getByTestId('share-blocked')).toContainText('Fix the highlighted setting');
  expect(page.url()).not.toContain('NaN');

  // A method switch says what else it changed.
  await page.getByLabel('Learning rate', { exact: true }).fill('0.001');
  await page.getByLabel('Method', { exact: true }).selectOption('full');
  await expect(page.getByTestId('method-note')).toContainText('learning rate 0.001 → 0.0001');
  await page.getByLabel('Method', { exact: true }).selectOption('adalora');
  await expect(page.getByLabel('β1 (sensitivity EMA)', { exact: true })).toBeVisible();
  await expect(page.locator('label', { hasText: /Β1/ })).toHaveCount(0); // not a capital Greek Beta (the regex is case-sensitive)

  // An unknown method in a link stays visible as unknown, in the banner and the field, and blocks Start.
  await page.goto('/?peft.method=superlora&model=tiny');
  await expect(page.getByTestId('link-notes')).toContainText('unknown PEFT method "superlora": choose one in the Method field');
  await expect(page.getByLabel('Method', { exact: true })).toHaveValue('superlora');
  await expect(page.locator('.field.invalid').filter({ hasText: 'Method' })).toContainText('unknown method "superlora"');
  await expect(button(page, 'Start')).toBeDisabled();
  expect(errors).toEqual([]);
});
