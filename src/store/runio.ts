// Actions that move runs in and out of the lab: JSON export / import of stored runs, one run's
// metrics as CSV.
import { putEval, putRun, putStep, runEvals, runSteps, type RunRecord } from './db.ts';
import { metricsCsv, parseRunsFile, toRunsFile } from './exchange.ts';
import { nextColor, runById, setNotice, setSelected, useRuns } from './runs.ts';
import { seriesFor, tick } from './series.ts';
import { newId } from './training.ts';

export async function runsJson(ids: string[]): Promise<string> {
  const runs = ids.map(runById).filter((r): r is RunRecord => r !== undefined);
  const full = await Promise.all(runs.map(async (run) => ({ run, steps: await runSteps(run.id), evals: await runEvals(run.id) })));
  return JSON.stringify(toRunsFile(full));
}

export async function runCsv(id: string): Promise<string> {
  return metricsCsv(await runSteps(id), await runEvals(id));
}

/** Add the runs of a file to the list; returns a message for the status line. */
export async function importRuns(text: string): Promise<string> {
  let parsed: ReturnType<typeof parseRunsFile>;
  try {
    parsed = parseRunsFile(text);
  } catch (e) {
    const msg = `Could not import: ${e instanceof Error ? e.message : String(e)}.`;
    setNotice(msg);
    return msg;
  }
  for (const r of parsed.runs) {
    const existing = useRuns.getState().runs;
    const color = r.color && !existing.some((x) => x.color === r.color) ? r.color : nextColor(existing);
    const run: RunRecord = {
      id: newId(), name: r.name, color, createdAt: r.createdAt, config: r.config, model: r.model, backend: r.backend, status: r.status,
      step: r.steps.reduce((m, s) => Math.max(m, s.step), 0), seconds: r.seconds, message: 'Imported from a file.',
    };
    await putRun(run);
    const series = seriesFor(run.id);
    for (const s of r.steps.sort((a, b) => a.step - b.step)) {
      await putStep({ ...s, runId: run.id });
      series.pushStep(s, s.gpu_bytes);
    }
    for (const e of r.evals.sort((a, b) => a.step - b.step)) {
      await putEval({ ...e, runId: run.id });
      series.pushEval(e);
    }
    useRuns.setState((st) => ({ runs: [...st.runs, run] }));
    setSelected(run.id, true);
  }
  tick();
  const msg = `Imported ${parsed.runs.length} run${parsed.runs.length === 1 ? '' : 's'}.${parsed.notes.length ? ` Notes: ${parsed.notes.slice(0, 5).join('; ')}` : ''}`;
  setNotice(msg);
  return msg;
}
