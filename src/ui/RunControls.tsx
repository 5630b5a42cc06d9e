// Start, Pause, Resume, Stop, Reset, and what the run is doing right now.
import { useEffect, useRef } from 'react';
import { currentIssues, useConfig } from '../store/config.ts';
import { useRuns } from '../store/runs.ts';
import { pauseRun, resetRun, resumeRun, startRun, stopRun, useLive } from '../store/training.ts';
import { formatBytes, formatCount, formatSeconds, formatValue } from './format.ts';

const STATE_TEXT: Record<string, string> = {
  idle: 'Ready.', loading: 'Building the model…', running: 'Training', paused: 'Paused', stopped: 'Stopped',
  done: 'Finished', failed: 'Failed', lost: 'GPU device lost',
};

/** Pause and Stop acknowledged at once: a step finishes before the run pauses; Stop drops the work under way. */
function PendingLine() {
  const pending = useLive((s) => s.pending);
  const step = useLive((s) => s.step);
  if (pending === 'pause') return <p className="detail" data-testid="run-pending">Pausing after this step (step {step + 1}) finishes…</p>;
  if (pending === 'stop') return <p className="detail" data-testid="run-pending">Stopping…</p>;
  return null;
}

/** What the worker is doing inside the step: the held-out evaluation or the rollout, with how far
 * (outside the live region: it changes every few tokens). */
function ProgressLine() {
  const progress = useLive((s) => s.progress);
  const state = useLive((s) => s.state);
  if (!progress || state !== 'running') return null;
  const pct = Math.round((100 * progress.done) / Math.max(1, progress.total));
  const text = progress.phase === 'eval'
    ? `Evaluating on the held-out problems${progress.step === 0 ? ' before step 1' : ` after step ${progress.step}`}: ${pct}%`
    : `Step ${progress.step + 1}: generating answers, token ${progress.done} of at most ${progress.total}`;
  return (
    <p className="detail progress-line" data-testid="run-progress" data-phase={progress.phase}>
      <progress max={progress.total} value={progress.done} aria-label={text} /> {text}
    </p>
  );
}

function StatusLine() {
  const state = useLive((s) => s.state);
  const step = useLive((s) => s.step);
  const runId = useLive((s) => s.runId);
  const steps = useRuns((s) => (runId ? s.runs.find((r) => r.id === runId)?.config.steps : undefined));
  const name = useRuns((s) => (runId ? s.runs.find((r) => r.id === runId)?.name : undefined));
  const color = useRuns((s) => (runId ? s.runs.find((r) => r.id === runId)?.color : undefined));
  const message = useLive((s) => s.message);
  const error = useLive((s) => s.error);
  const reward = useLive((s) => s.latest?.reward_mean);
  const seed = useConfig((s) => s.config.seed);
  const waitingForModel = useLive((s) => s.pending === 'start' && s.state === 'idle');
  return (
    <div className="status-line" role="status" aria-live="polite" data-testid="run-status" data-state={state} data-step={step}>
      <p>
        {name && <span className="swatch" style={{ background: color }} aria-hidden="true" />}
        {name && <strong>{name}: </strong>}
        {STATE_TEXT[state] ?? state}
        {state !== 'idle' && steps !== undefined && <> — step {step} of {steps}</>}
        {reward !== undefined && state !== 'idle' && <>, reward {formatValue(reward)}</>}
        {state === 'idle' && (waitingForModel ? ' Waiting for the base model to download…' : <> Press Start to train with seed {Number.isFinite(seed) ? seed : '?'}.</>)}
      </p>
      {state === 'running' && <PendingLine />}
      {message && <p className={state === 'failed' || state === 'lost' ? 'bad' : 'detail'}>{message}</p>}
      {error && <p className="bad" data-testid="run-error">{error}</p>}
    </div>
  );
}

function RunFacts() {
  const info = useLive((s) => s.info);
  const gpuBytes = useLive((s) => s.gpuBytes);
  const rollout = useLive((s) => s.latest?.time_rollout_s);
  const train = useLive((s) => s.latest?.time_train_s);
  const evalS = useLive((s) => s.evalSeconds);
  if (!info) return null;
  return (
    <dl className="facts compact" data-testid="run-facts">
      <dt>Runs on</dt><dd>{info.device}</dd>
      <dt>Trainable</dt><dd>{formatCount(info.trainableParams)} of {formatCount(info.totalParams)} parameters ({((100 * info.trainableParams) / info.totalParams).toPrecision(3)}%)</dd>
      <dt>Time per phase</dt><dd data-testid="phase-times">rollout {formatSeconds(rollout)} · update {formatSeconds(train)} · last evaluation {formatSeconds(evalS)}</dd>
      <dt>GPU memory</dt><dd>{info.backend === 'webgpu' ? `${formatBytes(gpuBytes)} in buffers (estimate)` : 'none (CPU backend)'}</dd>
    </dl>
  );
}

/** Keep keyboard focus in the controls: a button that disables itself (Start, Pause, Resume, Stop)
 * would drop focus to the page; it moves to the first enabled control, or to the status line. */
function useFocusKeeper(row: React.RefObject<HTMLDivElement | null>, fallback: React.RefObject<HTMLDivElement | null>, deps: unknown[]) {
  const had = useRef(false);
  useEffect(() => {
    const el = row.current;
    if (!el) return;
    const onIn = () => (had.current = true);
    // Focus handed to the status line (all buttons disabled for a moment, as while a run starts on a
    // loaded machine) is still the controls' focus: it moves on to the first button enabled again.
    const onOut = (e: FocusEvent) => {
      const to = e.relatedTarget as Node | null;
      if (to && !el.contains(to) && to !== fallback.current) had.current = false;
    };
    // A click elsewhere means the visitor moved on: focus is theirs again.
    const onDown = (e: MouseEvent) => {
      if (!el.contains(e.target as Node)) had.current = false;
    };
    el.addEventListener('focusin', onIn);
    el.addEventListener('focusout', onOut);
    document.addEventListener('mousedown', onDown);
    return () => {
      el.removeEventListener('focusin', onIn);
      el.removeEventListener('focusout', onOut);
      document.removeEventListener('mousedown', onDown);
    };
  }, [row, fallback]);
  useEffect(() => {
    const active = document.activeElement;
    const lost = active === null || active === document.body || active === fallback.current
      || (active instanceof HTMLButtonElement && active.disabled && !!row.current?.contains(active));
    if (!had.current || !lost) return;
    const next = row.current?.querySelector<HTMLButtonElement>('button:not([disabled])');
    (next ?? fallback.current)?.focus({ preventScroll: true });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
}

export function RunControls() {
  const row = useRef<HTMLDivElement>(null);
  const statusBox = useRef<HTMLDivElement>(null);
  const state = useLive((s) => s.state);
  const pending = useLive((s) => s.pending);
  const runId = useLive((s) => s.runId);
  const invalid = useConfig((s) => currentIssues(s).length);
  const canContinue = useRuns((s) => {
    const r = runId ? s.runs.find((x) => x.id === runId) : undefined;
    return !!r && r.step < r.config.steps;
  });
  const busy = pending !== null;
  const active = state === 'running' || state === 'paused' || state === 'loading';
  const resumable = state === 'paused' || ((state === 'lost' || state === 'stopped') && canContinue);
  useFocusKeeper(row, statusBox, [state, pending, resumable]);
  return (
    <section className="card controls" aria-labelledby="controls-heading">
      <h2 id="controls-heading">Run</h2>
      <div className="button-row" role="group" aria-label="Run controls" ref={row}>
        <button type="button" onClick={() => void startRun()} disabled={busy || active || invalid > 0}
          aria-describedby={invalid > 0 ? 'start-blocked' : undefined}>Start</button>
        <button type="button" onClick={() => void pauseRun()} disabled={busy || state !== 'running'}>Pause</button>
        <button type="button" onClick={() => void resumeRun(runId)} disabled={busy || !resumable}>Resume</button>
        <button type="button" onClick={() => void stopRun()} disabled={(busy && pending !== 'pause') || !active} className="secondary">Stop</button>
        <button type="button" onClick={() => void resetRun()} disabled={busy || state === 'idle'} className="secondary" aria-describedby="reset-help">Reset</button>
      </div>
      <p id="reset-help" className="hint">Reset goes back to step 0 (an unfinished run is discarded); Start then repeats the run with the same seed.</p>
      {invalid > 0 && <p id="start-blocked" className="bad">Fix {invalid === 1 ? 'the highlighted setting' : `the ${invalid} highlighted settings`} to start.</p>}
      <div ref={statusBox} tabIndex={-1} className="status-box"><StatusLine /></div>
      <ProgressLine />
      <RunFacts />
    </section>
  );
}
