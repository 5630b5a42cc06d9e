// node summary.mjs --dir DIR (bundled by tools/gpu/pack.sh), or npm run bench:gpu:summary -- --dir DIR:
// reads what tools/gpu/run.sh wrote into DIR and writes gpu-summary.json and gpu-summary.md there.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatSummary, summarise, type PeerRow } from '../bench/gpu-summary.ts';
import type { BenchReport } from '../bench/report.ts';

function read(dir: string, name: string): string | null {
  const p = join(dir, name);
  return existsSync(p) ? readFileSync(p, 'utf8') : null;
}

function json<T>(dir: string, name: string): T | null {
  const t = read(dir, name);
  if (t === null) return null;
  try {
    return JSON.parse(t) as T;
  } catch (e) {
    console.error(`summary: ${name} is not JSON (${String(e)}); left out`);
    return null;
  }
}

const { values } = parseArgs({ options: { dir: { type: 'string' } } });
if (!values.dir) {
  console.error('usage: summary --dir DIR   (the folder tools/gpu/run.sh wrote)');
  process.exit(2);
}
const dir = values.dir;
const peer = (read(dir, 'peer.jsonl') ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as PeerRow);
const parity = Object.fromEntries(['dawn', 'wgpu'].map((rt) => [rt, read(dir, `parity-${rt}.txt`)?.match(/^\d+ passed, \d+ failed$/gm)?.join(' / ') ?? null]));
const s = summarise({ dawn: json<BenchReport>(dir, 'bench-dawn.json'), wgpu: json<BenchReport>(dir, 'bench-wgpu.json'), peer, cublas: json(dir, 'cublas.json'), parity });
writeFileSync(join(dir, 'gpu-summary.json'), JSON.stringify(s, null, 1));
writeFileSync(join(dir, 'gpu-summary.md'), `${formatSummary(s)}\n`);
console.log(`summary: ${join(dir, 'gpu-summary.md')}`);
