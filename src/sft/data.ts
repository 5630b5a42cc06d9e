// Distillation data: a task teacher's worked solutions, laid out exactly as RL sees them.
//
// A row is the lab's prompt layout (<bos> + prompt, left-padded with <pad> to promptWidth(task);
// src/rl/rollout.ts) followed by the teacher's solution and <eos>. Only the solution and the <eos>
// are predicted: the targets of prompt and padding positions are -1 (masked), so they carry no loss
// and no gradient. A batch is packed by cutting T to its longest row; shorter rows are padded on
// the right with <pad>, masked too (a causal model never lets them influence the real tokens).
import { encodePrompts, promptWidth } from '../rl/rollout.ts';
import { Rng, type CharTokenizer, type Difficulty, type Problem, type RngState, type Task } from '../tasks/index.ts';

export interface SftExample {
  /** Token ids of the whole row: prompt layout, solution, <eos>. */
  ids: Int32Array;
  /** Prompt width P: the first predicted token (the solution's first) sits at position P. */
  promptLen: number;
}

export interface SftBatch {
  B: number;
  T: number;
  /** (B,T) ids and shifted targets (−1 = masked). */
  ids: Int32Array;
  targets: Int32Array;
  /** Number of unmasked targets (solution tokens + <eos> of every row). */
  tokens: number;
}

export function sftExample(tok: CharTokenizer, task: Task, problem: Problem): SftExample {
  const P = promptWidth(task);
  const prompt = encodePrompts(tok, [problem.prompt], P);
  const solution = tok.encode(task.teacher(problem));
  const ids = new Int32Array(P + solution.length + 1);
  ids.set(prompt, 0);
  ids.set(solution, P);
  ids[ids.length - 1] = tok.eosId;
  return { ids, promptLen: P };
}

/** Pack examples into one (B,T) batch, T = the longest row. */
export function packBatch(examples: readonly SftExample[], padId: number): SftBatch {
  if (examples.length === 0) throw new Error('packBatch: no examples');
  const B = examples.length, T = Math.max(...examples.map((e) => e.ids.length));
  const ids = new Int32Array(B * T).fill(padId), targets = new Int32Array(B * T).fill(-1);
  let tokens = 0;
  examples.forEach((e, b) => {
    ids.set(e.ids, b * T);
    // Position t predicts ids[t + 1]: from the last prompt position to the one before <eos>.
    for (let t = e.promptLen - 1; t < e.ids.length - 1; t++) {
      targets[b * T + t] = e.ids[t + 1];
      tokens++;
    }
  });
  return { B, T, ids, targets, tokens };
}

/** d(mean token cross-entropy)/d(logp): −1/tokens on every unmasked row, 0 elsewhere. */
export function crossEntropyGrad(batch: SftBatch): Float32Array {
  const d = new Float32Array(batch.B * batch.T);
  const g = -1 / Math.max(1, batch.tokens);
  for (let i = 0; i < d.length; i++) if (batch.targets[i] >= 0) d[i] = g;
  return d;
}

/** Mean cross-entropy (nats per token) of the unmasked rows, from the model's per-row log-probs. */
export function crossEntropy(batch: SftBatch, logp: Float32Array): number {
  let s = 0;
  for (let i = 0; i < batch.targets.length; i++) if (batch.targets[i] >= 0) s -= logp[i];
  return s / Math.max(1, batch.tokens);
}

/**
 * The training stream: problems drawn from the task's generator (which never yields a held-out
 * problem) with a seeded RNG, each paired with its teacher solution. Its whole state is the RNG's.
 */
export class TeacherStream {
  private readonly rng: Rng;

  constructor(private readonly task: Task, private readonly tok: CharTokenizer, private readonly difficulty: Difficulty, seed: number) {
    this.rng = new Rng(`${seed}/sft-data`);
  }

  next(n: number): SftBatch {
    const ex = Array.from({ length: n }, () => sftExample(this.tok, this.task, this.task.generate(this.rng, this.difficulty)));
    return packBatch(ex, this.tok.padId);
  }

  getState(): RngState {
    return this.rng.getState();
  }

  setState(s: RngState): void {
    this.rng.setState(s);
  }
}

/** Held-out loss batches: teacher solutions to the first `n` problems of a held-out set, `batchSize` at a time. */
export function heldOutBatches(task: Task, tok: CharTokenizer, difficulty: Difficulty, n: number, batchSize: number): SftBatch[] {
  const problems = task.evalSet(difficulty).problems.slice(0, n);
  const out: SftBatch[] = [];
  for (let i = 0; i < problems.length; i += batchSize) {
    out.push(packBatch(problems.slice(i, i + batchSize).map((p) => sftExample(tok, task, p)), tok.padId));
  }
  return out;
}
