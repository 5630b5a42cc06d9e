// The group inspector: for one prompt of the last rollout, its G completions with the extracted
// answer, reward and advantage, each token tinted by its completion's advantage (green pushed up,
// red pushed down); groups whose rewards are all equal are marked, since they teach nothing.
import { useId, useState } from 'react';
import { useLive } from '../store/training.ts';
import type { GroupView } from '../worker/protocol.ts';
import { formatValue } from './format.ts';

/** Background for an advantage: green for positive, red for negative, stronger with |Â|. */
export function advantageColor(a: number, maxAbs: number): string {
  if (!(maxAbs > 0) || a === 0) return 'transparent';
  const t = Math.min(1, Math.abs(a) / maxAbs);
  return a > 0 ? `rgba(26, 140, 60, ${0.15 + 0.5 * t})` : `rgba(200, 40, 30, ${0.15 + 0.5 * t})`;
}

const visible = (t: string) => (t === '\n' ? '↵' : t === ' ' ? '·' : t);

function Group({ g }: { g: GroupView }) {
  const maxAbs = Math.max(...g.samples.map((s) => Math.abs(s.advantage)), 0);
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Completions of the group">
      <table className="inspector">
        <caption>
          Prompt <code>{g.prompt}</code> · reference answer <code>{g.answer}</code>
          {g.zeroVariance && <> · <span className="badge warn" data-testid="zero-variance">no reward variance: teaches nothing</span></>}
        </caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Completion (tokens tinted by advantage)</th>
            <th scope="col">Extracted answer</th>
            <th scope="col" className="num">Reward</th>
            <th scope="col" className="num">Advantage</th>
          </tr>
        </thead>
        <tbody>
          {g.samples.map((s, i) => (
            <tr key={i}>
              <td>{i + 1}</td>
              <td className="tokens">
                {s.tokens.length === 0 ? <span className="hint">(empty)</span> : s.tokens.map((t, j) => (
                  <span key={j} className="token" style={{ background: advantageColor(s.advantage, maxAbs) }}
                    title={`token ${JSON.stringify(t.text)}, log-prob ${formatValue(t.logp)}`}>{visible(t.text)}</span>
                ))}
              </td>
              <td>{s.extracted === null ? <span className="bad">none (malformed)</span> : <code>{s.extracted}</code>}{s.correct ? ' ✓' : ''}</td>
              <td className="num">{formatValue(s.reward)}</td>
              <td className="num">{formatValue(s.advantage)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Inspector() {
  const id = useId();
  const data = useLive((s) => s.groups);
  const [index, setIndex] = useState(0);
  if (!data || data.groups.length === 0) {
    return (
      <section className="card" aria-labelledby={`${id}-h`}>
        <h2 id={`${id}-h`}>Group inspector</h2>
        <p className="hint">After the first step: each prompt’s G completions, their rewards and advantages.</p>
      </section>
    );
  }
  const i = Math.min(index, data.groups.length - 1);
  const flat = data.groups.filter((g) => g.zeroVariance).length;
  return (
    <section className="card" aria-labelledby={`${id}-h`} data-testid="inspector">
      <div className="section-head">
        <h2 id={`${id}-h`}>Group inspector</h2>
        <div className="field inline">
          <label htmlFor={`${id}-g`}>Prompt</label>
          <select id={`${id}-g`} value={i} onChange={(e) => setIndex(Number(e.target.value))}>
            {data.groups.map((g, k) => <option key={k} value={k}>{`${k + 1}. ${g.prompt.slice(0, 40)}${g.zeroVariance ? ' (no variance)' : ''}`}</option>)}
          </select>
        </div>
      </div>
      <p className="hint">
        Step {data.step}, last sampling round: {data.groups.length} groups, {flat} without reward variance
        {flat > 0 ? ' (their advantages are all 0; dynamic sampling drops them)' : ''}.
      </p>
      <Group g={data.groups[i]} />
    </section>
  );
}
