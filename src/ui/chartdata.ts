// Data for the charts: debiased EMA smoothing and the alignment of several runs' series on one
// shared x axis (uPlot draws series that share their x values).

/** Exponential moving average with TensorBoard's debiasing: each output depends only on the points
 * before it, so the curve never shifts as points are added. NaN inputs pass through as NaN (and do
 * not advance the average). weight 0 returns the input unchanged. */
export function ema(values: ArrayLike<number>, weight: number): Float64Array {
  const out = new Float64Array(values.length);
  if (!(weight > 0)) {
    for (let i = 0; i < values.length; i++) out[i] = values[i];
    return out;
  }
  let acc = 0, n = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (!Number.isFinite(x)) {
      out[i] = Number.NaN;
      continue;
    }
    acc = weight * acc + (1 - weight) * x;
    n++;
    out[i] = acc / (1 - weight ** n);
  }
  return out;
}

export interface XY {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

/** The smallest value a log axis draws: a converged run's gradient norm reaches 1e-44, which would
 * stretch the axis over twenty empty decades; below this it is zero for the chart's purpose. */
export const LOG_FLOOR = 1e-24;

/** One x array (the sorted union of every series' x) and each series' y on it, null where a series
 * has no point (or a non-finite one, or on a log axis one below LOG_FLOOR). */
export function align(series: XY[], opts: { positiveOnly?: boolean } = {}): { x: number[]; ys: (number | null)[][] } {
  const xs = new Set<number>();
  for (const s of series) for (let i = 0; i < s.x.length; i++) xs.add(s.x[i]);
  const x = [...xs].sort((a, b) => a - b);
  const at = new Map(x.map((v, i) => [v, i]));
  const ys = series.map((s) => {
    const y: (number | null)[] = new Array<number | null>(x.length).fill(null);
    for (let i = 0; i < s.x.length; i++) {
      const v = s.y[i];
      if (Number.isFinite(v) && (!opts.positiveOnly || v >= LOG_FLOOR)) y[at.get(s.x[i]) as number] = v;
    }
    return y;
  });
  return { x, ys };
}

/** The y range: a little padding; a flat (or numerically flat: 2 vs 2.0000000000000004, 1e-17
 * vs 0) series gets a readable span around its value. uPlot's tick search never ends on a span
 * below float precision, so no span is narrower than 1e-9 of the values' size or 1e-12. */
export function linearRange(_u: unknown, min: number | null, max: number | null): [number, number] {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  const size = Math.max(Math.abs(min), Math.abs(max));
  if (max - min <= Math.max(size * 1e-9, 1e-12)) {
    const mid = (min + max) / 2, half = Math.abs(mid) > 1e-12 ? Math.abs(mid) * 0.5 : 0.5;
    return mid >= 0 && mid - half < 0 ? [0, mid + half] : [mid - half, mid + half];
  }
  const pad = (max - min) * 0.08;
  return [min >= 0 && min - pad < 0 ? 0 : min - pad, max + pad];
}

/** Axis labels short enough for the axis: 2e-8, 0.25, 1.5k. */
export function formatTick(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return ''; // uPlot passes null for ticks it skips (log axes)
  const a = Math.abs(v);
  if (v === 0) return '0';
  if (a < 1e-3) return v.toExponential(0);
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

/** Log-axis ticks that keep a label: all of them when there are few (a span under a decade would
 * otherwise label none), else those at 1, 2 and 5 × a power of ten. */
/** A log axis's ticks (uPlot's `splits`): m × 10^k for every m over up to four decades, else 10^k
 * on at most about six decades. uPlot's own search is not used: on small values its sum of steps
 * drifts off the decimal grid and it pushes ticks until the array overflows. */
export function logSplits(_u: unknown, _axis: number, min: number, max: number): number[] {
  if (!(min > 0) || !(max >= min) || !Number.isFinite(max)) return [];
  const lo = Math.floor(Math.log10(min)), hi = Math.ceil(Math.log10(max)), decades = hi - lo;
  const ms = decades <= 4 ? [1, 2, 3, 4, 5, 6, 7, 8, 9] : [1];
  const every = decades <= 4 ? 1 : Math.ceil(decades / 6);
  const out: number[] = [];
  for (let k = lo; k <= hi; k += every) {
    for (const m of ms) {
      const v = Number(`${m}e${k}`);
      if (v >= min * (1 - 1e-12) && v <= max * (1 + 1e-12)) out.push(v);
    }
  }
  return out;
}

export function logTickFilter(_u: unknown, splits: number[]): (number | null)[] {
  if (splits.length <= 6) return splits;
  return splits.map((v) => {
    if (!(v > 0)) return null;
    const m = Math.round((v / 10 ** Math.floor(Math.log10(v))) * 1000) / 1000;
    return m === 1 || m === 2 || m === 5 ? v : null;
  });
}

/** A y axis wide enough for its longest label (about 7 px a character at the axis font, plus the ticks). */
export function axisWidth(_u: unknown, values: string[] | null): number {
  const longest = Math.max(0, ...(values ?? []).map((v) => (v ?? '').length));
  return Math.max(36, 18 + 7 * longest);
}
