// The GPU machine's results in one table (tools/gpu/run.sh): our RL step against the PyTorch + PEFT
// peer at the same model and shapes, our matmul against tfjs (same run, same device) and cuBLAS
// (PyTorch, fp32 without TF32), and wgpu (Deno) against Dawn (Node). Ratios > 1: ours is faster
// (or wgpu is, in the last column). Inputs are whatever files the run produced; a missing one
// leaves its columns empty and says so.
import type { BenchReport } from './report.ts';

/** One line of ../shared/tools/peer_rl_step.py's output. */
export interface PeerRow {
  hidden: number;
  layers: number;
  dtype: string;
  seqs: number;
  gen_tokens: number;
  rollout_s: number;
  train_s: number;
  step_s: number;
}

export interface CublasRow { label: string; M: number; K: number; N: number; gflops: number }

export interface GpuSummaryInputs {
  dawn: BenchReport | null;
  wgpu: BenchReport | null;
  peer: PeerRow[];
  cublas: { device: string; rows: CublasRow[] } | null;
  /** parity-<runtime>.txt: lines "N passed, M failed", one per fixture. */
  parity: Record<string, string | null>;
}

const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a != null && b != null && b > 0 ? a / b : null;

export function summarise(inp: GpuSummaryInputs) {
  const { dawn, wgpu } = inp;
  const byShape = (r: BenchReport | null, l: string) => r?.matmul.find((m) => m.label === l) ?? null;
  const matmul = (dawn ?? wgpu)?.matmul.map((m) => {
    const d = byShape(dawn, m.label), w = byShape(wgpu, m.label);
    const cu = inp.cublas?.rows.find((c) => c.M === m.M && c.K === m.K && c.N === m.N) ?? null;
    return {
      label: m.label, M: m.M, K: m.K, N: m.N,
      dawn: d?.ours.gflops ?? null, wgpu: w?.ours.gflops ?? null, tfjs: d?.tfjs?.gflops ?? null, cublas: cu?.gflops ?? null,
      oursOverTfjs: ratio(d?.ours.gflops, d?.tfjs?.gflops), oursOverCublas: ratio(d?.ours.gflops, cu?.gflops),
      wgpuOverDawn: ratio(w?.ours.gflops, d?.ours.gflops),
    };
  }) ?? [];
  const step = (r: BenchReport | null) => r?.step && {
    rolloutMs: r.step.rollout.timing.medianMs, trainMs: r.step.step.medianMs,
    totalMs: r.step.rollout.timing.medianMs + r.step.step.medianMs,
    dispatchesPerStep: r.step.dispatchesPerStep, bindGroupsPerStep: r.step.bindGroupsPerStep ?? null, encodeUsPerStep: r.step.encodeUsPerStep ?? null,
    decodeDispatchesPerToken: r.mergedRollout.find((m) => m.merged)?.dispatchesPerToken ?? null,
    encodeUsPerToken: r.mergedRollout.find((m) => m.merged)?.encodeUsPerToken ?? null,
  };
  const s = (dawn ?? wgpu)?.step;
  const peer = s ? inp.peer.find((p) => p.dtype === 'float32' && p.seqs === s.sequences && p.gen_tokens === s.newTokens && p.hidden === 128) ?? null : null;
  const ours = { dawn: step(dawn) || null, wgpu: step(wgpu) || null };
  const vsPeer = (o: ReturnType<typeof step>) => o && peer ? {
    rollout: ratio(peer.rollout_s * 1e3, o.rolloutMs), train: ratio(peer.train_s * 1e3, o.trainMs), step: ratio(peer.step_s * 1e3, o.totalMs),
  } : null;
  return {
    gpu: dawn?.gpu.name ?? wgpu?.gpu.name ?? null,
    runtimes: { dawn: dawn?.runtime.description ?? null, wgpu: wgpu?.runtime.description ?? null },
    cublasDevice: inp.cublas?.device ?? null,
    step: { shape: s ? `${s.model}, ${s.method} r${s.rank}, ${s.prompts} prompts × ${s.group}, ${s.newTokens} new tokens after ${s.promptLen}` : null, ours, peer, peerOverOurs: { dawn: vsPeer(ours.dawn), wgpu: vsPeer(ours.wgpu) } },
    matmul,
    parity: inp.parity,
    errors: [...(dawn?.errors ?? []).map((e) => `dawn ${e.section}: ${e.message}`), ...(wgpu?.errors ?? []).map((e) => `wgpu ${e.section}: ${e.message}`)],
  };
}

export type GpuSummary = ReturnType<typeof summarise>;

const f = (x: number | null | undefined, d = 1) => (x == null ? '–' : x.toFixed(d));
const x = (r: number | null | undefined) => (r == null ? '–' : `×${r.toFixed(2)}`);

export function formatSummary(s: GpuSummary): string {
  const L: string[] = [`GPU: ${s.gpu ?? '?'}`, `Dawn: ${s.runtimes.dawn ?? 'not run'}; wgpu: ${s.runtimes.wgpu ?? 'not run'}; cuBLAS: ${s.cublasDevice ?? 'not run'}`, ''];
  L.push(`RL step (${s.step.shape ?? '?'}), ms; ratio = peer time / ours (> 1: ours faster)`, '');
  L.push('| runtime | rollout | train step | total | peer/ours rollout | train | total | dispatches/token | encode µs/token | dispatches/update | encode µs/update | bind groups made/update |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const rt of ['dawn', 'wgpu'] as const) {
    const o = s.step.ours[rt], v = s.step.peerOverOurs[rt];
    if (o) L.push(`| ${rt} | ${f(o.rolloutMs)} | ${f(o.trainMs)} | ${f(o.totalMs)} | ${x(v?.rollout)} | ${x(v?.train)} | ${x(v?.step)} | ` +
      `${o.decodeDispatchesPerToken ?? '–'} | ${f(o.encodeUsPerToken, 0)} | ${o.dispatchesPerStep} | ${f(o.encodeUsPerStep, 0)} | ${o.bindGroupsPerStep ?? '–'} |`);
  }
  const p = s.step.peer;
  L.push(p ? `| peer (PyTorch + PEFT, eager) | ${f(p.rollout_s * 1e3)} | ${f(p.train_s * 1e3)} | ${f(p.step_s * 1e3)} | | | | | | | | |` : '| peer | not run | | | | | | | | | | |', '');
  L.push('Matmul out = x·Wᵀ, GFLOP/s (fp32)', '', '| shape | M×K×N | ours Dawn | ours wgpu | tfjs (Dawn) | cuBLAS | ours/tfjs | ours/cuBLAS | wgpu/Dawn |', '|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const m of s.matmul) L.push(`| ${m.label} | ${m.M}×${m.K}×${m.N} | ${f(m.dawn, 0)} | ${f(m.wgpu, 0)} | ${f(m.tfjs, 0)} | ${f(m.cublas, 0)} | ${x(m.oursOverTfjs)} | ${x(m.oursOverCublas)} | ${x(m.wgpuOverDawn)} |`);
  L.push('', `HF parity: ${Object.entries(s.parity).map(([k, v]) => `${k} ${v ?? 'not run'}`).join('; ')}`);
  if (s.errors.length) L.push('', 'Errors:', ...s.errors.map((e) => `- ${e}`));
  return L.join('\n');
}
