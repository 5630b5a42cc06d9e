// The Study view: the shipped results of `npm run study` (public/study/<preset>.json) as tables beside
// the paper's numbers, each of the study's findings with its verdict at the lab's scale and the
// statistic behind it, learning curves per setting with the seeds' band, and a button per run that
// loads its config into the experiment panel, so a visitor reruns it and sees it beside the seeds.
import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { PAPER_ACCURACY } from '../store/grid.ts';
import { loadConfig } from '../store/config.ts';
import { PRESET_IDS, type Row, type StudyPreset, type StudyResults } from '../study/results.ts';
import { judge, type Finding } from '../study/verdicts.ts';

type Loaded = Partial<Record<StudyPreset, StudyResults>>;

const TITLES: Record<StudyPreset, string> = {
  methods: 'Methods', loss: 'Loss type', lr: 'Learning rate', rank: 'Rank', batch: 'Batch size',
};

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const pts = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}`;

async function fetchResults(): Promise<{ loaded: Loaded; missing: StudyPreset[]; error: string | null }> {
  const loaded: Loaded = {};
  const missing: StudyPreset[] = [];
  let error: string | null = null;
  await Promise.all(PRESET_IDS.map(async (p) => {
    try {
      const r = await fetch(`/study/${p}.json`);
      if (!r.ok || !(r.headers.get('content-type') ?? '').includes('json')) {
        missing.push(p);
        return;
      }
      const j = (await r.json()) as StudyResults;
      if (j.preset !== p || !Array.isArray(j.rows)) throw new Error(`/study/${p}.json is not a study results file`);
      loaded[p] = j;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
  }));
  return { loaded, missing, error };
}

const VERDICT_CLASS: Record<string, string> = {
  'reproduces': 'verdict-yes', 'does not reproduce': 'verdict-no', 'inconclusive': 'verdict-maybe', 'not run': 'verdict-maybe',
};

function FindingItem({ f }: { f: Finding }) {
  return (
    <li className="finding" data-finding={f.id}>
      <span className={`verdict ${VERDICT_CLASS[f.verdict]}`}>{f.verdict}</span> {f.claim}
      <div className="hint">
        Test: {f.test}.{' '}
        {f.comparisons.map((c) => `${c.what} = ${pts(c.delta)} ± ${(100 * c.se).toFixed(1)} points`).join('; ')}
      </div>
    </li>
  );
}

function RewardCurves({ rows, selected }: { rows: Row[]; selected: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || rows.length === 0) return;
    const sel = rows.find((r) => r.group === selected) ?? rows[0];
    const steps = sel.curve.step;
    const align = (r: Row) => steps.map((s) => {
      const i = r.curve.step.indexOf(s);
      return i < 0 ? null : r.curve.mean[i];
    });
    const data: uPlot.AlignedData = [steps, sel.curve.lo, sel.curve.hi, ...rows.map(align)];
    const colors = ['#0969da', '#cf222e', '#1a7f37', '#8250df', '#bc4c00', '#0a3069', '#bf3989', '#57606a'];
    const plot = new uPlot({
      width: Math.max(280, el.clientWidth), height: 220,
      scales: { x: { time: false }, y: { range: [0, 1] } },
      axes: [{ label: 'step' }, { label: 'training reward', size: 50 }],
      legend: { show: false },
      series: [
        {},
        { label: `${sel.setting} min`, stroke: 'transparent', points: { show: false } },
        { label: `${sel.setting} max`, stroke: 'transparent', points: { show: false } },
        ...rows.map((r, i) => ({ label: r.setting, stroke: colors[i % colors.length], width: r.group === sel.group ? 2.5 : 1, points: { show: false } })),
      ],
      bands: [{ series: [2, 1], fill: 'rgba(9,105,218,0.15)' }],
    }, data, el);
    return () => plot.destroy();
  }, [rows, selected]);
  return <div ref={box} className="study-chart" role="img" aria-label="Training reward per step for each setting; the band spans the seeds of the selected one" />;
}

function Table({ res, onSelect, selected }: { res: StudyResults; onSelect: (g: string) => void; selected: string }) {
  const [seedOf, setSeedOf] = useState<Record<string, number>>({});
  const paper = res.preset === 'methods';
  return (
    <table className="study-table">
      <caption>{res.name}: held-out in-distribution avg@{res.base.evalK} on {res.base.evalProblems} problems, mean ± s.d. over seeds</caption>
      <thead>
        <tr>
          <th scope="col">Setting</th><th scope="col">n</th><th scope="col">Start</th><th scope="col">End</th><th scope="col">Change (points)</th>
          <th scope="col" title="Share of the final update ‖ΔW‖² in the pretrained weight's top singular subspace (k = rank/8), over the seeds; a random update: the value in brackets">Principal share</th>
          <th scope="col">Trainable</th><th scope="col">Time/run</th>{paper && <th scope="col">Paper (1.5B)</th>}<th scope="col">Rerun</th>
        </tr>
      </thead>
      <tbody>
        {res.rows.map((r) => {
          const seed = seedOf[r.group] ?? 0;
          return (
            <tr key={r.group} className={r.group === selected ? 'selected' : undefined} onClick={() => onSelect(r.group)}>
              <th scope="row">{r.setting}</th>
              <td>{r.end.n}</td>
              <td>{pct(r.start.mean)}</td>
              <td>{pct(r.end.mean)} ± {(100 * r.end.sd).toFixed(1)}</td>
              <td>{pts(r.change.mean)} ± {(100 * r.change.sd).toFixed(1)}</td>
              <td>{r.share ? `${pct(r.share.mean)} (${pct(r.share.random)})` : '—'}</td>
              <td>{r.trainable.toLocaleString('en')}</td>
              <td>{r.seconds.toFixed(0)} s</td>
              {paper && <td>{PAPER_ACCURACY[r.method] !== undefined ? pct(PAPER_ACCURACY[r.method]!) : '—'}</td>}
              <td>
                <label className="seed-pick">Seed{' '}
                  <select aria-label={`Seed of ${r.setting} to load`} value={seed} onChange={(e) => setSeedOf({ ...seedOf, [r.group]: Number(e.target.value) })}>
                    {r.configs.map((c, i) => <option key={i} value={i}>{c.seed}</option>)}
                  </select>
                </label>{' '}
                <button type="button" className="small secondary" aria-label={`Load the config of ${r.setting}, seed ${r.configs[seed]?.seed}`}
                  onClick={(e) => { e.stopPropagation(); loadConfig(r.configs[seed], { kind: 'url', base: res.model }); }}>Load config</button>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function StudyPanel() {
  const [state, setState] = useState<{ loaded: Loaded; missing: StudyPreset[]; error: string | null } | null>(null);
  const [preset, setPreset] = useState<StudyPreset>('methods');
  const [selected, setSelected] = useState('');
  useEffect(() => {
    void fetchResults().then(setState);
  }, []);
  const res = state?.loaded[preset];
  const findings = state ? judge(state.loaded) : [];
  return (
    <section aria-labelledby="study-heading" className="card study">
      <h2 id="study-heading">The study, reproduced</h2>
      <p className="hint">
        Every method and the study’s four ablations, run headless with <code>npm run study</code> on the shipped
        model, several seeds each. A finding <em>reproduces</em> when the difference it claims exceeds two standard
        errors over seeds, <em>does not</em> when the opposite does, and is <em>inconclusive</em> otherwise. The paper
        column is DeepSeek-R1-Distill-Qwen-1.5B on math: a reference for the ranking, not for the absolute numbers.
      </p>
      {!state && <p role="status">Loading the study’s results…</p>}
      {state?.error && <p role="alert">Could not read the study’s results: {state.error}</p>}
      {state && (
        <>
          <h3>Findings</h3>
          <ul className="findings">{findings.map((f) => <FindingItem key={f.id} f={f} />)}</ul>
          {state.missing.length > 0 && <p className="hint">Not run yet: {state.missing.map((p) => TITLES[p]).join(', ')}.</p>}
          <div role="tablist" aria-label="Study tables" className="study-tabs">
            {PRESET_IDS.map((p) => (
              <button key={p} type="button" role="tab" aria-selected={p === preset} disabled={!state.loaded[p]}
                onClick={() => { setPreset(p); setSelected(''); }}>{TITLES[p]}</button>
            ))}
          </div>
          {res && (
            <div role="tabpanel" aria-label={TITLES[preset]}>
              <Table res={res} onSelect={setSelected} selected={selected || res.rows[0]?.group} />
              <RewardCurves rows={res.rows} selected={selected || res.rows[0]?.group} />
              <p className="hint">Made by <code>{res.command}</code> on {res.machine}, {res.createdAt.slice(0, 10)}. Scaled from the paper: {res.scaled.join('; ')}.</p>
            </div>
          )}
        </>
      )}
    </section>
  );
}
