// The report as tables: the CLI prints them as text, bench.html renders them as HTML. Medians
// only; the JSON has every run.
import type { OpProfile } from './profile.ts';
import type { Timing } from './timing.ts';
import type { BenchReport, MergedRolloutRow } from './report.ts';

export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
  notes: string[];
  /** Columns of text, aligned left in the text rendering (the first always is). */
  textColumns?: number[];
}

const f = (x: number | null | undefined, d = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
const ratio = (x: number | null): string => (x === null ? '–' : `×${x.toFixed(2)}`);
const mib = (b: number | null): string => (b === null ? '–' : (b / 2 ** 20).toFixed(2));
const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function reportTables(r: BenchReport): Table[] {
  const tables: Table[] = [];
  const where = `${r.gpu.name} — ${r.runtime.description}`;
  if (r.matmul.length) {
    tables.push({
      title: `1. matmul GFLOP/s (median; ${where})`,
      columns: ['shape', 'M×K×N', 'ours', 'naive', 'tfjs', 'ours/naive', 'ours/tfjs', 'ours ms'],
      rows: r.matmul.map((m) => [m.label, `${m.M}×${m.K}×${m.N}`, f(m.ours.gflops), f(m.naive?.gflops), f(m.tfjs?.gflops),
        ratio(m.oursOverNaive), ratio(m.oursOverTfjs), ms(m.ours.timing.medianMs)]),
      notes: [
        r.tfjs.ok ? `tfjs-core ${r.tfjs.version} with tfjs-backend-webgpu on the same GPUDevice` : `tfjs: ${r.tfjs.note ?? 'not run'}`,
        ...(r.tfjs.ok && r.tfjs.note ? [r.tfjs.note] : []),
      ],
    });
  }
  if (r.adapter.length) {
    tables.push({
      title: `2. low-rank adapter path vs dense (ms, median; ${where})`,
      columns: ['layer', 'N×C→OC', 'r', 'adapter fwd', 'dense fwd', 'fwd ratio', 'adapter bwd', 'dense bwd', 'bwd ratio', 'adapter GFLOP/s fwd/bwd'],
      rows: r.adapter.map((a) => [a.label, `${a.N}×${a.C}→${a.OC}`, String(a.r), ms(a.adapterFwd.timing.medianMs), ms(a.denseFwd.timing.medianMs),
        f(a.fwdRatio), ms(a.adapterBwd.timing.medianMs), ms(a.denseBwd.timing.medianMs), f(a.bwdRatio),
        `${f(a.adapterFwd.gflops)} / ${f(a.adapterBwd.gflops)}`]),
      notes: ['adapter fwd: x·Aᵀ then += s·xa·Bᵀ; bwd: dB, dxa, dA, dx +=. dense fwd: x·Wᵀ; dense bwd: dx = dout·W and dW += doutᵀ·x.',
        'ratio = adapter time / dense time (a LoRA layer runs both its frozen dense forward + dx and the adapter).'],
    });
  }
  const s = r.step;
  if (s) {
    const rows: string[][] = [
      ['rollout (generate, adapters merged)', ms(s.rollout.timing.medianMs), '', `${s.sequences}×${s.newTokens} tokens`, String(s.rollout.dispatches), String(s.rollout.copies),
        String(s.rollout.submissions), String(s.rollout.bindGroups), f(s.rollout.encodeUsPerToken * s.newTokens, 0), `${f(s.rollout.tokensPerS, 0)} tok/s`],
      ['train step (as the trainer runs it)', ms(s.step.medianMs), '', `${s.sequences}×${s.seqLen} tokens`, String(s.dispatchesPerStep), String(s.copiesPerStep),
        String(s.submissionsPerStep), String(s.bindGroupsPerStep), f(s.encodeUsPerStep, 0), `${f(s.trainTokensPerS, 0)} tok/s`],
      ['  forward + read log-probs', ms(s.phases.forward.medianMs), ms(s.phases.forwardEncode.medianMs), '', '', '', '', '', '', ''],
      ['  policy loss (CPU)', ms(s.phases.loss.medianMs), '', '', '', '', '', '', '', ''],
      ['  backward', ms(s.phases.backward.medianMs), ms(s.phases.backwardEncode.medianMs), '', '', '', '', '', '', ''],
      ['  AdamW + read grad norm', ms(s.phases.optimizer.medianMs), ms(s.phases.optimizerEncode.medianMs), '', '', '', '', '', '', ''],
    ];
    tables.push({
      title: `3. RL step: ${s.model} model (${(s.params / 1e6).toFixed(2)} M params), ${s.method}${s.rank ? ` r${s.rank}` : ''} ` +
        `(${s.trainableParams} trainable), ${s.prompts} prompts × ${s.group} group × ${s.newTokens} new tokens after ${s.promptLen} (${where})`,
      columns: ['phase', 'ms', 'CPU encode ms', 'work', 'dispatches', 'copies', 'submissions', 'bind groups made', 'dispatch encode µs', 'throughput'],
      rows,
      notes: [
        `per decode token (all ${s.sequences} rows): ${f(s.rollout.dispatches / s.newTokens, 1)} dispatches (the prefill and the merge included; ` +
          `exact per-token counts in 4b), ${f(s.rollout.encodeUsPerToken, 0)} µs of CPU in dispatch encoding. Bind groups made: new ones in the last timed run (0 = all reused).`,
        'phases: the same step with a sync after each phase; CPU encode = the synchronous call alone (the rest is waiting for the GPU).',
        `CPU time in the step's synchronous calls per dispatch: ${f(s.encodeUsPerDispatch, 1)} µs (encoding, plus the submits that uploads trigger); ` +
          `one trivial dispatch: ${f(s.overhead.encodeUs.medianMs, 1)} µs to encode; one submission round trip: ${f(s.overhead.roundTripMs.medianMs)} ms.`,
        ...(s.fallback ? [s.fallback] : []),
      ],
    });
    const top = (p: OpProfile[]) => p.slice(0, 8).map((o) => `${o.op} ${(100 * o.share).toFixed(0)}% (${o.calls}×)`).join(', ');
    tables.push({
      title: `3b. GPU time by op (each op submitted alone; a guide, not a timing)`,
      columns: ['what', 'ops by share of GPU time'],
      rows: [['train step', top(s.profile.step)], ['rollout', top(s.profile.rollout)]],
      notes: s.profile.step.length ? [] : ['no timestamp-query on this device: no profile'],
      textColumns: [1],
    });
  }
  if (r.decode.length) {
    tables.push({
      title: `4. decode ms per token vs sequence length (${where})`,
      columns: ['positions', 'batch', 'new tokens', 'generate ms', 'ms/token', 'marginal ms/token', 'full forward ms (no cache)'],
      rows: r.decode.map((d) => [String(d.positions), String(d.batch), String(d.newTokens), ms(d.generate.medianMs), f(d.msPerToken),
        f(d.marginalMsPerToken), ms(d.noCacheForward.medianMs)]),
      notes: ['marginal: extra generate time per extra token against the previous row. Without a KV cache every token would cost a full forward over all positions (last column).'],
    });
  }
  if (r.mergedRollout.length) tables.push(mergedRolloutTable(r.mergedRollout, where));
  if (r.memory.length) {
    tables.push({
      title: `5. peak GPU memory per method, MiB (${where})`,
      columns: ['method', 'trainable', 'weights', 'adapter', 'optimizer', 'peak train step', 'peak rollout', 'peak'],
      rows: r.memory.map((m) => m.error ? [m.method, 'failed', m.error.slice(0, 80), '', '', '', '', ''] : [m.method, String(m.trainableParams),
        mib(m.weightsBytes), mib(m.adapterBytes), mib(m.optimizerBytes), mib(m.peakTrainBytes), mib(m.peakRolloutBytes), mib(m.peakBytes)]),
      notes: [`${r.memory[0].model} model, ${r.memory[0].rows} training tokens; bytes of GPUBuffers created, as growth over the state before the model was built.`],
    });
  }
  return tables;
}

export function formatTable(t: Table): string {
  const widths = t.columns.map((c, i) => Math.max(c.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const left = new Set([0, ...(t.textColumns ?? [])]);
  const line = (cells: string[]) => cells.map((c, i) => (left.has(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [t.title, line(t.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line), ...t.notes.map((n) => `  ${n}`)].join('\n');
}

export function formatReport(r: BenchReport): string {
  const head = [
    `RLVR Lab bench (${r.preset}) ${r.createdAt}`,
    `GPU: ${r.gpu.summary}`,
    `runtime: ${r.runtime.description}`,
    `machine: ${r.machine.os} ${r.machine.arch}, ${r.machine.cpuCount} × ${r.machine.cpuModel}${r.machine.memoryGiB ? `, ${r.machine.memoryGiB} GiB` : ''}`,
  ];
  const errors = r.errors.map((e) => `section ${e.section} failed: ${e.message}`);
  return [head.join('\n'), ...reportTables(r).map(formatTable), ...errors, ...r.notes, `(${r.durationS.toFixed(1)} s)`].join('\n\n');
}

export function mergedRolloutTable(rows: MergedRolloutRow[], where: string): Table {
  const ms = (t: Timing | null) => (t ? t.medianMs.toFixed(1) : '–');
  const first = rows[0];
  return {
    title: `4b. rollout with the adapters merged into the weights: ${first.method}${first.rank ? ` r${first.rank}` : ''}, ` +
      `${first.sequences} sequences × ${first.newTokens} new tokens after ${first.promptLen} (${where})`,
    columns: ['sampling', 'dispatches/token', 'encode µs/token', 'bind groups/token', 'rollout ms', 'ms/token', 'merge ms', 'merge dispatches'],
    rows: rows.map((x) => [x.merged ? 'merged (withMerged)' : 'adapters', String(x.dispatchesPerToken), f(x.encodeUsPerToken, 0), String(x.bindGroupsPerToken), ms(x.rollout),
      (x.rollout.medianMs / x.newTokens).toFixed(2), ms(x.merge), x.merged ? String(x.mergeDispatches) : '–']),
    notes: ['dispatches/token: exact, from two rollout lengths. rollout ms includes the merge (once per RL step); merge ms is the merge and its undoing alone.'],
  };
}
