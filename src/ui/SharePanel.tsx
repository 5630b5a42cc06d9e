// Sharing: the link that reproduces the experiment, the trained adapter in PEFT's format, and
// configs that run the same experiment with HF TRL (GRPOTrainer + PEFT) or verl on real hardware.
import { useId, useState } from 'react';
import { shareBlocked, shareLink, useConfig } from '../store/config.ts';
import { runById, useRuns } from '../store/runs.ts';
import { trlScript, verlYaml } from '../store/trl-verl-export.ts';
import { useLive } from '../store/training.ts';
import { download } from './download.ts';
import { exportAdapter } from './RunsPanel.tsx';

export function SharePanel() {
  const id = useId();
  const blocked = useConfig((s) => shareBlocked(s));
  const link = useConfig((s) => (shareBlocked(s) ? '' : shareLink(s)));
  const [copied, setCopied] = useState<string | null>(null);
  const liveId = useLive((s) => s.runId);
  const liveState = useLive((s) => s.state);
  const liveName = useRuns((s) => s.runs.find((r) => r.id === liveId)?.name);
  const pending = useLive((s) => s.pending === 'export');
  const copy = () => {
    navigator.clipboard?.writeText(link).then(() => setCopied('Link copied.'), () => setCopied('Copy the link from the box (the clipboard is not available).'));
  };
  // A setting the target cannot express refuses the export with the reason (docs/SCALE-OUT.md).
  const save = (name: string, text: () => string, type: string) => {
    try {
      download(name, text(), type);
    } catch (e) {
      setCopied(e instanceof Error ? e.message : String(e));
    }
  };
  const cfg = () => useConfig.getState().config;
  const model = () => useConfig.getState().model;
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Share and take it further</h2>
      <div className="field">
        <label htmlFor={`${id}-link`}>Link to this experiment</label>
        <div className="link-row">
          <input id={`${id}-link`} type="text" readOnly value={link} data-testid="share-link" onFocus={(e) => e.target.select()} />
          <button type="button" onClick={copy} disabled={!!blocked}>Copy link</button>
        </div>
        {blocked && <p className="bad" data-testid="share-blocked">{blocked}</p>}
        <span className="hint">Opening it sets every setting as it is now, so the run can be reproduced (same seed, same curves).</span>
        {copied && <p role="status" className="detail">{copied}</p>}
      </div>
      <div className="button-row">
        <button type="button" disabled={!liveName || liveState === 'running' || liveState === 'loading' || pending} onClick={() => {
          const r = runById(liveId);
          if (r) void exportAdapter(r);
        }}>
          Export adapter (PEFT)
        </button>
        <button type="button" className="secondary" onClick={() => save('rlvr_lab_trl_grpo.py', () => trlScript(cfg(), model()), 'text/x-python')}>TRL + PEFT script</button>
        <button type="button" className="secondary" onClick={() => save('rlvr_lab_verl.yaml', () => verlYaml(cfg(), model()), 'text/yaml')}>verl config</button>
      </div>
      <p className="hint">
        The adapter export is what <code>PeftModel.save_pretrained</code> writes (adapter_config.json + adapter_model.safetensors),
        zipped; full fine-tuning exports the model’s weights instead. {liveName ? `It exports ${liveName}; pause or stop it first.` : 'Train a run first (or use a run’s Adapter button below).'}{' '}
        The TRL and verl files carry the same method and hyperparameters for a real model and cluster.
      </p>
    </section>
  );
}
