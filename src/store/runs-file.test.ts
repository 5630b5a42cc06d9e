// Spectral records in the runs file: exported with their run, read back field for field (a layer that
// did not move has share NaN, which JSON writes as null), and a hostile or damaged record skipped with
// a note instead of reaching the page.
import { describe, expect, it } from 'vitest';
import type { SpectralRecord } from '../peft/spectral.ts';
import { baseOf, measure } from '../peft/spectral.ts';
import { pageDefaults } from './defaults.ts';
import { parseRunsFile, spectralRecord, toRunsFile } from './runs-file.ts';

const w0 = Float32Array.from({ length: 12 * 20 }, (_, i) => Math.sin(i * 1.7) + 0.1 * Math.cos(i * 0.3));
const base = baseOf('model.layers.0.self_attn.q_proj.weight', w0, 12, 20, [1, 3]);
const moved = measure(base, w0.map((x, i) => x + 1e-2 * Math.cos(i)));
const still = measure({ ...base, name: 'model.layers.0.mlp.up_proj.weight' }, w0);

const record = (step: number, extra: Partial<SpectralRecord> = {}): SpectralRecord => ({
  type: 'spectral', step, fractions: [1 / 32, 1 / 8, 1 / 4], layers: [moved, still],
  mean: { share: moved.share, random: moved.random, effRank: moved.effRank }, seconds: 0.4, waitSeconds: 0.01, offThread: true, ...extra,
});
const run = { id: 'x', name: 'Run', color: '#123456', createdAt: 1, config: pageDefaults('lora'), model: { kind: 'random' as const, size: 'tiny' as const },
  backend: 'cpu' as const, status: 'done' as const, step: 5, seconds: 3 };
/** A runs file of `run` carrying `records` as its spectral records, parsed back. */
function roundTrip(records: unknown[]) {
  const f = toRunsFile([{ run, steps: [], evals: [] }]);
  return parseRunsFile(JSON.stringify({ ...f, runs: [{ ...f.runs[0], spectral: records }] }));
}

describe('spectral records in the runs file', () => {
  it('export and import back unchanged, NaN shares included; internals of each kind', () => {
    const ia3 = record(5, { internals: { method: 'ia3', layers: [{ name: 'model.layers.0.mlp.down_proj.weight', mean: 1.01, min: 0.9, max: 1.2, rms1: 0.05 }] }, internalsSeconds: 0.002 });
    const ada = record(10, { internals: { method: 'adalora', r: 16, budget: null, layers: [{ name: 'model.layers.0.self_attn.q_proj.weight', rank: 12, eMax: 0.3 }] } });
    const file = toRunsFile([{ run, steps: [], evals: [], spectral: [record(0), ia3, ada] }]);
    const back = parseRunsFile(JSON.stringify(file));
    expect(back.notes).toEqual([]);
    expect(back.runs[0].spectral).toEqual([record(0), ia3, ada]);
    expect(back.runs[0].spectral![0].layers[1].share.every(Number.isNaN)).toBe(true);
    // A file from before spectral records were exported: none, no note.
    expect(parseRunsFile(JSON.stringify(toRunsFile([{ run, steps: [], evals: [] }]))).runs[0].spectral).toBeUndefined();
  });

  it('skips damaged or hostile records, with a note', () => {
    const good = JSON.parse(JSON.stringify(record(5))) as Record<string, unknown>;
    const layer = (patch: object) => ({ ...good, layers: [{ ...(good.layers as object[])[0], ...patch }] });
    const bad = [
      'x', { ...good, type: 'step' }, { ...good, step: -1 }, { ...good, step: 1.5 }, { ...good, layers: 'many' },
      layer({ name: '<img src=x onerror=alert(1)>' }), layer({ m: 'twelve' }), layer({ ks: [0] }), layer({ share: [0.1] }), layer({ sv: Array(65).fill(1) }),
      layer({ norm: 'x' }), { ...good, mean: { share: 'x', random: [], effRank: 1 } },
      { ...good, internals: { method: 'lora', layers: [] } }, { ...good, internals: { method: 'ia3', layers: [{ name: 'a', mean: 'x', min: 0, max: 0, rms1: 0 }] } },
      { ...good, internals: { method: 'adalora', r: 'x', budget: null, layers: [] } },
    ];
    for (const b of bad) expect(spectralRecord(b), JSON.stringify(b).slice(0, 120)).toBeNull();
    const back = roundTrip([good, ...bad]);
    expect(back.runs[0].spectral).toEqual([record(5)]);
    expect(back.notes).toEqual([`Run: ${bad.length} spectral records skipped (not valid records)`]);
    // Missing cost fields (records stored before they existed) read as zero cost, measured in place.
    const { seconds: _s, waitSeconds: _w, offThread: _o, ...old } = good;
    expect(spectralRecord(old)).toMatchObject({ seconds: 0, waitSeconds: 0, offThread: false });
  });
});
