// The Study view as a visitor meets it: the shipped results of `npm run study` (public/study) with
// each of the study's findings and its verdict, the methods table beside the paper's numbers, the
// curves, and a run's config loaded into the experiment panel with one click.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { PRESET_IDS, type StudyResults } from '../src/study/results.ts';
import { judge } from '../src/study/verdicts.ts';

// What the page must show, read from the shipped files themselves.
const shipped = Object.fromEntries(PRESET_IDS.map((p) => [p, JSON.parse(readFileSync(`public/study/${p}.json`, 'utf8')) as StudyResults]));
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

test('the study: findings with verdicts, every method in the table, a run loaded into the experiment panel', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto('/');
  const study = page.getByRole('region', { name: 'The study, reproduced' });
  await expect(study).toBeVisible();
  const findings = study.locator('.finding');
  await expect(findings.first()).toBeVisible();
  const expected = judge(shipped);
  expect(expected.map((f) => f.verdict)).not.toContain('not run'); // every preset is shipped
  await expect(findings).toHaveCount(expected.length);
  for (const f of expected) await expect(study.locator(`[data-finding="${f.id}"] .verdict`)).toHaveText(f.verdict);
  const table = study.locator('.study-table');
  await expect(table.locator('tbody tr')).toHaveCount(15); // full fine-tuning and the fourteen PEFT methods
  await expect(table.locator('tbody th').first()).toHaveText('full');
  // PiSSA's row: its seeds' count, start and end accuracy as the shipped file has them.
  const pissa = shipped.methods.rows.find((r) => r.setting === 'pissa')!;
  const cells = table.locator('tbody tr', { has: page.locator('th', { hasText: /^pissa$/ }) }).locator('td');
  await expect(cells.nth(0)).toHaveText(String(pissa.end.n));
  await expect(cells.nth(1)).toHaveText(pct(pissa.start.mean));
  await expect(cells.nth(2)).toHaveText(`${pct(pissa.end.mean)} ± ${(100 * pissa.end.sd).toFixed(1)}`);
  await expect(study.locator('.study-chart canvas').first()).toBeVisible();

  // Load PiSSA's seed-1 run into the experiment panel.
  const row = table.locator('tbody tr', { has: page.locator('th', { hasText: /^pissa$/ }) });
  await row.getByLabel('Seed of pissa to load').selectOption({ label: '1' });
  await row.getByRole('button', { name: /Load the config of pissa/ }).click();
  await expect(page.getByLabel('Method', { exact: true })).toHaveValue('pissa');
  await expect(page.getByLabel('Seed', { exact: true })).toHaveValue('1');
  expect(errors).toEqual([]);
});
