// A small browser test runner with vitest's API, so tests.html can run the GPU kernel tests
// (src/engine/webgpu/**/*.test.ts, written for vitest on Dawn-node) unchanged in a real browser on
// the page's WebGPU. vite.config.ts maps `vitest` to this file for *.test.ts files imported by the
// test page (never under vitest itself). `expect` is vitest's own (chai + @vitest/expect), so the
// matchers and their messages are the same; the runner covers what the kernel tests use:
// describe/it/test with .each/.skip/.only/.todo/.skipIf/.runIf, the four hooks, timeouts.
// Anything else throws, so a test that needs more fails loudly instead of passing unseen.
import { ASYMMETRIC_MATCHERS_OBJECT, chai, JestAsymmetricMatchers, JestChaiExpect, JestExtend, type ExpectStatic } from '@vitest/expect';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

export const expect = Object.assign(
  (value: unknown, message?: string) => chai.expect(value, message),
  chai.expect,
  (globalThis as Record<symbol, object>)[ASYMMETRIC_MATCHERS_OBJECT],
) as unknown as ExpectStatic;

type Fn = () => unknown;
type Mode = 'run' | 'skip' | 'todo';

interface TestCase { kind: 'test'; name: string; fn: Fn; mode: Mode; timeout: number }
interface Suite {
  kind: 'suite';
  name: string;
  mode: Mode;
  children: (TestCase | Suite)[];
  beforeAll: Fn[];
  afterAll: Fn[];
  beforeEach: Fn[];
  afterEach: Fn[];
}

export interface TestResult {
  file: string;
  /** Suite names and the test name, joined by " > ". */
  name: string;
  state: 'pass' | 'fail' | 'skip';
  error: string | null;
  ms: number;
}

const DEFAULT_TIMEOUT = 120_000; // as vite.config.ts's test.testTimeout: SwiftShader is slow

const newSuite = (name: string, mode: Mode): Suite =>
  ({ kind: 'suite', name, mode, children: [], beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] });

let current: Suite = newSuite('', 'run');

/** printf-style test names as vitest's .each: %s %d %i %f %j %o %O %# %%. */
function format(name: string, args: unknown[], index: number): string {
  let i = 0;
  return name.replace(/%[sdifjoO#%]/g, (m) => {
    if (m === '%%') return '%';
    if (m === '%#') return String(index);
    const v = args[i++];
    switch (m) {
      case '%d': case '%i': return String(m === '%i' ? Math.trunc(Number(v)) : Number(v));
      case '%f': return String(Number(v));
      case '%j': case '%o': case '%O': return JSON.stringify(v);
      default: return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
  });
}

function eachRows(table: readonly unknown[]): unknown[][] {
  return table.map((row) => (Array.isArray(row) ? row : [row]));
}

function addSuite(name: string, fn: Fn | undefined, mode: Mode): void {
  const s = newSuite(name, current.mode === 'run' ? mode : current.mode);
  current.children.push(s);
  const parent = current;
  current = s;
  try {
    const r = fn?.();
    if (r instanceof Promise) throw new Error(`describe("${name}"): async describe callbacks are not supported in the browser runner`);
  } finally {
    current = parent;
  }
}

function addTest(name: string, fn: Fn | undefined, mode: Mode, opts?: number | { timeout?: number }): void {
  const timeout = typeof opts === 'number' ? opts : opts?.timeout ?? DEFAULT_TIMEOUT;
  current.children.push({ kind: 'test', name, fn: fn ?? (() => {}), mode: current.mode === 'run' ? mode : current.mode, timeout });
}

type Opts = number | { timeout?: number };
type Each = (table: readonly unknown[]) => (name: string, fn: (...args: never[]) => unknown, opts?: Opts) => void;

function makeApi(add: (name: string, fn: Fn | undefined, mode: Mode, opts?: Opts) => void) {
  const base = (name: string, fn?: Fn, opts?: Opts) => add(name, fn, 'run', opts);
  const each: Each = (table) => (name, fn, opts) =>
    eachRows(table).forEach((args, i) => add(format(name, args, i), () => (fn as (...a: unknown[]) => unknown)(...args), 'run', opts));
  const unsupported = (what: string) => () => { throw new Error(`${what} is not supported in the browser test runner`); };
  return Object.assign(base, {
    each,
    // `only` runs like a plain test here: tests.html runs every test it finds.
    only: base,
    skip: (name: string, fn?: Fn, opts?: Opts) => add(name, fn, 'skip', opts),
    todo: (name: string) => add(name, undefined, 'todo'),
    skipIf: (cond: unknown) => (name: string, fn?: Fn, opts?: Opts) => add(name, fn, cond ? 'skip' : 'run', opts),
    runIf: (cond: unknown) => (name: string, fn?: Fn, opts?: Opts) => add(name, fn, cond ? 'run' : 'skip', opts),
    concurrent: unsupported('.concurrent'),
    sequential: base,
    for: unsupported('.for'),
    extend: unsupported('.extend'),
  });
}

export const describe = makeApi((name, fn, mode) => addSuite(name, fn, mode));
export const suite = describe;
export const it = makeApi(addTest);
export const test = it;

export function beforeAll(fn: Fn): void { current.beforeAll.push(fn); }
export function afterAll(fn: Fn): void { current.afterAll.push(fn); }
export function beforeEach(fn: Fn): void { current.beforeEach.push(fn); }
export function afterEach(fn: Fn): void { current.afterEach.push(fn); }

const unsupported = (what: string) => new Proxy({}, { get: () => { throw new Error(`vitest's ${what} is not supported in the browser test runner`); } });
export const vi = unsupported('vi');
export const vitest = vi;
export const assert = chai.assert;

function withTimeout(p: unknown, ms: number, what: string): Promise<unknown> {
  if (!(p instanceof Promise)) return Promise.resolve(p);
  let timer = 0;
  return Promise.race([
    p,
    new Promise((_, reject) => { timer = window.setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms); }),
  ]).finally(() => window.clearTimeout(timer));
}

function message(e: unknown): string {
  if (e instanceof Error) return `${e.name === 'AssertionError' ? '' : `${e.name}: `}${e.message}`;
  return String(e);
}

/** Import one test file (collecting its tests) and run them in order; returns one result per test.
 * A file that fails to import becomes one failing result. */
export async function runTestFile(file: string, load: () => Promise<unknown>, onResult: (r: TestResult) => void = () => {}): Promise<TestResult[]> {
  const results: TestResult[] = [];
  const push = (r: TestResult) => { results.push(r); onResult(r); };
  const root = newSuite('', 'run');
  current = root;
  try {
    await load();
  } catch (e) {
    push({ file, name: '(import)', state: 'fail', error: message(e), ms: 0 });
    return results;
  } finally {
    current = newSuite('', 'run');
  }

  async function runSuite(s: Suite, path: string[], eachHooks: { before: Fn[]; after: Fn[] }): Promise<void> {
    const names = s.name ? [...path, s.name] : path;
    const hooks = { before: [...eachHooks.before, ...s.beforeEach], after: [...s.afterEach, ...eachHooks.after] };
    const runnable = s.mode === 'run';
    const teardown: Fn[] = [];
    let setupError: string | null = null;
    if (runnable) {
      for (const h of s.beforeAll) {
        try {
          const r = await withTimeout(h(), DEFAULT_TIMEOUT, 'beforeAll');
          if (typeof r === 'function') teardown.push(r as Fn);
        } catch (e) { setupError = `beforeAll: ${message(e)}`; break; }
      }
    }
    for (const child of s.children) {
      if (child.kind === 'suite') { await runSuite(child, names, hooks); continue; }
      const name = [...names, child.name].join(' > ');
      if (child.mode !== 'run' || !runnable) { push({ file, name, state: 'skip', error: null, ms: 0 }); continue; }
      if (setupError) { push({ file, name, state: 'fail', error: setupError, ms: 0 }); continue; }
      const t0 = performance.now();
      let error: string | null = null;
      const cleanups: Fn[] = [];
      try {
        for (const h of hooks.before) {
          const r = await withTimeout(h(), child.timeout, 'beforeEach');
          if (typeof r === 'function') cleanups.unshift(r as Fn);
        }
        await withTimeout(child.fn(), child.timeout, `test "${child.name}"`);
      } catch (e) {
        error = message(e);
      }
      for (const h of [...cleanups, ...hooks.after]) {
        try { await withTimeout(h(), child.timeout, 'afterEach'); } catch (e) { error ??= `afterEach: ${message(e)}`; }
      }
      push({ file, name, state: error ? 'fail' : 'pass', error, ms: Math.round(performance.now() - t0) });
    }
    if (runnable) {
      for (const h of [...teardown, ...s.afterAll]) {
        try { await withTimeout(h(), DEFAULT_TIMEOUT, 'afterAll'); } catch (e) {
          push({ file, name: [...names, '(afterAll)'].join(' > '), state: 'fail', error: message(e), ms: 0 });
        }
      }
    }
  }

  await runSuite(root, [], { before: [], after: [] });
  return results;
}
