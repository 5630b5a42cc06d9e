// The live charts, the smoothing control, and the objective split into its terms beside the
// gradient norm (so a loss of 0 is never a mystery) with the reference policy in use.
import { useId } from 'react';
import type { RunSeries, StepKey } from '../store/series.ts';
import { setSmoothing, useChartPrefs } from '../store/charts.ts';
import { useLive } from '../store/training.ts';
import { formatValue } from './format.ts';
import { MetricChart, type ChartSpec, type Line } from './MetricChart.tsx';

const col = (s: RunSeries, k: StepKey): Line => ({ x: s.step.toArray(), y: s.cols[k].toArray() });

const DASH = [6, 4];

export const CHARTS: ChartSpec[] = [
  { id: 'reward', title: 'Reward', help: 'Mean reward of the step’s completions (1 = correct).', smooth: true, lines: (s) => [col(s, 'reward_mean')] },
  {
    id: 'accuracy', title: 'Held-out accuracy', help: 'avg@k on the fixed held-out sets: in-distribution (solid) and hard (dashed).', range: [0, 1],
    lines: (s) => [...s.evals].map(([split, e]) => ({ x: e.step.toArray(), y: e.avg.toArray(), label: split, dash: split === 'hard' ? DASH : undefined })),
  },
  { id: 'response_len', title: 'Response length', help: 'Mean completion length in tokens.', smooth: true, lines: (s) => [col(s, 'response_len')] },
  { id: 'entropy', title: 'Entropy', help: 'Mean entropy of the sampling distribution per generated token (nats).', smooth: true, lines: (s) => [col(s, 'entropy')] },
  { id: 'kl', title: 'KL to reference', help: 'Mean per-token KL to the reference policy (only computed when β > 0).', smooth: true, logOption: true, lines: (s) => [col(s, 'kl')] },
  {
    id: 'clip', title: 'Clip fraction', help: 'Share of tokens whose ratio was clipped: high side (solid), low side (dashed).', smooth: true,
    lines: (s) => [{ ...col(s, 'clip_frac_high'), label: 'high' }, { ...col(s, 'clip_frac_low'), label: 'low', dash: DASH }],
  },
  { id: 'grad_norm', title: 'Gradient norm', help: 'Global gradient norm before clipping.', smooth: true, logOption: true, lines: (s) => [col(s, 'grad_norm')] },
  {
    id: 'objective', title: 'Objective terms', help: 'The loss split into its policy term (solid) and KL term β·KL (dashed); there is no entropy bonus.', smooth: true,
    lines: (s) => [{ ...col(s, 'policy_loss'), label: 'policy' }, { ...col(s, 'kl_loss'), label: 'KL', dash: DASH }],
  },
  {
    id: 'throughput', title: 'Throughput', help: 'Tokens per second: rollout sampling (solid) and updates (dashed).', smooth: true, logOption: true,
    lines: (s) => [{ ...col(s, 'rollout_tokens_per_s'), label: 'rollout' }, { ...col(s, 'train_tokens_per_s'), label: 'update', dash: DASH }],
  },
];

function Smoothing() {
  const id = useId();
  const w = useChartPrefs((s) => s.smoothing);
  return (
    <div className="smoothing">
      <label htmlFor={id}>Smoothing</label>
      <input id={id} type="range" min={0} max={0.99} step={0.01} value={w} onChange={(e) => setSmoothing(Number(e.target.value))}
        aria-valuetext={w === 0 ? 'off' : `EMA weight ${w.toFixed(2)}`} />
      <output htmlFor={id}>{w === 0 ? 'off' : w.toFixed(2)}</output>
    </div>
  );
}

function Objective() {
  const loss = useLive((s) => s.latest?.loss);
  const pol = useLive((s) => s.latest?.policy_loss);
  const kl = useLive((s) => s.latest?.kl_loss);
  const grad = useLive((s) => s.latest?.grad_norm);
  const kept = useLive((s) => (s.latest ? `${s.latest.groups_kept} of ${s.latest.groups_total}` : null));
  const reference = useLive((s) => s.info?.reference);
  if (loss === undefined) return null;
  return (
    <div className="objective" data-testid="objective">
      <p>
        Last step: loss <strong>{formatValue(loss)}</strong> = policy term {formatValue(pol)} + KL term {formatValue(kl)} + entropy term 0;
        gradient norm <strong>{formatValue(grad)}</strong>; groups with a learning signal {kept}.
        {loss === 0 && ' A loss of exactly 0 is expected when every group’s rewards are equal (all advantages are 0).'}
      </p>
      <p className="hint">The policy term’s value is near 0 by construction (advantages average to 0 per group); its gradient is what trains.</p>
      {reference && <p>Reference policy: {reference}.</p>}
    </div>
  );
}

export function Charts() {
  return (
    <section className="card" aria-labelledby="charts-heading">
      <div className="section-head">
        <h2 id="charts-heading">Training curves</h2>
        <Smoothing />
      </div>
      <p className="hint">The live run and the runs selected below; hover a chart to read values. Smoothing is a debiased EMA: each point depends only on the ones before it.</p>
      <Objective />
      <div className="chart-grid">
        {CHARTS.map((c) => <MetricChart key={c.id} spec={c} />)}
      </div>
    </section>
  );
}
