// npm run study's resume: an interrupted cell's JSON lines are cut back to its checkpoint's step (the
// resumed `npm run train` appends the later steps again), and the grid runs seed-major.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../rl/config.ts';
import { studyBase, studyCells, trimToCheckpoint } from './study.ts';

describe('study CLI', () => {
  it('cuts an interrupted run back to its checkpoint (trainer.step), keeping the config, the step-0 evaluation and the spectral records up to it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'study-'));
    const p = { jsonl: join(dir, 'run.jsonl'), ckpt: join(dir, 'ckpt'), cfg: join(dir, 'cfg.json') };
    // Spectral records are written when their worker has measured them: after later steps' lines.
    const lines = [{ type: 'config' }, { type: 'eval', step: 0 }, ...[1, 2, 3, 4, 5, 6].map((step) => ({ type: 'step', step })), { type: 'spectral', step: 5 }, { type: 'step', step: 7 }];
    writeFileSync(p.jsonl, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    expect(trimToCheckpoint(p)).toBe(false); // no checkpoint yet: the cell starts over
    mkdirSync(p.ckpt);
    writeFileSync(join(p.ckpt, 'state.json'), JSON.stringify({ version: 1, optimizerStep: 10, trainer: { step: 5 } }));
    expect(trimToCheckpoint(p)).toBe(true);
    const kept = readFileSync(p.jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: number });
    expect(kept.map((l) => `${l.type}${l.step ?? ''}`)).toEqual(['config', 'eval0', 'step1', 'step2', 'step3', 'step4', 'step5', 'spectral5']);
    writeFileSync(join(p.ckpt, 'state.json'), JSON.stringify({ version: 1, step: 5 }));
    expect(() => trimToCheckpoint(p)).toThrow(/no trainer.step/);
  });

  it('orders the methods grid seed-major, full fine-tuning at a tenth of the lr', () => {
    const cells = studyCells('methods', { ...defaultConfig('lora'), lr: 1e-3 }, 2);
    expect(cells).toHaveLength(30);
    expect(cells.slice(0, 15).every((c) => c.config.seed === 0)).toBe(true);
    expect(cells.slice(15).every((c) => c.config.seed === 1)).toBe(true);
    const full = cells.find((c) => c.config.peft.method === 'full')!;
    expect(full.config.lr).toBeCloseTo(1e-4, 12);
    expect(full.label).toContain('lr 0.0001');
  });

  it('runs its own recipe, not the page default: the shipped tables were made from exactly this base', () => {
    for (const preset of ['methods', 'loss', 'lr', 'rank', 'batch']) {
      const shipped = JSON.parse(readFileSync(join(process.cwd(), `public/study/${preset}.json`), 'utf8')) as { base: unknown };
      expect(studyBase(), preset).toEqual(shipped.base);
    }
  });
});
