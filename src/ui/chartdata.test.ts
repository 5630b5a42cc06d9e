import { describe, expect, it } from 'vitest';
import { align, ema, linearRange, LOG_FLOOR } from './chartdata.ts';
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

  it('leaves out of a log axis what uPlot cannot place: a converged run\'s gradient norm of 1e-44', () => {
    const a = align([{ x: [1, 2, 3, 4], y: [0.5, 1.69e-44, LOG_FLOOR, 3.6e-51] }], { positiveOnly: true });
    expect(a.ys).toEqual([[0.5, null, LOG_FLOOR, null]]);
    expect(align([{ x: [1], y: [1.69e-44] }]).ys).toEqual([[1.69e-44]]);
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

describe('axis labels', async () => {
  const { axisWidth, formatTick, logTickFilter } = await import('./chartdata.ts');
  it('a log axis under a decade labels every tick; a wide one labels 1, 2 and 5 × 10^k', () => {
    const narrow = [0.003, 0.004, 0.005, 0.006, 0.007];
    expect(logTickFilter(null, narrow).map(formatTick)).toEqual(['0.003', '0.004', '0.005', '0.006', '0.007']);
    const wide = [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.2, 0.3];
    expect(logTickFilter(null, wide).map((v) => formatTick(v))).toEqual(['0.01', '0.02', '', '', '0.05', '', '', '', '', '0.1', '0.2', '']);
  });
  it('log ticks at m × 10^k, a decade apart on wide spans, none for a scale without positive values', async () => {
    const { logSplits } = await import('./chartdata.ts');
    expect(logSplits(null, 1, 0.003, 0.007)).toEqual([0.003, 0.004, 0.005, 0.006, 0.007]);
    expect(logSplits(null, 1, 0.5, 3)).toEqual([0.5, 0.6, 0.7, 0.8, 0.9, 1, 2, 3]);
    // The span that made uPlot's own search push ticks without end (a converged run's gradient norm).
    expect(logSplits(null, 1, 1e-24, 10)).toEqual([1e-24, 1e-19, 1e-14, 1e-9, 1e-4, 10]);
    expect(logSplits(null, 1, 0, 1)).toEqual([]);
    expect(logSplits(null, 1, 1, Number.POSITIVE_INFINITY)).toEqual([]);
  });
  it('the y axis is wide enough for its longest label', () => {
    expect(axisWidth(null, ['0', '1'])).toBe(36);
    expect(axisWidth(null, ['0', '0.5', '1'])).toBe(18 + 7 * 3);
    expect(axisWidth(null, ['-0.00123', '1.5k'])).toBe(18 + 7 * 8);
  });
});
