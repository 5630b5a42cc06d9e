import { describe, expect, it } from 'vitest';
import { align, ema, linearRange } from './chartdata.ts';
import { crc32, zip } from './download.ts';

describe('chart data', () => {
  it('EMA does not shift when points are added, and is debiased from the first point', () => {
    const xs = [1, 3, 2, 5, 4, 6];
    const short = ema(xs.slice(0, 4), 0.9), long = ema(xs, 0.9);
    expect([...long.slice(0, 4)]).toEqual([...short]);
    expect(long[0]).toBeCloseTo(1, 12);
    expect([...ema(xs, 0)]).toEqual(xs);
    expect(Number.isNaN(ema([1, Number.NaN, 3], 0.5)[1])).toBe(true);
  });

  it('never gives uPlot a span below float precision (its tick search would not end)', () => {
    expect(linearRange(null, 2, 2.0000000000000004)).toEqual([1, 3]);
    expect(linearRange(null, 0, 1e-17)).toEqual([0, 0.5]);
    expect(linearRange(null, null, null)).toEqual([0, 1]);
    const [lo, hi] = linearRange(null, 0.1, 0.5);
    expect(lo).toBeCloseTo(0.068);
    expect(hi).toBeCloseTo(0.532);
    expect(linearRange(null, -3, -3)).toEqual([-4.5, -1.5]);
  });

  it('aligns runs with different steps on one x axis', () => {
    const a = align([{ x: [1, 2, 3], y: [1, 2, 3] }, { x: [2, 4], y: [5, -1] }], { positiveOnly: true });
    expect(a.x).toEqual([1, 2, 3, 4]);
    expect(a.ys).toEqual([[1, 2, 3, null], [null, 5, null, null]]);
  });
});

describe('zip', () => {
  it('crc32 of "123456789" is the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
  it('writes local headers, a central directory and the end record', () => {
    const z = zip({ 'a.txt': 'hello', 'b.bin': new Uint8Array([1, 2, 3]) });
    const dv = new DataView(z.buffer);
    expect(dv.getUint32(0, true)).toBe(0x04034b50);
    expect(dv.getUint32(z.length - 22, true)).toBe(0x06054b50);
    expect(dv.getUint16(z.length - 22 + 10, true)).toBe(2);
  });
});
