// Where RL's updates land, live: for the runs shown, the share of each adapted layer's update ΔW in
// the pretrained weight's top singular subspace (src/peft/spectral.ts), as a layer × step heat map of
// one run, a line per run for the model average beside a random update's share, and the hovered
// layer's singular values at the hovered step; below, the method's internals (AdaLoRA's ranks, DoRA's
// magnitudes, VeRA's and IA³'s scales; src/peft/internals.ts) at the hovered or latest step, per layer.
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import type { Internals } from '../peft/internals.ts';
import type { SpectralLayer, SpectralRecord } from '../peft/spectral.ts';
import { useConfig } from '../store/config.ts';
import { useRuns } from '../store/runs.ts';
import { useSpectral } from '../store/spectral.ts';
import { useLive } from '../store/training.ts';
import { SPECTRAL_EVERY } from '../worker/protocol.ts';

/** The k the panel shows: the middle fraction (rank / 8). */
const KI = 1;
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '—');
const short = (name: string) => name.replace('model.layers.', 'L').replace('.self_attn.', ' ').replace('.mlp.', ' ').replace('.weight', '');

function HeatMap({ records, onHover, hover }: { records: SpectralRecord[]; onHover: (h: { ri: number; li: number } | null) => void; hover: { ri: number; li: number } | null }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const layers = records[0]?.layers ?? [];
  const cw = Math.max(10, Math.min(40, Math.floor(480 / Math.max(1, records.length)))), ch = 12;
  useEffect(() => {
    const c = canvas.current?.getContext('2d');
    if (!c) return;
    c.clearRect(0, 0, records.length * cw, layers.length * ch);
    records.forEach((r, ri) => r.layers.forEach((l, li) => {
      const v = Number.isFinite(l.share[KI]) ? Math.sqrt(l.share[KI]) : 0; // sqrt: small shares stay visible
      c.fillStyle = `rgba(180, 35, 24, ${v.toFixed(3)})`;
      c.fillRect(ri * cw, li * ch, cw - 1, ch - 1);
    }));
    if (hover) {
      c.strokeStyle = '#0b5cad';
      c.strokeRect(hover.ri * cw + 0.5, hover.li * ch + 0.5, cw - 2, ch - 2);
    }
  }, [records, layers.length, cw, hover]);
  const at = (e: React.MouseEvent<HTMLCanvasElement>) => {
    const b = e.currentTarget.getBoundingClientRect();
    const ri = Math.floor((e.clientX - b.left) / cw), li = Math.floor((e.clientY - b.top) / ch);
    return ri >= 0 && ri < records.length && li >= 0 && li < layers.length ? { ri, li } : null;
  };
  return (
    <div className="heat">
      <div className="heat-rows" aria-hidden="true">{layers.map((l) => <div key={l.name} style={{ height: ch }}>{short(l.name)}</div>)}</div>
      <div>
        <canvas ref={canvas} width={records.length * cw} height={layers.length * ch} data-testid="spectral-heatmap"
          role="img" aria-label={`Principal share per layer (rows) and record (columns, steps ${records.map((r) => r.step).join(', ')})`}
          onMouseMove={(e) => onHover(at(e))} onMouseLeave={() => onHover(null)} />
        <div className="hint">step {records[0]?.step} → {records[records.length - 1]?.step}</div>
      </div>
    </div>
  );
}

function MeanChart({ runs }: { runs: { name: string; color: string; records: SpectralRecord[] }[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || runs.length === 0) return;
    const steps = [...new Set(runs.flatMap((r) => r.records.map((x) => x.step)))].sort((a, b) => a - b);
    const col = (r: (typeof runs)[number]) => steps.map((s) => r.records.find((x) => x.step === s)?.mean.share[KI] ?? null);
    const random = steps.map((s) => runs.flatMap((r) => r.records).find((x) => x.step === s)?.mean.random[KI] ?? null);
    const plot = new uPlot({
      width: Math.max(280, el.clientWidth), height: 180, scales: { x: { time: false }, y: { range: [0, 1] } },
      axes: [{ label: 'step' }, { label: 'principal share', size: 50 }], legend: { show: false },
      series: [{}, ...runs.map((r) => ({ label: r.name, stroke: r.color, width: 2 })), { label: 'random update', stroke: '#57606a', dash: [4, 4] }],
    }, [steps, ...runs.map(col), random], el);
    return () => plot.destroy();
  }, [runs]);
  return <div ref={box} data-testid="spectral-mean" role="img" aria-label={`Model-average principal share per step: ${runs.map((r) => `${r.name} ${pct(r.records[r.records.length - 1].mean.share[KI])}`).join(', ')}`} />;
}

function Readout({ r, l }: { r: SpectralRecord; l: SpectralLayer }) {
  const max = Math.max(...l.sv, 1e-30);
  return (
    <div className="spectral-readout" data-testid="spectral-readout">
      <strong>{short(l.name)}</strong>, step {r.step}: principal share {pct(l.share[KI])} (random {pct(l.random[KI])}) at k = {l.ks[KI]};
      effective rank {l.effRank.toFixed(1)}; top subspace turned {l.angle[KI].toFixed(1)}°; ‖ΔW‖ {l.norm.toExponential(2)}
      <div className="sv-bars" aria-label={`Singular values of the update: ${l.sv.map((v) => v.toExponential(2)).join(', ')}`}>
        {l.sv.map((v, i) => <span key={i} style={{ height: `${Math.max(2, (40 * v) / max)}px` }} title={v.toExponential(3)} />)}
      </div>
    </div>
  );
}

/** What each method's numbers mean, in one line, and its table. */
function internalsView(x: Internals): { title: string; text: string; cols: string[]; rows: { name: string; values: number[] }[] } {
  switch (x.method) {
    case 'adalora':
      return {
        title: 'AdaLoRA rank budget',
        text: 'The update is P·diag(E)·Q; a layer’s rank is how many of its r “singular values” E are nonzero: the rank allocator zeroes the least important ones down to the model’s budget (with allocation off, every layer keeps r).',
        cols: ['rank', 'max |E|'], rows: x.layers.map((l) => ({ name: l.name, values: [l.rank, l.eMax] })),
      };
    case 'dora':
      return {
        title: 'DoRA magnitude change',
        text: 'DoRA trains a magnitude m per output row, starting at W₀’s row norms m₀; how far it has moved: the whole vector’s relative change and the largest single row’s.',
        cols: ['‖m − m₀‖/‖m₀‖', 'max |m/m₀ − 1|'], rows: x.layers.map((l) => ({ name: l.name, values: [l.rel, l.maxDev] })),
      };
    case 'vera':
      return {
        title: 'VeRA scales',
        text: 'VeRA trains only two vectors per layer over shared frozen random projections: λ_d (one per rank, starts at d_initial) and λ_b (one per output, starts at 0: the update grows with it).',
        cols: ['mean |λ_d|', 'max |λ_d|', 'mean |λ_b|', 'max |λ_b|'], rows: x.layers.map((l) => ({ name: l.name, values: [l.dMean, l.dMax, l.bMean, l.bMax] })),
      };
    case 'ia3':
      return {
        title: 'IA³ scales',
        text: 'IA³ multiplies the layer’s output (down_proj: its input, the MLP activation) by a learned vector l that starts at 1; RMS |l − 1| is how far it has moved.',
        cols: ['mean', 'min', 'max', 'RMS |l − 1|'], rows: x.layers.map((l) => ({ name: l.name, values: [l.mean, l.min, l.max, l.rms1] })),
      };
  }
}

const num = (x: number) => (Number.isInteger(x) ? String(x) : Math.abs(x) >= 1e-3 ? x.toFixed(4) : x.toExponential(2));

function InternalsTable({ r, hovered }: { r: SpectralRecord; hovered: string | null }) {
  const x = r.internals!, v = internalsView(x);
  return (
    <div className="internals" data-testid="spectral-internals">
      <strong>{v.title}</strong>, step {r.step}{x.method === 'adalora' && ` (r = ${x.r}${x.budget === null ? '' : `; scheduled budget ${x.budget} over ${x.layers.length} layers`})`}
      <p className="hint">{v.text}</p>
      <div className="table-wrap" tabIndex={0} role="region" aria-label={`${v.title} per layer at step ${r.step}`}>
        <table>
          <thead><tr><th scope="col">layer</th>{v.cols.map((c) => <th key={c} scope="col" className="num">{c}</th>)}</tr></thead>
          <tbody>
            {v.rows.map((l) => (
              <tr key={l.name} className={l.name === hovered ? 'selected' : undefined}>
                <th scope="row">{short(l.name)}</th>{l.values.map((n, i) => <td key={i} className="num">{num(n)}</td>)}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** What the latest record cost the run (records stored before these fields existed say nothing). */
function Cost({ r }: { r: SpectralRecord }) {
  if (typeof r.waitSeconds !== 'number') return null;
  return (
    <p className="hint" data-testid="spectral-cost">
      The step-{r.step} record took {r.seconds.toFixed(2)} s to measure{r.offThread
        ? `, on a worker thread while training went on; the run waited ${r.waitSeconds.toFixed(2)} s for the weights to be read.`
        : ', on the training thread (no worker was available): the run waited for all of it.'}
    </p>
  );
}

export function SpectralPanel() {
  const byRun = useSpectral((s) => s.byRun);
  const runs = useRuns((s) => s.runs);
  const selected = useRuns((s) => s.selected);
  const liveId = useLive((s) => s.runId);
  const planned = useConfig((s) => s.config.peft.method);
  const liveMethod = runs.find((r) => r.id === liveId)?.config.peft.method ?? planned; // the live run's, else the experiment's
  const shown = runs.filter((r) => (selected.includes(r.id) || r.id === liveId) && (byRun[r.id]?.length ?? 0) > 0)
    .map((r) => ({ id: r.id, name: r.name, color: r.color, records: byRun[r.id] }));
  const [pick, setPick] = useState<string | null>(null);
  const [hover, setHover] = useState<{ ri: number; li: number } | null>(null);
  const cur = shown.find((r) => r.id === pick) ?? shown.find((r) => r.id === liveId) ?? shown[0];
  const h = cur && hover ? { r: cur.records[hover.ri], l: cur.records[hover.ri]?.layers[hover.li] } : null;
  const inner = h?.r ?? cur?.records[cur.records.length - 1]; // the internals at the hovered step, else the latest
  return (
    <section className="card spectral" aria-labelledby="spectral-heading">
      <h2 id="spectral-heading">Where the updates land</h2>
      <p className="hint">
        Every {SPECTRAL_EVERY} steps, for each adapted layer: how much of the update ΔW = W − W₀ lies in the pretrained
        weight’s top singular directions (the top eighth of its rank), ‖U<sub>k</sub>ᵀ ΔW V<sub>k</sub>‖² / ‖ΔW‖²,
        against what a random update would give. The study explains PiSSA’s collapse with it: RL’s updates
        land <em>off</em> those directions, and PiSSA trains exactly them. Compare a LoRA run with a PiSSA run.
      </p>
      {!cur && (
        <p className="hint" data-testid="spectral-empty">
          {liveMethod === 'ln_tuning'
            ? 'LN tuning trains only the RMSNorm weights, vectors that scale each channel: no weight matrix changes, so there is no update to place here. (What it learns in the default experiment is the last norm’s scale, the model’s inverse temperature: docs/STUDY.md.) Run LoRA or PiSSA to see this view.'
            : `No records yet: they come with the run’s step ${SPECTRAL_EVERY}.`}
        </p>
      )}
      {cur && (
        <>
          {shown.length > 1 && (
            <label className="field">Heat map of{' '}
              <select value={cur.id} onChange={(e) => setPick(e.target.value)}>{shown.map((r) => <option key={r.id} value={r.id}>{r.name}</option>)}</select>
            </label>
          )}
          <HeatMap records={cur.records} hover={hover} onHover={setHover} />
          {h?.r && h.l ? <Readout r={h.r} l={h.l} /> : <p className="hint">Hover the map for a layer’s numbers and singular values.</p>}
          <MeanChart runs={shown} />
          <Cost r={cur.records[cur.records.length - 1]} />
          {inner?.internals && <InternalsTable r={inner} hovered={h?.l?.name ?? null} />}
        </>
      )}
    </section>
  );
}
