// The model card (README.md) of a distilled checkpoint: architecture, parameter count, training
// data and steps, how long it took on which backend, and measured held-out accuracy.
import { paramCount, type ModelConfig } from '../model/config.ts';
import type { EvalRecord } from '../rl/trainer.ts';
import type { SftConfig } from './config.ts';

/** The lab's size target for the shipped model (issue 5): hidden ≥ 128 and ≥ 4 layers. */
export const SIZE_TARGET = { hidden: 128, layers: 4 } as const;

export function meetsSizeTarget(m: ModelConfig): boolean {
  return m.hidden >= SIZE_TARGET.hidden && m.layers >= SIZE_TARGET.layers;
}

export interface CurvePoint {
  step: number;
  heldOutLoss: number;
  evals: EvalRecord[];
}

export interface CardInput {
  name: string;
  cfg: SftConfig;
  model: ModelConfig;
  /** Backend description (createBackend) and the machine (CPU model × cores). */
  backend: string;
  machine: string;
  trainSeconds: number;
  evalSeconds: number;
  totalSeconds: number;
  /** Steps finished (= cfg.steps for a finished run) and solution tokens trained on. */
  steps: number;
  trainTokens: number;
  finalLoss: number;
  final: CurvePoint;
  curve: CurvePoint[];
  /** The command that reproduces the checkpoint, and the one that re-measures the accuracies. */
  command: string;
  evalCommand: string;
  notes: string[];
  /** false while training is still running (a checkpoint written on the way). */
  finished: boolean;
}

const num = (x: number) => String(Number(x.toPrecision(4)));
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const dur = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(2)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);

export function modelCard(c: CardInput): string {
  const { cfg, model: m } = c;
  const params = paramCount(m);
  const examples = c.steps * cfg.batchSize;
  const inDist = c.final.evals.find((e) => e.split === cfg.difficulty);
  const lines: string[] = [
    '---',
    'library_name: rlvr-lab',
    `pipeline_tag: text-generation`,
    `tags: [qwen2, rlvr-lab, distillation, ${cfg.task}]`,
    '---',
    '',
    `# ${c.name}`,
    '',
    c.finished
      ? `A ${(params / 1e6).toFixed(2)}M-parameter Qwen2-architecture, character-level model distilled by RLVR Lab from the \`${cfg.task}\` task's ` +
        `teacher (supervised fine-tuning on worked solutions), the starting point for RL. ` +
        (inDist ? `On the held-out ${inDist.split} set it scores avg@${inDist.k} ${pct(inDist.avg_at_k)} and pass@${inDist.k} ${pct(inDist.pass_at_k)} at temperature ${cfg.temperature}.` : '')
      : `**Training in progress: step ${c.steps} of ${cfg.steps}.** This folder is a checkpoint written on the way; the numbers below are provisional.`,
    '',
    ...(meetsSizeTarget(m) ? [] : [
      `> **Below the lab's size target.** The lab's base model should have hidden size ≥ ${SIZE_TARGET.hidden} and ≥ ${SIZE_TARGET.layers} layers; ` +
      `this one has hidden ${m.hidden} and ${m.layers} layers. It is a stand-in distilled on ${c.backend.split(' — ')[0]} within a fixed time budget ` +
      '(docs/DISTILL.md gives the measured step times behind the choice). Re-run the command below with `--size small` on a GPU to make the full-size model.',
      '',
    ]),
    '## Architecture',
    '',
    '| | |',
    '|---|---|',
    `| family | ${m.family} (\`${m.family === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'}\`), size \`${cfg.size}\` |`,
    `| parameters | ${params.toLocaleString('en-US')} (embeddings tied to the output head) |`,
    `| hidden size / layers | ${m.hidden} / ${m.layers} |`,
    `| attention | ${m.heads} query heads, ${m.kvHeads} key/value heads (GQA), head dim ${m.headDim}, RoPE θ ${m.ropeTheta}, bias on q/k/v |`,
    `| MLP | SwiGLU, intermediate ${m.intermediate} |`,
    `| norm | RMSNorm, ε ${m.rmsEps} |`,
    `| vocabulary | ${m.vocabSize}: the lab's character tokenizer (\`<pad>\` 0, \`<bos>\` 1, \`<eos>\` 2, \`\\n\`, printable ASCII) |`,
    `| max positions | ${m.maxPositions} |`,
    '',
    '## Training data',
    '',
    `- **Teacher:** \`${cfg.task}.teacher(problem)\` (src/tasks), a program that writes a worked, step-by-step solution ending in the \`Answer:\` line the verifier reads.`,
    `- **Problems:** drawn at difficulty \`${cfg.difficulty}\` by the task's generator from \`new Rng("${cfg.seed}/sft-data")\`; the generator never yields a held-out problem (nor a reordered copy of one).`,
    `- **Layout:** \`<bos>\` + prompt, left-padded with \`<pad>\` to the prompt width RL uses, then the solution and \`<eos>\`. The loss is token-level cross-entropy on the solution and \`<eos>\` only (prompt and padding masked).`,
    `- **Amount:** ${c.steps} steps × ${cfg.batchSize} solutions = ${examples.toLocaleString('en-US')} solutions, ${c.trainTokens.toLocaleString('en-US')} supervised tokens (each problem fresh; batches cut to their longest row).`,
    '',
    '## Training',
    '',
    cfg.init
      ? `- Full fine-tuning continued from the weights in \`${cfg.init}\` (its own card says how they were made), with a fresh optimizer and schedule.`
      : `- Full fine-tuning from a random init (seed ${cfg.seed}; N(0, 0.02²) weights, unit norms, zero biases).`,
    `- AdamW: peak lr ${cfg.lr}, ${cfg.warmupSteps} warmup steps, cosine to ${num(cfg.lr * cfg.minLrRatio)} at step ${cfg.steps}; β = (${cfg.adamBeta1}, ${cfg.adamBeta2}), ε ${cfg.adamEps}, weight decay ${cfg.weightDecay} (not on biases and norms), gradient norm clipped to ${cfg.maxGradNorm}.`,
    `- Final training-batch loss ${c.finalLoss.toFixed(4)} nats/token; held-out loss ${c.final.heldOutLoss.toFixed(4)} nats/token (teacher solutions to the first ${cfg.lossProblems} held-out ${cfg.difficulty} problems).`,
    `- **Time:** ${dur(c.totalSeconds)} in all: ${dur(c.trainSeconds)} training, ${dur(c.evalSeconds)} evaluating; backend ${c.backend}; machine ${c.machine}.`,
    '',
    '## Evaluation',
    '',
    `Held-out sets of the \`${cfg.task}\` task (fixed seeds, never trained on), ${c.final.evals[0]?.problems ?? cfg.finalEvalProblems} problems each, ` +
      `k = ${c.final.evals[0]?.k ?? cfg.finalEvalK} samples per problem at temperature ${cfg.temperature}, top-p ${cfg.topP}, up to ${cfg.maxNewTokens} new tokens. ` +
      'avg@k: mean correctness over all samples; pass@k: share of problems with at least one correct sample.',
    '',
    '| set | avg@k | pass@k | malformed |',
    '|---|---|---|---|',
    ...c.final.evals.map((e) => `| ${e.split} | ${pct(e.avg_at_k)} | ${pct(e.pass_at_k)} | ${pct(e.malformed_frac)} |`),
    '',
    `Re-measure: \`${c.evalCommand}\` (the CPU backend gives these numbers exactly).`,
    '',
  ];
  if (c.curve.length > 0) {
    const k = c.curve[0].evals[0]?.k ?? cfg.evalK;
    const sets = c.curve[0].evals.map((e) => e.split);
    lines.push('### During training', '',
      `First ${c.curve[0].evals[0]?.problems ?? cfg.evalProblems} problems of each set, k = ${k}.`, '',
      `| step | held-out loss | ${sets.map((s) => `${s} avg@${k} | ${s} pass@${k}`).join(' | ')} |`,
      `|---|---|${sets.map(() => '---|---|').join('')}`,
      ...c.curve.map((p) => `| ${p.step} | ${p.heldOutLoss.toFixed(4)} | ${p.evals.map((e) => `${pct(e.avg_at_k)} | ${pct(e.pass_at_k)}`).join(' | ')} |`),
      '');
  }
  lines.push('## Reproduce', '', '```sh', c.command, '```', '',
    'Same tokenizer, same data (regenerated from the seed), same steps. On the CPU backend the run is deterministic: the same command gives the same weights, bit for bit ' +
      '(the fast CPU matmuls add in the reference kernels\' order; checked for the same Node.js version). A GPU run follows the same recipe but rounds differently.', '');
  if (c.notes.length) lines.push('## Notes', '', ...c.notes.map((n) => `- ${n}`), '');
  lines.push('## Files', '', '`config.json` (HF Qwen2), `model.safetensors` (float32), `tokenizer.json` + `tokenizer_config.json` (HF character tokenizer), this card.', '');
  return lines.join('\n');
}
