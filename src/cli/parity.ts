// npm run parity -- <dir> [--backend cpu|webgpu] [--json FILE]
// Compares the engine against a HuggingFace reference folder; exits 1 past tolerance.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runParity, type ParityRow } from '../model/parity.ts';
import { runPeftParity } from '../peft/parity.ts';
import { createBackend, type BackendName } from './backends.ts';

const HELP = `usage: npm run parity -- <reference dir> [--backend cpu|webgpu] [--json FILE]
  <reference dir>  config.json, model.safetensors, golden_base.safetensors (HF layout), and
                   optionally golden_peft.safetensors + golden_manifest.json (every PEFT method in it)
  --backend        cpu or webgpu (default: both)
  --json FILE      write every figure as JSON`;

function readBuf(path: string): ArrayBuffer {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { backend: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length !== 1) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const dir = positionals[0];
  for (const f of ['config.json', 'model.safetensors', 'golden_base.safetensors']) {
    if (!existsSync(join(dir, f))) {
      console.error(`parity: ${join(dir, f)} not found`);
      return 2;
    }
  }
  const which: BackendName[] = values.backend === undefined ? ['cpu', 'webgpu']
    : values.backend === 'cpu' || values.backend === 'webgpu' ? [values.backend] : [];
  if (which.length === 0) {
    console.error(`parity: --backend must be cpu or webgpu, got "${values.backend}"`);
    return 2;
  }
  const optional = (f: string) => (existsSync(join(dir, f)) ? f : undefined);
  const peftFile = optional('golden_peft.safetensors'), manifestFile = optional('golden_manifest.json');
  const files = {
    config: JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as unknown,
    model: readBuf(join(dir, 'model.safetensors')),
    goldenBase: readBuf(join(dir, 'golden_base.safetensors')),
    goldenPeft: peftFile ? readBuf(join(dir, peftFile)) : undefined,
    manifest: manifestFile ? (JSON.parse(readFileSync(join(dir, manifestFile), 'utf8')) as unknown) : undefined,
  };
  if (!peftFile || !manifestFile) console.log('(no golden_peft.safetensors + golden_manifest.json: PEFT methods not checked)');
  const rows: ParityRow[] = [];
  const devices: Record<string, string> = {};
  for (const name of which) {
    const { backend, description } = await createBackend(name);
    devices[name] = description;
    console.log(`\n${name}: ${description}`);
    const got = [...await runParity(backend, files, dir), ...await runPeftParity(backend, files, dir)];
    for (const r of got) {
      console.log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name.padEnd(64)} ${r.relErr.toExponential(2).padStart(9)}  (tol ${r.tol.toExponential(0)})`);
    }
    rows.push(...got);
  }
  const failed = rows.filter((r) => !r.ok);
  console.log(`\n${rows.length - failed.length} passed, ${failed.length} failed`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ dir, devices, rows }, null, 1));
  return failed.length ? 1 : 0;
}

main().then((code) => process.exit(code), (e: unknown) => {
  console.error(`parity: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
