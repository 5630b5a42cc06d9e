// npm run check:cycles [DIR]: fails on any import cycle between the files of DIR (default src/),
// type-only imports included (a cycle of types still ties the modules into one). Part of `npm test`.
// The import graph comes from dpdm (it parses each file with TypeScript and resolves relative imports).
import { relative, resolve } from 'node:path';
import { parseCircular, parseDependencyTree } from 'dpdm';

/** The import cycles among the .ts / .tsx files under `dir`, each as a list of paths relative to it. */
export async function importCycles(dir: string): Promise<string[][]> {
  const root = resolve(dir);
  const tree = await parseDependencyTree([`${root}/**/*.ts`, `${root}/**/*.tsx`], { context: root, transform: false, skipDynamicImports: false });
  return parseCircular(tree).map((cycle) => cycle.map((f) => relative(root, resolve(root, f))));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2] ?? 'src';
  importCycles(dir).then((cycles) => {
    if (cycles.length === 0) {
      console.log(`no import cycles among the files of ${dir}/`);
      return;
    }
    console.error(`${cycles.length} import cycle(s) among the files of ${dir}/:`);
    for (const c of cycles) console.error(`  ${[...c, c[0]].join(' -> ')}`);
    process.exit(1);
  }, (e: unknown) => {
    console.error(`check:cycles: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  });
}
