// The Study view as a visitor meets it: the shipped results of `npm run study` (public/study) with
// each of the study's findings and its verdict, the methods table beside the paper's numbers, the
// curves, and a run's config loaded into the experiment panel with one click.
import { expect, test } from '@playwright/test';

test('the study: findings with verdicts, every method in the table, a run loaded into the experiment panel', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto('/');
  const study = page.getByRole('region', { name: 'The study, reproduced' });
  await expect(study).toBeVisible();
  const findings = study.locator('.finding');
  await expect(findings.first()).toBeVisible();
  for (const id of ['structural', 'svd-init', 'bottleneck']) {
    await expect(study.locator(`[data-finding="${id}"] .verdict`)).toHaveText(/reproduces|does not reproduce|inconclusive/);
  }
  const table = study.locator('.study-table');
  await expect(table.locator('tbody tr')).toHaveCount(15); // full fine-tuning and the fourteen PEFT methods
  await expect(table.locator('tbody th').first()).toHaveText('full');
  await expect(study.locator('.study-chart canvas').first()).toBeVisible();

  // Load PiSSA's seed-1 run into the experiment panel.
  const row = table.locator('tbody tr', { has: page.locator('th', { hasText: /^pissa$/ }) });
  await row.getByLabel('Seed of pissa to load').selectOption({ label: '1' });
  await row.getByRole('button', { name: /Load the config of pissa/ }).click();
  await expect(page.getByLabel('Method', { exact: true })).toHaveValue('pissa');
  await expect(page.getByLabel('Seed', { exact: true })).toHaveValue('1');
  expect(errors).toEqual([]);
});
