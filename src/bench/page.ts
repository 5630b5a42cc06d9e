// bench.html: the bench suite on the browser's own WebGPU (Chrome: Dawn; Firefox: wgpu), results
// as tables and a downloadable JSON. ?preset=, ?sections=, ?tfjs=0 and ?autorun=1 set the form;
// the report is published on window.__benchReport and body[data-state] says running/done/error,
// for automation (Playwright).
import { createGpu, describeGpu } from '../engine/webgpu/device.ts';
import { shaders } from '../engine/webgpu/shaders.vite.ts';
import { presetConfig, type Preset } from './config.ts';
import { errorMessage } from './env.ts';
import { MemoryTracker } from '../engine/webgpu/memory.ts';
import { SECTION_IDS, type BenchReport, type MachineInfo, type RuntimeInfo, type SectionId } from './report.ts';
import { runSuite } from './suite.ts';
import { reportTables } from './table.ts';

declare global {
  interface Window {
    __benchReport?: BenchReport;
  }
}

interface NavigatorExtras {
  deviceMemory?: number;
  userAgentData?: { brands: { brand: string; version: string }[]; platform: string };
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const form = $<HTMLFormElement>('controls');
const statusEl = $('status'), logEl = $('log'), tablesEl = $('tables');
const runBtn = $<HTMLButtonElement>('run'), downloadBtn = $<HTMLButtonElement>('download');
const tfjsBox = $<HTMLInputElement>('tfjs');
let last: BenchReport | null = null;

for (const id of SECTION_IDS) {
  const label = document.createElement('label');
  label.innerHTML = `<input type="checkbox" name="section" value="${id}" checked /> ${id}`;
  $('sections').append(label);
}

function machine(): MachineInfo {
  const nav = navigator as Navigator & NavigatorExtras;
  return {
    os: nav.userAgentData?.platform || navigator.platform || 'unknown OS',
    arch: '',
    cpuModel: 'browser (CPU model not exposed)',
    cpuCount: navigator.hardwareConcurrency || 0,
    memoryGiB: nav.deviceMemory ?? null,
    userAgent: navigator.userAgent,
  };
}

function runtime(): RuntimeInfo {
  const nav = navigator as Navigator & NavigatorExtras;
  const brands = nav.userAgentData?.brands.filter((b) => !/not.?a.?brand/i.test(b.brand)).map((b) => `${b.brand} ${b.version}`).join(', ');
  const impl = /Firefox\//.test(navigator.userAgent) ? 'wgpu' : /Chrome\//.test(navigator.userAgent) ? 'Dawn' : 'the browser\'s WebGPU';
  return { kind: 'browser', description: `${brands || navigator.userAgent} (${impl})` };
}

function log(msg: string): void {
  logEl.textContent += `${msg}\n`;
  logEl.scrollTop = logEl.scrollHeight;
}

function render(r: BenchReport): void {
  tablesEl.replaceChildren();
  const head = document.createElement('p');
  head.textContent = `GPU: ${r.gpu.summary} — ${r.runtime.description} — ${r.machine.cpuCount} logical CPUs`;
  tablesEl.append(head);
  for (const t of reportTables(r)) {
    const h = document.createElement('h2');
    h.textContent = t.title;
    const table = document.createElement('table');
    const tr = table.createTHead().insertRow();
    for (const c of t.columns) {
      const th = document.createElement('th');
      th.textContent = c;
      tr.append(th);
    }
    const body = table.createTBody();
    for (const row of t.rows) {
      const r2 = body.insertRow();
      for (const cell of row) r2.insertCell().textContent = cell;
    }
    tablesEl.append(h, table);
    for (const n of t.notes) {
      const p = document.createElement('p');
      p.className = 'note';
      p.textContent = n;
      tablesEl.append(p);
    }
  }
  for (const e of r.errors) log(`section ${e.section} failed: ${e.message}`);
}

async function run(preset: Preset, sections: SectionId[], tfjs: boolean): Promise<void> {
  runBtn.disabled = true;
  document.body.dataset.state = 'running';
  logEl.textContent = '';
  statusEl.textContent = `Running the ${preset} preset…`;
  try {
    const handle = await createGpu(navigator.gpu);
    const memory = new MemoryTracker(handle.device);
    log(`adapter: ${describeGpu(handle.info)}`);
    const cfg = presetConfig(preset);
    cfg.sections = sections;
    cfg.matmul.tfjs = tfjs;
    const report = await runSuite({ handle, shaders, cfg, machine: machine(), runtime: runtime(), gpu: navigator.gpu, memory, log });
    last = report;
    window.__benchReport = structuredClone(report);
    render(report);
    downloadBtn.disabled = false;
    statusEl.textContent = `Done in ${report.durationS.toFixed(1)} s${report.errors.length ? ` (${report.errors.length} section(s) failed)` : ''}.`;
    document.body.dataset.state = 'done';
  } catch (e) {
    statusEl.textContent = `Failed: ${errorMessage(e)}`;
    document.body.dataset.state = 'error';
  } finally {
    runBtn.disabled = false;
  }
}

function formState(): { preset: Preset; sections: SectionId[]; tfjs: boolean } {
  const data = new FormData(form);
  const preset = (data.get('preset') as Preset | null) ?? 'quick';
  const sections = data.getAll('section').map(String).filter((s): s is SectionId => (SECTION_IDS as readonly string[]).includes(s));
  return { preset, sections, tfjs: tfjsBox.checked };
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const s = formState();
  void run(s.preset, s.sections, s.tfjs);
});

downloadBtn.addEventListener('click', () => {
  if (!last) return;
  const blob = new Blob([JSON.stringify(last, null, 1)], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `rlvr-bench-${last.preset}-browser-${last.createdAt.replace(/[:.]/g, '-')}.json`;
  a.click();
  URL.revokeObjectURL(a.href);
});

// URL parameters preset the form; autorun=1 starts at once.
const q = new URLSearchParams(location.search);
const qp = q.get('preset');
if (qp === 'quick' || qp === 'full' || qp === 'smoke') {
  const radio = form.querySelector<HTMLInputElement>(`input[name=preset][value=${qp}]`);
  if (radio) radio.checked = true;
}
const qs = q.get('sections');
if (qs) {
  const want = new Set(qs.split(','));
  for (const box of form.querySelectorAll<HTMLInputElement>('input[name=section]')) box.checked = want.has(box.value);
}
if (q.get('tfjs') === '0') tfjsBox.checked = false;
if (q.get('autorun') === '1') {
  const s = formState();
  void run(s.preset, s.sections, s.tfjs);
}
