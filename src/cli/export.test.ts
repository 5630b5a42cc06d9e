// npm run export from a checkpoint, and the check a user runs where PEFT is installed
// (tools/check_export.py): the script compiles and fails clearly without its libraries; for every
// method the export writes lab_logits.json (the lab's base and trained logits for two fixed prompts),
// the adapter (or, for full fine-tuning, the trained model) and, from an --init model, the base model
// folder; the saved logits are what those files mean to the lab itself (base folder → base logits,
// adapter imported on it → adapted logits); and, where python3 has torch, transformers and peft
// (or RLVR_PEFT_PYTHON names one that has), the check itself passes for every method and fails on a
// tampered adapter.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CpuBackend } from '../engine/cpu/backend.ts';
import { relErr } from '../engine/ref/testutil.ts';
import { namedConfig, randomWeights } from '../model/init.ts';
import { loadModelDir, readArrayBuffer } from '../model/io.node.ts';
import { Model } from '../model/model.ts';
import { importAdapter } from '../peft/hf.ts';
import { getMethod, methodIds } from '../peft/registry.ts';
import type { MethodId } from '../peft/types.ts';
import { saveCheckpoint } from '../rl/checkpoint.ts';
import { defaultConfig } from '../rl/config.ts';
import { encodePrompts, promptWidth } from '../rl/rollout.ts';
import { Trainer } from '../rl/trainer.ts';
import { charTokenizer, getTask } from '../tasks/index.ts';
import { LAB_LOGITS_FORMAT, main, type LabLogits } from './export.ts';

const SCRIPT = join(process.cwd(), 'tools/check_export.py');
const root = mkdtempSync(join(tmpdir(), 'rlvr-export-'));

function py(python: string, args: string[], env: Record<string, string> = {}) {
  return spawnSync(python, args, { encoding: 'utf8', timeout: 300_000, env: { ...process.env, PYTHONPYCACHEPREFIX: join(root, 'pycache'), ...env } });
}

/** A checkpoint of `method` on a model folder or the --init tiny model, every trainable tensor moved
 * off its init (as training would), written as `npm run train -- --save` writes it. */
async function makeCheckpoint(method: MethodId, dir: string, modelDir?: string): Promise<void> {
  const cfg = defaultConfig(method);
  const task = getTask(cfg.task);
  const loaded = modelDir ? loadModelDir(modelDir) : (() => {
    const mc = namedConfig('tiny', charTokenizer.vocabSize, promptWidth(task) + cfg.maxNewTokens);
    return { cfg: mc, weights: randomWeights(mc, cfg.seed) };
  })();
  const model = new Model(new CpuBackend(), loaded.cfg, loaded.weights);
  const inst = await getMethod(method).attach(model, cfg.peft);
  const moved = new Map<string, Float32Array>();
  for (const [i, p] of inst.params.entries()) {
    const v = await model.backend.read(p.tensor);
    moved.set(p.name, v.map((x, j) => x + 0.05 * Math.sin((i + 1) * 12.9898 + j * 78.233)));
  }
  inst.load(moved);
  const ck = await saveCheckpoint(new Trainer(model, inst, task, charTokenizer, cfg));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'checkpoint.safetensors'), ck.tensors);
  writeFileSync(join(dir, 'state.json'), JSON.stringify(ck.meta));
  inst.detach();
}

async function exportFrom(method: MethodId, modelDir?: string): Promise<{ out: string; rec: LabLogits }> {
  const ck = join(root, `ck-${method}${modelDir ? '-model' : ''}`), out = join(root, `out-${method}${modelDir ? '-model' : ''}`);
  await makeCheckpoint(method, ck, modelDir);
  const code = await main(['--checkpoint', ck, '--out', out, ...(modelDir ? ['--model', modelDir] : ['--init', 'tiny'])]);
  expect(code, method).toBe(0);
  return { out, rec: JSON.parse(readFileSync(join(out, 'lab_logits.json'), 'utf8')) as LabLogits };
}

/** The saved values as float32 (the file holds 9 significant digits: each reads back as its float32). */
const f32 = (a: number[]) => Array.from(Float32Array.from(a));

async function logitsOf(model: Model, rec: LabLogits): Promise<Float32Array> {
  const [B, T] = rec.shape;
  const { logits } = model.forward(Int32Array.from(rec.input_ids.flat()), new Int32Array(B * T).fill(-1), B, T);
  return model.backend.read(logits);
}

const exported = new Map<MethodId, { out: string; rec: LabLogits }>();
beforeAll(() => {
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterAll(() => {
  vi.restoreAllMocks();
});

describe('tools/check_export.py without PEFT', () => {
  it('compiles (python3 -m py_compile)', () => {
    const r = py('python3', ['-m', 'py_compile', SCRIPT]);
    expect(r.status, r.stderr).toBe(0);
  });

  it('says what to install when torch, transformers or peft is missing, and names a missing export', async () => {
    const { out } = exported.get('lora') ?? (await exportFrom('lora'));
    const fake = join(root, 'no-torch');
    mkdirSync(join(fake, 'torch'), { recursive: true });
    writeFileSync(join(fake, 'torch', '__init__.py'), 'raise ImportError("No module named \'torch\' (test)")\n');
    const r = py('python3', [SCRIPT, out], { PYTHONPATH: fake });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('pip install torch transformers peft');
    const none = py('python3', [SCRIPT, join(root, 'nothing-here')]);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('lab_logits.json not found');
  });
});

describe('npm run export --checkpoint writes the lab\'s logits for the check', () => {
  const task = getTask(defaultConfig('lora').task);
  const T = promptWidth(task), V = charTokenizer.vocabSize;

  for (const method of methodIds) {
    it(`${method}: lab_logits.json (shape, finite, adapted ≠ base) and the files whose meaning they are`, async () => {
      const { out, rec } = await exportFrom(method);
      exported.set(method, { out, rec });
      expect(rec.format).toBe(LAB_LOGITS_FORMAT);
      expect(rec.method).toBe(method);
      expect(rec.shape).toEqual([2, T, V]);
      const prompts = task.evalSet('in-dist').problems.slice(0, 2).map((p) => p.prompt);
      expect(rec.prompts).toEqual(prompts);
      expect(rec.input_ids.flat()).toEqual(Array.from(encodePrompts(charTokenizer, prompts, T)));
      expect(rec.input_ids.map((row) => row.find((t) => t !== charTokenizer.padId))).toEqual([charTokenizer.bosId, charTokenizer.bosId]);
      for (const key of ['base_logits', 'adapted_logits'] as const) {
        expect(rec[key].length, key).toBe(2 * T * V);
        expect(rec[key].every(Number.isFinite), key).toBe(true);
      }
      // A moved adapter changes the model: far more than the check's tolerance (1e-4).
      expect(relErr(rec.adapted_logits, rec.base_logits)).toBeGreaterThan(1e-3);

      // The base folder written for the --init model gives the base logits, bit for bit.
      expect(rec.base_model_dir).toBe('base_model');
      const base = loadModelDir(join(out, 'base_model'));
      const m = new Model(new CpuBackend(), base.cfg, base.weights);
      expect(Array.from(await logitsOf(m, rec))).toEqual(f32(rec.base_logits));
      if (method === 'full') {
        // No adapter: the trained model folder gives the trained logits.
        expect(rec.adapter_dir).toBeNull();
        expect(existsSync(join(out, 'adapter'))).toBe(false);
        const trained = loadModelDir(join(out, 'model'));
        expect(Array.from(await logitsOf(new Model(new CpuBackend(), trained.cfg, trained.weights), rec))).toEqual(f32(rec.adapted_logits));
      } else {
        // The exported adapter, read back by the lab onto the base folder, gives the adapted logits.
        expect(rec.model_dir).toBeNull();
        const inst = await importAdapter({
          'adapter_model.safetensors': readArrayBuffer(join(out, rec.adapter_dir!, 'adapter_model.safetensors')),
          'adapter_config.json': readFileSync(join(out, rec.adapter_dir!, 'adapter_config.json'), 'utf8'),
        }, m);
        inst.setTraining?.(false);
        expect(relErr(await logitsOf(m, rec), rec.adapted_logits)).toBeLessThan(1e-6);
        inst.detach();
      }
    }, 120_000);
  }

  it('with --model: the folder as given, nothing else written for the base (untied llama fixture)', async () => {
    const fixture = 'tests/fixtures/hf-llama-tiny';
    const { out, rec } = await exportFrom('lora', fixture);
    expect(rec).toMatchObject({ base_model: fixture, base_model_dir: null, base_model_init: null, adapter_dir: 'adapter' });
    expect(existsSync(join(out, 'base_model'))).toBe(false);
    expect(rec.shape[2]).toBe(96);
    const base = loadModelDir(fixture);
    expect(Array.from(await logitsOf(new Model(new CpuBackend(), base.cfg, base.weights), rec))).toEqual(f32(rec.base_logits));
  }, 120_000);
});

// The check itself, where PEFT is installed (RLVR_PEFT_PYTHON, or python3 if it has the libraries).
const PEFT_PYTHON = process.env.RLVR_PEFT_PYTHON ?? 'python3';
const hasPeft = py(PEFT_PYTHON, ['-c', 'import torch, transformers, peft']).status === 0;

describe.skipIf(!hasPeft)(`tools/check_export.py with PEFT (${PEFT_PYTHON})`, () => {
  for (const method of methodIds) {
    it(`${method}: PEFT reproduces the lab's base and trained logits`, async () => {
      const { out } = exported.get(method) ?? (await exportFrom(method));
      const r = py(PEFT_PYTHON, [SCRIPT, out]);
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout.match(/^ok /gm)?.length).toBe(2);
    }, 300_000);
  }

  it('fails on an adapter that means something else (lora_alpha doubled)', async () => {
    const { out } = exported.get('lora') ?? (await exportFrom('lora'));
    const bad = join(root, 'tampered');
    mkdirSync(join(bad, 'adapter'), { recursive: true });
    writeFileSync(join(bad, 'lab_logits.json'), readFileSync(join(out, 'lab_logits.json')));
    writeFileSync(join(bad, 'adapter', 'adapter_model.safetensors'), readFileSync(join(out, 'adapter', 'adapter_model.safetensors')));
    const conf = JSON.parse(readFileSync(join(out, 'adapter', 'adapter_config.json'), 'utf8')) as { lora_alpha: number };
    writeFileSync(join(bad, 'adapter', 'adapter_config.json'), JSON.stringify({ ...conf, lora_alpha: 2 * conf.lora_alpha }));
    const r = py(PEFT_PYTHON, [SCRIPT, bad, '--base', join(out, 'base_model')]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(1);
    expect(r.stdout).toMatch(/^ok {3}base model/m);
    expect(r.stdout).toMatch(/^FAIL lora adapter/m);
  }, 300_000);
});
