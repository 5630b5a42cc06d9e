// Rollouts: encode prompts, sample completions on the backend with the KV cache, decode and verify.
//
// Prompt layout (the lab's one convention, used by SFT, RL and evaluation alike): <bos> + prompt,
// left-padded with <pad> to a fixed width P, so every row of a batch starts generating at the same
// position and the model is trained and evaluated on the same layout.
import type { Model } from '../model/model.ts';
import type { CharTokenizer, Problem, Task, Verdict } from '../tasks/index.ts';

export interface Rollout {
  /** Rows = problems × samples, problem-major (row = p·k + j). */
  problems: Problem[];
  samples: number;
  /** Prompt width P (including <bos> and padding). */
  promptLen: number;
  /** Generated steps (columns after P). */
  steps: number;
  /** (rows, P + steps) token ids. */
  tokens: Int32Array;
  /** (rows, steps) sampler log-probs and entropies. */
  logp: Float32Array;
  entropy: Float32Array;
  /** Completion length in tokens per row, counting the <eos> when produced. */
  lengths: Int32Array;
  /** Whether the row ended with <eos> (vs running out of tokens). */
  finished: Uint8Array;
  completions: string[];
  verdicts: Verdict[];
}

export function promptWidth(task: Task): number {
  return task.limits.promptChars + 1;
}

export function encodePrompts(tok: CharTokenizer, prompts: string[], width: number): Int32Array {
  const out = new Int32Array(prompts.length * width).fill(tok.padId);
  prompts.forEach((p, i) => {
    const ids = tok.encode(p, { bos: true });
    if (ids.length > width) throw new Error(`prompt of ${ids.length} tokens does not fit the prompt width ${width}: ${JSON.stringify(p)}`);
    out.set(ids, (i + 1) * width - ids.length);
  });
  return out;
}

export interface SampleSettings {
  temperature: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
  /** Decode progress (see GenerateOptions.onChunk). */
  onChunk?: (done: number, steps: number) => void | Promise<void>;
}

/** Generate `samples` completions for each problem and score them. */
export async function rollout(model: Model, tok: CharTokenizer, task: Task, problems: Problem[], samples: number, s: SampleSettings): Promise<Rollout> {
  const P = promptWidth(task);
  const rows = problems.length * samples;
  const prompts: string[] = [];
  for (const p of problems) for (let j = 0; j < samples; j++) prompts.push(p.prompt);
  const gen = await model.generate(encodePrompts(tok, prompts, P), rows, s.maxNewTokens, {
    temperature: s.temperature, topP: s.topP, seed: s.seed, eosId: tok.eosId, onChunk: s.onChunk,
  });
  const T = P + s.maxNewTokens;
  const steps = gen.steps;
  const tokens = new Int32Array(rows * (P + steps));
  const logp = new Float32Array(rows * steps), entropy = new Float32Array(rows * steps);
  const lengths = new Int32Array(rows), finished = new Uint8Array(rows);
  const completions: string[] = [], verdicts: Verdict[] = [];
  for (let r = 0; r < rows; r++) {
    tokens.set(gen.tokens.subarray(r * T, r * T + P + steps), r * (P + steps));
    logp.set(gen.logp.subarray(r * s.maxNewTokens, r * s.maxNewTokens + steps), r * steps);
    entropy.set(gen.entropy.subarray(r * s.maxNewTokens, r * s.maxNewTokens + steps), r * steps);
    let len = steps;
    for (let j = 0; j < steps; j++) {
      if (gen.tokens[r * T + P + j] === tok.eosId) {
        len = j + 1;
        finished[r] = 1;
        break;
      }
    }
    lengths[r] = len;
    const text = tok.decode(gen.tokens.subarray(r * T + P, r * T + P + len));
    completions.push(text);
    verdicts.push(task.verify(text, problems[Math.floor(r / samples)]));
  }
  return { problems, samples, promptLen: P, steps, tokens, logp, entropy, lengths, finished, completions, verdicts };
}

/** avg@k (mean correctness over all samples) and pass@k (share of problems with a correct sample). */
export function scoreAtK(r: Rollout): { avgAtK: number; passAtK: number; malformed: number; correctByProblem: number[] } {
  let correct = 0, passed = 0, malformed = 0;
  const correctByProblem: number[] = [];
  for (let p = 0; p < r.problems.length; p++) {
    let solved = 0;
    for (let j = 0; j < r.samples; j++) {
      const v = r.verdicts[p * r.samples + j];
      if (v.correct) solved++;
      if (v.malformed) malformed++;
    }
    correct += solved;
    if (solved > 0) passed++;
    correctByProblem.push(solved);
  }
  const n = r.problems.length * r.samples;
  return { avgAtK: correct / n, passAtK: passed / r.problems.length, malformed: malformed / n, correctByProblem };
}
