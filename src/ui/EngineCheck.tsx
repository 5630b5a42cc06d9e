// "Check engine": run the model parity check on this machine's GPU and show, for every tensor,
// how far the engine is from the HuggingFace reference.
import type { ParityRow } from '../testpage/checks.ts';
import { formatErr } from './format.ts';
import { runEngineCheck, useLab } from '../store/lab.ts';

function Summary() {
  const check = useLab((s) => s.check);
  switch (check.status) {
    case 'idle':
      return <p>Not run yet.</p>;
    case 'running':
      return (
        <p>
          {check.model ? `Checking ${check.model} (${check.index + 1} of ${check.total})…` : 'Loading the engine…'}{' '}
          On a software GPU (SwiftShader) this can take a minute.
        </p>
      );
    case 'done': {
      const failed = check.rows.filter((r) => !r.ok).length;
      const s = `${check.seconds.toFixed(1)} s`;
      if (check.rows.length === 0) return <p className="bad">The check produced no results.</p>;
      return failed === 0
        ? <p className="good">All {check.rows.length} checks passed in {s}.</p>
        : <p className="bad">{failed} of {check.rows.length} checks failed ({s}).</p>;
    }
    case 'failed':
      return <p className="bad">The check could not run: {check.message}</p>;
  }
}

function ResultsTable({ rows }: { rows: ParityRow[] }) {
  if (rows.length === 0) return null;
  return (
    // Focusable so the table can be scrolled sideways from the keyboard on narrow screens.
    <div className="table-wrap" tabIndex={0} role="region" aria-labelledby="results-caption">
      <table>
        <caption id="results-caption">Relative error ‖got − want‖ / ‖want‖ against the HuggingFace reference tensors</caption>
        <thead>
          <tr>
            <th scope="col">Backend</th>
            <th scope="col">Model</th>
            <th scope="col">Tensor</th>
            <th scope="col" className="num">Relative error</th>
            <th scope="col" className="num">Tolerance</th>
            <th scope="col">OK</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={`${r.backend}/${r.model}/${r.name}/${i}`} className={r.ok ? undefined : 'fail'}>
              <td>{r.backend}</td>
              <td>{r.model}</td>
              <td className="tensor"><code>{r.name}</code></td>
              <td className="num">{formatErr(r.relErr)}</td>
              <td className="num">{formatErr(r.tol)}</td>
              <td>{r.ok ? <span className="good">✓ ok</span> : <span className="bad">✗ fail</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function EngineCheck() {
  const gpuReady = useLab((s) => s.gpu.status === 'ready');
  const check = useLab((s) => s.check);
  const running = check.status === 'running';
  const rows = check.status === 'idle' ? [] : check.rows;
  return (
    <section aria-labelledby="check-heading" className="card">
      <h2 id="check-heading">Engine check</h2>
      <p id="check-help">
        Runs the tiny Qwen2 and Llama test models on your GPU — forward, loss, every gradient, token
        log-probabilities and greedy decoding — and compares each tensor with the same computation in
        HuggingFace transformers.
      </p>
      <button type="button" onClick={() => void runEngineCheck()} disabled={!gpuReady || running}
        aria-describedby="check-help">
        Check engine
      </button>
      {!gpuReady && <p className="detail">Needs WebGPU (see above).</p>}
      <div role="status" aria-live="polite" data-testid="check-status" data-state={check.status}>
        <Summary />
      </div>
      <ResultsTable rows={rows} />
    </section>
  );
}
