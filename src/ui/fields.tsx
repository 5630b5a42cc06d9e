// Config fields bound to the config store by path: a visible label, the value, and the validation
// message for that setting right under it (aria-invalid + aria-describedby, so a screen reader
// reads the message with the field). Each field selects only its own value and message.
import { useId, type ReactNode } from 'react';
import { issueFor, setLeaf, setText, useConfig } from '../store/config.ts';
import { getPath } from '../store/paths.ts';
import { PROJS, type Proj } from '../model/model.ts';

function useIssue(path: string): string | undefined {
  return useConfig((s) => issueFor(s, path));
}

function FieldError({ id, message }: { id: string; message: string | undefined }) {
  return message ? <p id={id} className="field-error" data-field-error>{message}</p> : null;
}

export function NumberField({ path, label, hint, testId }: { path: string; label: string; hint?: string; testId?: string }) {
  const id = useId();
  const raw = useConfig((s) => getPath(s.config, path));
  const draft = useConfig((s) => s.drafts[path]);
  const issue = useIssue(path);
  const value = draft ?? (typeof raw === 'number' ? (Number.isNaN(raw) ? '' : String(raw)) : '');
  const describedBy = [issue ? `${id}-err` : '', hint ? `${id}-hint` : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${issue ? ' invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      <input id={id} type="text" inputMode="decimal" autoComplete="off" spellCheck={false} value={value} data-path={path} data-testid={testId}
        aria-invalid={issue ? true : undefined} aria-describedby={describedBy} onChange={(e) => setText(path, e.target.value)} />
      {hint && <span id={`${id}-hint`} className="hint">{hint}</span>}
      <FieldError id={`${id}-err`} message={issue} />
    </div>
  );
}

export function SelectField({ path, label, options, hint, onSelect }: {
  path: string; label: string; options: { value: string; label: string }[]; hint?: ReactNode; onSelect?: (v: string) => void;
}) {
  const id = useId();
  const raw = useConfig((s) => getPath(s.config, path));
  const issue = useIssue(path);
  const value = typeof raw === 'string' ? raw : '';
  const known = options.some((o) => o.value === value);
  return (
    <div className={`field${issue ? ' invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} data-path={path} aria-invalid={issue ? true : undefined}
        aria-describedby={[issue ? `${id}-err` : '', hint ? `${id}-hint` : ''].filter(Boolean).join(' ') || undefined}
        onChange={(e) => (onSelect ? onSelect(e.target.value) : setLeaf(path, e.target.value))}>
        {!known && <option value={value}>{value === '' ? '(none)' : `${value} (unknown)`}</option>}
        {options.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
      </select>
      {hint && <span id={`${id}-hint`} className="hint">{hint}</span>}
      <FieldError id={`${id}-err`} message={issue} />
    </div>
  );
}

export function CheckField({ path, label, hint }: { path: string; label: string; hint?: string }) {
  const id = useId();
  const raw = useConfig((s) => getPath(s.config, path));
  const issue = useIssue(path);
  return (
    <div className={`field check${issue ? ' invalid' : ''}`}>
      <input id={id} type="checkbox" checked={raw === true} data-path={path} onChange={(e) => setLeaf(path, e.target.checked)}
        aria-describedby={[issue ? `${id}-err` : '', hint ? `${id}-hint` : ''].filter(Boolean).join(' ') || undefined} />
      <label htmlFor={id}>{label}</label>
      {hint && <span id={`${id}-hint`} className="hint">{hint}</span>}
      <FieldError id={`${id}-err`} message={issue} />
    </div>
  );
}

export function TargetsField({ path, label, hint }: { path: string; label: string; hint?: string }) {
  const id = useId();
  const raw = useConfig((s) => getPath(s.config, path));
  const issue = useIssue(path);
  const list = Array.isArray(raw) ? (raw as Proj[]) : [];
  const toggle = (p: Proj, on: boolean) => setLeaf(path, PROJS.filter((x) => (x === p ? on : list.includes(x))));
  return (
    <fieldset className={`field targets${issue ? ' invalid' : ''}`} aria-describedby={issue ? `${id}-err` : undefined}>
      <legend>{label}</legend>
      {hint && <span className="hint">{hint}</span>}
      <div className="target-list">
        {PROJS.map((p) => (
          <label key={p} className="target">
            <input type="checkbox" checked={list.includes(p)} aria-label={`${label}: ${p}`} onChange={(e) => toggle(p, e.target.checked)} />
            {p.replace('_proj', '')}
          </label>
        ))}
      </div>
      <FieldError id={`${id}-err`} message={issue} />
    </fieldset>
  );
}
