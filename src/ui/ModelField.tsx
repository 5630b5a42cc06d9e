// The base model: the shipped models of the catalogue, the random (untrained) sizes, or any
// checkpoint folder on this site; below it, the chosen checkpoint's download (a progress bar in MB)
// or what went wrong with it, with Retry. Nothing else in the experiment changes on an error.
import { useState } from 'react';
import { MODEL_SIZES, type ModelSize } from '../model/source.ts';
import { chooseShipped, retryModel, setModel, useConfig, type ConfigState } from '../store/config.ts';
import { getTask, taskIds } from '../tasks/index.ts';
import { entryFor } from '../store/catalogue.ts';
import { mb } from '../worker/download.ts';
import { formatCount } from './format.ts';
import './model.css';

const CHECKPOINT = '__checkpoint__';

const catalogueOf = (s: ConfigState) => (s.catalogue.status === 'ready' ? s.catalogue.catalogue : null);

function LoadStatus() {
  const load = useConfig((s) => (s.model.kind === 'url' && s.modelLoad?.base === s.model.base ? s.modelLoad : null));
  if (!load) return null;
  if (load.status === 'failed') {
    return (
      <div className="model-load" data-testid="model-error" role="alert">
        <p className="field-error">{load.error}</p>
        <button type="button" className="small" onClick={retryModel}>Retry</button>
        <span className="hint"> the download, or choose another model above.</span>
      </div>
    );
  }
  const { received, total, summary } = load;
  const percent = total ? Math.min(100, Math.floor((100 * received) / total)) : null;
  const amount = total ? `${mb(received)} of ${mb(total)} (${percent}%)` : mb(received);
  return (
    <div className="model-load" data-testid="model-load" data-status={load.status} data-percent={percent ?? undefined}>
      <progress max={total ?? undefined} value={total ? received : undefined} aria-label="Model download" />
      <span className="hint">
        {load.status === 'loading' ? `Downloading model.safetensors: ${amount}` : `Loaded: ${amount}`}
        {summary && `, ${formatCount(summary.parameters)} parameters${summary.sha256Checked ? ', SHA-256 checked' : ''}.`}
      </span>
    </div>
  );
}

export function ModelField() {
  const catalogue = useConfig(catalogueOf);
  const catalogueError = useConfig((s) => (s.catalogue.status === 'failed' ? s.catalogue.error : null));
  const base = useConfig((s) => (s.model.kind === 'url' ? s.model.base : ''));
  const size = useConfig((s) => (s.model.kind === 'random' ? s.model.size : null));
  const failed = useConfig((s) => s.model.kind === 'url' && s.modelLoad?.base === s.model.base && s.modelLoad.status === 'failed');
  const entry = base ? entryFor(catalogue, base) : null;
  // "A checkpoint on this site" stays open while the visitor types a path, even one the catalogue lists.
  const [typing, setTyping] = useState(false);
  const [draft, setDraft] = useState<string | null>(null);
  const value = size ?? (entry && !typing ? entry.path : CHECKPOINT);
  const commit = () => {
    const path = draft?.trim();
    if (path && path !== base) setModel({ kind: 'url', base: path });
    setDraft(null);
  };
  const choose = (v: string) => {
    const shipped = entryFor(catalogue, v);
    setTyping(v === CHECKPOINT);
    if (shipped) chooseShipped(shipped);
    else if ((MODEL_SIZES as readonly string[]).includes(v)) setModel({ kind: 'random', size: v as ModelSize });
  };
  return (
    <div className={`field${failed ? ' invalid' : ''}`}>
      <label htmlFor="model-source">Base model</label>
      <select id="model-source" value={value} aria-describedby="model-hint" onChange={(e) => choose(e.target.value)}>
        {catalogue && catalogue.models.length > 0 && (
          <optgroup label="Shipped with the lab (distilled)">
            {catalogue.models.map((m) => <option key={m.path} value={m.path}>{`${m.name} (${formatCount(m.parameters)} parameters)`}</option>)}
          </optgroup>
        )}
        <optgroup label="Random (untrained)">
          {MODEL_SIZES.map((m) => <option key={m} value={m}>{`random ${m} model (untrained)`}</option>)}
        </optgroup>
        <option value={CHECKPOINT}>a checkpoint on this site…</option>
      </select>
      {value === CHECKPOINT && (
        <>
          <label htmlFor="model-base">Checkpoint folder (config.json + model.safetensors)</label>
          <input id="model-base" type="text" value={draft ?? base} placeholder="/models/name" spellCheck={false}
            onChange={(e) => setDraft(e.target.value)} onBlur={commit} onKeyDown={(e) => { if (e.key === 'Enter') commit(); }} />
        </>
      )}
      <span id="model-hint" className="hint">
        {entry && value !== CHECKPOINT
          ? `${entry.description} Distilled for the ${taskIds.includes(entry.task) ? getTask(entry.task).name : entry.task} task.`
          : 'A random model learns only the warm-up task; a distilled checkpoint can learn the others.'}
      </span>
      {catalogueError && (
        <p className="notice" data-testid="catalogue-note">
          The list of shipped models could not be read ({catalogueError}), so the page starts with a random tiny
          model. Reload the page to try again.
        </p>
      )}
      <LoadStatus />
    </div>
  );
}
