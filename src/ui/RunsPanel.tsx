// Every stored run: colour, name, status, how its config differs from the others, final reward
// and best held-out accuracy; overlay on the charts, continue, load its config, export, delete.
import { useRef } from 'react';
import { loadConfig } from '../store/config.ts';
import type { RunRecord } from '../store/db.ts';
import { differingPaths, diffSummary } from '../store/diff.ts';
import { importRuns, runCsv, runsJson } from '../store/runs-file.ts';
import { removeRun, setNotice, setSelected, useRuns } from '../store/runs.ts';
import { peekSeries, seriesClock } from '../store/series.ts';
import { adapterFiles, resumeRun, useLive } from '../store/training.ts';
import { download, fileSafe, zip } from './download.ts';
import { formatSeconds, formatValue } from './format.ts';
import { useStore } from 'zustand';

function lastValue(id: string): string {
  const s = peekSeries(id);
  if (!s || s.length === 0) return '—';
  return formatValue(s.cols.reward_mean.get(s.length - 1));
}

/** The best in-distribution held-out accuracy after training began (the step-0 score is the base
 * model's, not something the run reached). */
function bestAccuracy(id: string): string {
  const e = peekSeries(id)?.evals.get('in-dist');
  if (!e) return '—';
  let best = -Infinity;
  for (let i = 0; i < e.avg.length; i++) if (e.step.get(i) > 0) best = Math.max(best, e.avg.get(i));
  return Number.isFinite(best) ? formatValue(best) : '—';
}

export async function exportAdapter(run: RunRecord): Promise<void> {
  const out = await adapterFiles(run.id);
  if (!out) return;
  const name = fileSafe(run.name);
  download(`${name}-${out.format === 'peft' ? `${run.config.peft.method}-adapter` : 'full-model'}.zip`, zip(out.files), 'application/zip');
  setNotice(`Exported ${run.name}: ${Object.keys(out.files).join(' + ')} in a zip.`);
}

const STATUS: Record<string, string> = {
  loading: 'starting', running: 'running', paused: 'paused', stopped: 'stopped', done: 'finished', failed: 'failed', lost: 'device lost', interrupted: 'interrupted',
};

function RunRow({ run, diff, live }: { run: RunRecord; diff: string; live: boolean }) {
  const selected = useRuns((s) => s.selected.includes(run.id));
  useStore(seriesClock, (s) => s.version); // summary numbers follow the data
  const canContinue = !live && (run.status === 'interrupted' || run.status === 'stopped' || run.status === 'lost') && run.step < run.config.steps;
  return (
    <tr data-testid="run-row" data-run-name={run.name}>
      <td>
        <input type="checkbox" id={`overlay-${run.id}`} checked={selected} onChange={(e) => setSelected(run.id, e.target.checked)}
          aria-label={`Overlay ${run.name}`} />
      </td>
      <td><span className="swatch" style={{ background: run.color }} aria-hidden="true" /><label htmlFor={`overlay-${run.id}`}>{run.name}</label>{live && <span className="badge">live</span>}</td>
      <td>{STATUS[run.status] ?? run.status}, {run.step}/{run.config.steps} steps</td>
      <td className="diff" data-testid="run-diff">{diff || <span className="hint">{run.config.peft.method}</span>}</td>
      <td className="result">reward {lastValue(run.id)} · best held-out {bestAccuracy(run.id)} · {formatSeconds(run.seconds)}</td>
      <td><div className="actions">
        {canContinue && <button type="button" className="small" onClick={() => void resumeRun(run.id)}>Continue {run.name}</button>}
        <button type="button" className="small secondary" onClick={() => loadConfig(run.config, run.model)} aria-label={`Use the settings of ${run.name}`}>Use settings</button>
        <button type="button" className="small secondary" onClick={() => void exportAdapter(run)} disabled={live && useLive.getState().state === 'running'}
          aria-label={`Export the adapter of ${run.name}`}>Adapter</button>
        <button type="button" className="small secondary" onClick={() => void runCsv(run.id).then((csv) => download(`${fileSafe(run.name)}-metrics.csv`, csv, 'text/csv'))}
          aria-label={`Metrics of ${run.name} as CSV`}>CSV</button>
        <button type="button" className="small danger" onClick={() => void removeRun(run.id)} disabled={live}
          aria-label={`Delete ${run.name}`}>Delete</button>
      </div></td>
    </tr>
  );
}

export function RunsPanel() {
  const runs = useRuns((s) => s.runs);
  const notice = useRuns((s) => s.notice);
  const liveId = useLive((s) => s.runId);
  const liveActive = useLive((s) => s.state === 'running' || s.state === 'paused' || s.state === 'loading');
  const file = useRef<HTMLInputElement>(null);
  const paths = differingPaths(runs);
  return (
    <section className="card" aria-labelledby="runs-heading">
      <div className="section-head">
        <h2 id="runs-heading">Runs</h2>
        <div className="button-row">
          <button type="button" className="secondary small" disabled={runs.length === 0}
            onClick={() => void runsJson(runs.map((r) => r.id)).then((j) => download('rlvr-lab-runs.json', j, 'application/json'))}>Export runs (JSON)</button>
          <label className="button-like secondary small">
            Import runs (JSON)
            <input ref={file} type="file" accept="application/json,.json" className="visually-hidden-file" onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) void f.text().then(importRuns).finally(() => { if (file.current) file.current.value = ''; });
            }} />
          </label>
        </div>
      </div>
      {notice && <p role="status" className="detail" data-testid="runs-notice">{notice}</p>}
      {runs.length === 0 ? <p className="hint">No runs yet. Each run is kept in this browser (IndexedDB) with its settings and metrics.</p> : (
        <div className="table-wrap" tabIndex={0} role="region" aria-labelledby="runs-heading">
          <table className="runs">
            <thead>
              <tr>
                <th scope="col">Overlay</th><th scope="col">Run</th><th scope="col">Status</th><th scope="col">Differs in</th>
                <th scope="col">Result</th><th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => <RunRow key={r.id} run={r} diff={diffSummary(r, paths)} live={liveActive && r.id === liveId} />)}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
