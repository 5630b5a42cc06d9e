// One live chart (uPlot, drawn on canvas). It subscribes to the series clock and redraws at most
// once per 100 ms, each chart in its own task; React renders it only when the shown runs or the
// options change.
// Hovering shows every shown run's value at that step in the readout under the chart.
import { useEffect, useId, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { setLog, shownRuns, useChartPrefs, useShownSignature } from '../store/charts.ts';
import { peekSeries, seriesClock, type RunSeries } from '../store/series.ts';
import { useLive } from '../store/training.ts';
import { align, axisWidth, ema, formatTick, linearRange, logSplits, logTickFilter, type XY } from './chartdata.ts';
import { formatValue } from './format.ts';

export interface Line extends XY {
  /** Appended to the run's name in the readout ("in-dist", "rollout"). */
  label?: string;
  dash?: number[];
}

export interface ChartSpec {
  id: string;
  title: string;
  help: string;
  lines: (s: RunSeries) => Line[];
  /** Offer a log y axis. */
  logOption?: boolean;
  /** EMA smoothing applies (not to sparse series like held-out accuracy). */
  smooth?: boolean;
  range?: [number, number];
}

const HEIGHT = 170;
const REDRAW_MS = 100;

/** Steps are whole numbers: no ticks at 1.5. */
const STEP_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000];



function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export function MetricChart({ spec }: { spec: ChartSpec }) {
  const id = useId();
  const box = useRef<HTMLDivElement>(null);
  const readout = useRef<HTMLParagraphElement>(null);
  const signature = useShownSignature();
  const smoothing = useChartPrefs((s) => (spec.smooth ? s.smoothing : 0));
  const log = useChartPrefs((s) => !!spec.logOption && s.log[spec.id] === true);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let plot: uPlot | null = null, shape = '', frame = 0;
    /** The x axis spans the shown runs' steps (0 to the longest run's), not uPlot's guess from the points so far. */
    let xMax = 1;
    let labels: string[] = [];
    const fg = cssVar('--muted', '#57606a'), grid = cssVar('--line', '#d8dee4');

    const draw = () => {
      frame = 0;
      const runs = shownRuns();
      const liveId = useLive.getState().runId;
      const lines: (Line & { color: string; name: string; faint?: boolean })[] = [];
      let livePoints = 0;
      for (const r of runs) {
        const s = peekSeries(r.id);
        if (!s) continue;
        for (const l of spec.lines(s)) {
          const name = l.label ? `${r.name} ${l.label}` : r.name;
          if (r.id === liveId) livePoints = Math.max(livePoints, l.x.length);
          if (smoothing > 0) {
            lines.push({ ...l, color: r.color, name: `${name} (raw)`, faint: true });
            lines.push({ ...l, y: ema(l.y, smoothing), color: r.color, name });
          } else lines.push({ ...l, color: r.color, name });
        }
      }
      xMax = Math.max(1, ...runs.map((r) => (Number.isFinite(r.config.steps) ? r.config.steps : 0)));
      const { x, ys } = align(lines, { positiveOnly: log });
      // A log axis needs a value to place: until one arrives (every gradient norm so far 0, all groups
      // dropped) the axis is linear.
      const logAxis = log && ys.some((y) => y.some((v) => v !== null));
      const data = [x, ...ys] as uPlot.AlignedData;
      const nextShape = `${lines.map((l) => `${l.name}${l.color}${l.dash ?? ''}`).join('|')}:${logAxis}:${el.clientWidth}`;
      if (!plot || nextShape !== shape) {
        plot?.destroy();
        shape = nextShape;
        labels = lines.map((l) => l.name);
        const opts: uPlot.Options = {
          width: Math.max(200, el.clientWidth), height: HEIGHT,
          legend: { show: false },
          cursor: { drag: { x: false, y: false }, points: { size: 6 } },
          scales: {
            x: { time: false, range: (_u, _min, max) => [0, Math.max(xMax, Number.isFinite(max) ? max : 0)] },
            y: logAxis ? { distr: 3, log: 10 } : { range: spec.range ?? linearRange },
          },
          axes: [
            { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 30, incrs: STEP_INCRS },
            {
              stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: axisWidth, values: (_u, vals) => vals.map(formatTick),
              ...(logAxis ? { splits: logSplits, filter: logTickFilter } : {}),
            },
          ],
          series: [
            { label: 'step' },
            ...lines.map((l): uPlot.Series => ({
              label: l.name, stroke: l.faint ? `${l.color}44` : l.color, width: l.faint ? 1 : 2, dash: l.dash, spanGaps: true,
              points: { show: !l.faint && x.length < 60, size: 4, fill: l.color },
            })),
          ],
          hooks: {
            // The x range as drawn, for tests and tools (the held-out chart must span the run's steps).
            draw: [(u) => (el.dataset.xMax = String(u.scales.x.max ?? ''))],
            setCursor: [(u) => {
              const i = u.cursor.idx;
              if (!readout.current) return;
              if (i === null || i === undefined) {
                readout.current.textContent = '\u00a0';
                return;
              }
              const parts = labels.map((name, k) => ({ name, v: u.data[k + 1][i] })).filter((p) => !p.name.endsWith('(raw)') && p.v !== null && p.v !== undefined);
              readout.current.textContent = `step ${u.data[0][i]}: ${parts.map((p) => `${p.name} ${formatValue(p.v as number)}`).join(' · ') || 'no value'}`;
            }],
          },
        };
        plot = new uPlot(opts, data, el);
      } else plot.setData(data);
      el.dataset.points = String(livePoints);

      const last = lines.filter((l) => !l.faint).map((l) => {
        const n = l.y.length;
        return n ? `${l.name} ${formatValue(l.y[n - 1])} at step ${l.x[n - 1]}` : null;
      }).filter(Boolean);
      el.setAttribute('aria-label', `${spec.title}: ${last.length ? `latest ${last.join('; ')}` : 'no data yet'}`);
    };
    draw();
    // Each chart redraws in its own task (not all nine in one animation frame), at most every
    // REDRAW_MS, so a burst of steps never becomes one long main-thread task.
    const schedule = () => {
      if (!frame) frame = window.setTimeout(draw, REDRAW_MS);
    };
    const unsubscribe = seriesClock.subscribe(schedule);
    const ro = new ResizeObserver(schedule);
    ro.observe(el);
    return () => {
      unsubscribe();
      ro.disconnect();
      if (frame) clearTimeout(frame);
      plot?.destroy();
    };
  }, [signature, smoothing, log, spec]);

  return (
    <figure className="chart" data-chart={spec.id}>
      <figcaption>
        <span className="chart-title" id={`${id}-title`}>{spec.title}</span>
        {spec.logOption && (
          <label className="log-toggle">
            <input type="checkbox" checked={log} onChange={(e) => setLog(spec.id, e.target.checked)} /> Log scale
            <span className="visually-hidden"> for {spec.title}</span>
          </label>
        )}
      </figcaption>
      <p className="hint chart-help">{spec.help}</p>
      <div ref={box} className="chart-canvas" role="img" aria-label={spec.title} data-testid={`chart-${spec.id}`} data-points="0" />
      <p ref={readout} className="readout" aria-hidden="true">{'\u00a0'}</p>
    </figure>
  );
}
