// Sweeps: build a grid over method, rank, learning rate, loss type, batch size and seeds (or pick
// one of the study's experiments), queue it, and read the results table as the runs finish.
import { useId, useState } from 'react';
import { useStore } from 'zustand';
import type { ModelSource } from '../model/source.ts';
import { methodIds, methods } from '../peft/registry.ts';
import type { MethodId } from '../peft/types.ts';
import type { LossType } from '../rl/loss.ts';
import { currentIssues, modelConfigOf, useConfig } from '../store/config.ts';
import type { RunRecord } from '../store/db.ts';
import { aggregate, estimateSweepSeconds, expandGrid, parseList, SWEEP_PRESETS, type CostSample, type GridItem, type GridSpec, type ResultInput } from '../store/grid.ts';
import { encodeModel } from '../store/share.ts';
import type { BackendChoice } from '../worker/protocol.ts';
import { useRuns } from '../store/runs.ts';
import { peekSeries, seriesClock } from '../store/series.ts';
import { clearSweep, continueSweep, createSweep, pauseSweep, useSweep } from '../store/sweep.ts';
import { configIssues } from '../store/validate.ts';
import { formatCount, formatSeconds } from './format.ts';

const LOSSES: LossType[] = ['grpo', 'dapo', 'dr_grpo'];
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '—');
/** "41.2% ± 3.1%" over seeds; one seed has no spread to show. */
const meanSpread = (x: { mean: number; spread: number }, runs: number) => (runs > 1 ? `${pct(x.mean)} ± ${pct(x.spread)}` : `${pct(x.mean)} (one seed)`);

function ListField({ label, value, onChange, error, hint }: { label: string; value: string; onChange: (v: string) => void; error: string | null; hint?: string }) {
  const id = useId();
  return (
    <div className={`field${error ? ' invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      <input id={id} type="text" value={value} onChange={(e) => onChange(e.target.value)} aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-e` : hint ? `${id}-h` : undefined} />
      {hint && <span id={`${id}-h`} className="hint">{hint}</span>}
      {error && <p id={`${id}-e`} className="field-error">{error}</p>}
    </div>
  );
}

function Builder() {
  const [name, setName] = useState('Sweep');
  const [chosen, setChosen] = useState<MethodId[]>(['lora', 'dora']);
  const [losses, setLosses] = useState<LossType[]>([]);
  const [ranks, setRanks] = useState('');
  const [lrs, setLrs] = useState('');
  const [batches, setBatches] = useState('');
  const [seeds, setSeeds] = useState('0, 1');
  const config = useConfig((s) => s.config);
  const baseInvalid = useConfig((s) => currentIssues(s).length > 0);
  const running = useSweep((s) => s.sweep?.active === true);
  const r = parseList(ranks, 'ranks', true, 1), l = parseList(lrs, 'learning rates', false, 1e-9);
  const b = parseList(batches, 'prompts per step', true, 1), sd = parseList(seeds, 'seeds', true, 0);
  const spec: GridSpec = { methods: chosen, ranks: r.values, lrs: l.values, lossTypes: losses, batchSizes: b.values, seeds: sd.values };
  const items = r.error || l.error || b.error || sd.error ? [] : expandGrid(config, spec);
  const cs = useConfig.getState();
  const invalid = items.filter((it) => configIssues(it.config, modelConfigOf({ ...cs, config: it.config })).length > 0);
  const applyPreset = (key: string) => {
    const p = SWEEP_PRESETS[key]?.spec;
    if (!p) return;
    setName(SWEEP_PRESETS[key].name.split(' (')[0]);
    setChosen(p.methods ?? ['lora']);
    setLosses(p.lossTypes ?? []);
    setRanks((p.ranks ?? []).join(', '));
    // The learning-rate ablation brackets the experiment's own rate.
    const lr = useConfig.getState().config.lr;
    setLrs((p.lrs ?? (key === 'lr' && Number.isFinite(lr) ? [lr / 3, lr, lr * 3] : [])).map((x) => String(Number(x.toPrecision(3)))).join(', '));
    setBatches((p.batchSizes ?? []).join(', '));
    setSeeds((p.seeds ?? [0]).join(', '));
  };
  return (
    <>
      <div className="field-grid">
        <div className="field">
          <label htmlFor="sweep-preset">The study’s experiments</label>
          <select id="sweep-preset" defaultValue="" onChange={(e) => applyPreset(e.target.value)}>
            <option value="" disabled>Choose a preset…</option>
            {Object.entries(SWEEP_PRESETS).map(([k, v]) => <option key={k} value={k}>{v.name}</option>)}
          </select>
        </div>
        <ListField label="Sweep name" value={name} onChange={setName} error={null} />
      </div>
      <fieldset className="field targets">
        <legend>Methods</legend>
        <div className="target-list">
          {methodIds.map((m) => (
            <label key={m} className="target">
              <input type="checkbox" checked={chosen.includes(m)} aria-label={`Sweep method: ${methods[m].name}`}
                onChange={(e) => setChosen(e.target.checked ? [...chosen, m] : chosen.filter((x) => x !== m))} />
              {methods[m].name}
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset className="field targets">
        <legend>Loss types (none checked: the experiment’s recipe)</legend>
        <div className="target-list">
          {LOSSES.map((x) => (
            <label key={x} className="target">
              <input type="checkbox" checked={losses.includes(x)} aria-label={`Sweep loss type: ${x}`}
                onChange={(e) => setLosses(e.target.checked ? [...losses, x] : losses.filter((y) => y !== x))} /> {x}
            </label>
          ))}
        </div>
      </fieldset>
      <div className="field-grid">
        <ListField label="Ranks" value={ranks} onChange={setRanks} error={r.error} hint="Empty: the experiment’s." />
        <ListField label="Learning rates" value={lrs} onChange={setLrs} error={l.error} hint="Empty: the experiment’s." />
        <ListField label="Prompts per step" value={batches} onChange={setBatches} error={b.error} hint="Empty: the experiment’s." />
        <ListField label="Seeds" value={seeds} onChange={setSeeds} error={sd.error} />
      </div>
      <p className="hint" data-testid="sweep-count">
        {items.length} runs of {config.steps} steps each, with the rest of the experiment’s settings.
        {invalid.length > 0 && ` ${invalid.length} of them have invalid settings and will be skipped.`}
      </p>
      <SweepSettings items={items.filter((it) => !invalid.includes(it))} spec={spec} />
      <button type="button" disabled={running || baseInvalid || items.length - invalid.length === 0}
        onClick={() => createSweep(name, items.filter((it) => !invalid.includes(it)), cs.model, cs.backend)}>Start sweep</button>
    </>
  );
}

/** Seconds per sampled completion of the latest run that took steps on this model, task and backend. */
function measuredCost(runs: RunRecord[], model: ModelSource, task: string, backend: BackendChoice): CostSample | null {
  const same = runs.filter((r) => r.step > 0 && r.seconds > 0 && r.backend === backend && r.config.task === task && encodeModel(r.model) === encodeModel(model));
  const r = same.sort((a, b) => b.createdAt - a.createdAt)[0];
  return r ? { name: r.name, secondsPerSample: r.seconds / (r.step * r.config.promptsPerStep * r.config.groupSize) } : null;
}

/** What every run of the sweep uses, before it starts: what the grid varies, what stays the
 * experiment's, and how long it should take. */
function SweepSettings({ items, spec }: { items: GridItem[]; spec: GridSpec }) {
  const config = useConfig((s) => s.config);
  const model = useConfig((s) => s.model);
  const backend = useConfig((s) => s.backend);
  const runs = useRuns((s) => s.runs);
  const cost = measuredCost(runs, model, config.task, backend);
  const seconds = estimateSweepSeconds(items, cost);
  const alphas = [...new Set(items.map((it) => it.config.peft.alpha))];
  const varied = (xs: unknown[], what: string, own: string) => (xs.length ? `${what} from the grid` : `${what} ${own} (the experiment’s)`);
  return (
    <div className="sweep-settings" data-testid="sweep-settings">
      <p className="hint">
        Each run: {varied(spec.lrs, 'learning rate', String(config.lr))}; {varied(spec.ranks, 'rank', String(config.peft.r))};
        α {alphas.join(', ') || String(config.peft.alpha)} (not scaled with the rank);
        {' '}{varied(spec.lossTypes, 'recipe', `${config.lossType} loss, clip ${config.epsLow}/${config.epsHigh}`)};
        {' '}{varied(spec.batchSizes, 'prompts per step', String(config.promptsPerStep))} × group {config.groupSize};
        {' '}{config.steps} steps, evaluation every {config.evalEvery} ({config.evalProblems} problems × k {config.evalK}); on the {backend === 'cpu' ? 'CPU backend' : 'WebGPU backend'}.
      </p>
      <p className="hint" data-testid="sweep-estimate">
        {seconds === null
          ? 'Time: not measured yet on this model, task and backend. Start one run (a step is enough), and the estimate appears here.'
          : `Time: about ${formatSeconds(seconds)} for the ${items.length} runs (from ${cost?.name}’s measured ${formatSeconds(cost ? cost.secondsPerSample * config.promptsPerStep * config.groupSize : null)} per step at these batch sizes; evaluations included).`}
      </p>
    </div>
  );
}

function Results() {
  useStore(seriesClock, (s) => s.version);
  const sweep = useSweep((s) => s.sweep);
  const runs = useRuns((s) => s.runs);
  if (!sweep) return null;
  const inputs: ResultInput[] = sweep.items.flatMap((it) => {
    const run = it.runId ? runs.find((r) => r.id === it.runId) : undefined;
    const e = it.runId ? peekSeries(it.runId)?.evals.get('in-dist') : undefined;
    if (!run || !e || it.status !== 'done') return [];
    return [{ label: it.label, method: it.config.peft.method, evals: [...e.avg.toArray()].slice(1), trainable: run.info?.trainableParams ?? null, seconds: run.seconds }];
  });
  const rows = aggregate(inputs);
  const done = sweep.items.filter((i) => i.status === 'done').length;
  return (
    <>
      <p role="status" data-testid="sweep-status">
        {sweep.name}: {done} of {sweep.items.length} runs done{sweep.active ? ', running' : ''}.{sweep.note ? ` ${sweep.note}` : ''}
      </p>
      <div className="button-row">
        {sweep.active ? <button type="button" className="secondary" onClick={pauseSweep}>Pause sweep</button>
          : done < sweep.items.length && <button type="button" onClick={continueSweep}>Continue sweep</button>}
        <button type="button" className="secondary" onClick={clearSweep} disabled={sweep.active}>Clear sweep</button>
      </div>
      {rows.length > 0 && (
        <div className="table-wrap" tabIndex={0} role="region" aria-label="Sweep results">
          <table data-testid="sweep-results">
            <caption>Held-out accuracy (avg@k, in-distribution) after training: final and best evaluation after step 0, mean ± standard deviation over seeds</caption>
            <thead>
              <tr>
                <th scope="col">Configuration</th><th scope="col" className="num">Seeds</th><th scope="col" className="num">Final</th><th scope="col" className="num">Best</th>
                <th scope="col" className="num">Trainable</th><th scope="col" className="num">Time per run</th><th scope="col" className="num">Paper (1.5B, avg.)</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.group}>
                  <td>{r.group}</td><td className="num">{r.runs}</td>
                  <td className="num">{meanSpread(r.final, r.runs)}</td><td className="num">{meanSpread(r.best, r.runs)}</td>
                  <td className="num">{r.trainable === null ? '—' : formatCount(r.trainable)}</td><td className="num">{formatSeconds(r.seconds)}</td>
                  <td className="num">{r.paper === null ? '—' : pct(r.paper)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p className="hint">The paper’s column is the study’s reported average accuracy for the method (DeepSeek-R1-Distill-Qwen-1.5B, math benchmarks), for orientation only; “—” where the lab’s notes do not record it.</p>
    </>
  );
}

export function SweepPanel() {
  const has = useSweep((s) => s.sweep !== null);
  return (
    <section className="card" aria-labelledby="sweep-heading">
      <h2 id="sweep-heading">Sweeps</h2>
      <p className="hint">A grid of runs that execute one after another with the experiment’s other settings; the queue survives a reload.</p>
      {has ? <Results /> : <Builder />}
    </section>
  );
}
