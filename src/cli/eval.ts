// npm run eval -- --model DIR [--adapter DIR] --task T --k K --out FILE.json
// Scores a model (optionally with a PEFT adapter in HF format, or a training checkpoint) on the
// task's held-out sets: avg@k and pass@k.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModelDir, readArrayBuffer } from '../model/io.node.ts';
import { Model } from '../model/model.ts';
import { importAdapter } from '../peft/hf.ts';
import { getMethod } from '../peft/registry.ts';
import type { PeftInstance } from '../peft/types.ts';
import type { CheckpointMeta } from '../rl/checkpoint.ts';
import { evaluate } from '../rl/trainer.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';
import { createBackend, type BackendName } from './backends.ts';
import { parseSafetensors } from '../model/safetensors.ts';

const HELP = `usage: npm run eval -- --model DIR [--adapter DIR] --task T [--k 4] [--problems 200] [--temperature 1]
        [--top-p 1] [--max-new-tokens 64] [--backend webgpu] [--out FILE.json]
  --model DIR           model folder (config.json + model.safetensors)
  --adapter DIR         a PEFT adapter (adapter_config.json + adapter_model.safetensors) or a
                        training checkpoint folder (state.json + checkpoint.safetensors)
  --task T              task id [arith]
  --k K                 samples per problem for avg@k and pass@k [4]
  --problems N          problems per held-out set [200]
  --temperature, --top-p, --max-new-tokens   sampling [1, 1, 64]
  --backend             auto, webgpu, cpu or cpu-f64 (the former float64 CPU backend) [auto: WebGPU on a real GPU, else CPU]
  --merge-adapters      sample with the adapter merged into the weights, as training does [true]
  --out FILE            write the results as JSON`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' }, adapter: { type: 'string' }, task: { type: 'string', default: 'arith' },
      k: { type: 'string', default: '4' }, problems: { type: 'string', default: '200' },
      temperature: { type: 'string', default: '1' }, 'top-p': { type: 'string', default: '1' },
      'max-new-tokens': { type: 'string', default: '64' }, backend: { type: 'string', default: 'auto' },
      'merge-adapters': { type: 'string', default: 'true' },
      out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.model) {
    console.error('eval: --model DIR is required\n' + HELP);
    return 2;
  }
  const num = (name: string, v: string, min: number) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x < min) throw new Error(`--${name}: expected a number ≥ ${min}, got "${v}"`);
    return x;
  };
  const c = {
    evalK: num('k', values.k, 1), evalProblems: num('problems', values.problems, 1), temperature: num('temperature', values.temperature, 0),
    topP: num('top-p', values['top-p'], 0), maxNewTokens: num('max-new-tokens', values['max-new-tokens'], 1),
  };
  if (values['merge-adapters'] !== 'true' && values['merge-adapters'] !== 'false') throw new Error(`--merge-adapters: expected true or false, got "${values['merge-adapters']}"`);
  const task = getTask(values.task);
  const { cfg, weights } = loadModelDir(values.model);
  const { backend, description } = await createBackend(values.backend as BackendName);
  const model = new Model(backend, cfg, weights);
  let adapter = 'none';
  let inst: PeftInstance | null = null;
  if (values.adapter) {
    const dir = values.adapter;
    let state: CheckpointMeta | null = null;
    try {
      state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as CheckpointMeta;
    } catch {
      state = null;
    }
    if (state) {
      inst = await getMethod(state.config.peft.method).attach(model, state.config.peft);
      const file = parseSafetensors(readArrayBuffer(join(dir, 'checkpoint.safetensors')), 'checkpoint.safetensors').tensors;
      const params = new Map<string, Float32Array>();
      for (const p of inst.params) {
        const t = file.get(`param/${p.name}`);
        if (!t || !(t.data instanceof Float32Array)) throw new Error(`${dir}: checkpoint lacks "${p.name}"`);
        params.set(p.name, t.data);
      }
      inst.load(params);
      adapter = `checkpoint ${dir} (${state.config.peft.method}, step ${state.trainer.step})`;
    } else {
      inst = await importAdapter({
        'adapter_config.json': readFileSync(join(dir, 'adapter_config.json'), 'utf8'),
        'adapter_model.safetensors': new Uint8Array(readArrayBuffer(join(dir, 'adapter_model.safetensors'))),
      }, model);
      adapter = `PEFT adapter ${dir} (${inst.config.method})`;
    }
  }
  console.log(`${description}\nmodel ${values.model}; adapter ${adapter}; task ${task.id}`);
  const run = () => evaluate(model, charTokenizer, task, c, 0);
  const results = inst && values['merge-adapters'] === 'true' ? await inst.withMerged(run) : await run();
  for (const r of results) console.log(`${r.split.padEnd(8)} avg@${r.k} ${r.avg_at_k.toFixed(4)}  pass@${r.k} ${r.pass_at_k.toFixed(4)}  malformed ${r.malformed_frac.toFixed(3)}  (${r.problems} problems)`);
  if (values.out) writeFileSync(values.out, JSON.stringify({ model: values.model, adapter, task: task.id, backend: description, settings: c, results }, null, 1));
  return 0;
}

main().then((code) => process.exit(code), (e: unknown) => {
  console.error(`eval: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
