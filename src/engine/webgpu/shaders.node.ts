// Every WGSL file under shaders/, read from disk, for headless Node runs outside Vite.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../shaders', import.meta.url));

function walk(dir: string, out: Record<string, string>): Record<string, string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) walk(p, out);
    else if (entry.name.endsWith('.wgsl')) out[relative(root, p).replace(/\\/g, '/').replace(/\.wgsl$/, '')] = readFileSync(p, 'utf8');
  }
  return out;
}

export const shaders: Record<string, string> = walk(root, {});
