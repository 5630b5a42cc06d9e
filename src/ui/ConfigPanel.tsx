// The experiment: task, PEFT method (with its own settings only when they apply), RL recipe,
// optimizer and run length / seed. Every value is validated next to its field.
import { paramCount } from '../model/config.ts';
import { getMethod, methodIds, methods } from '../peft/registry.ts';
import type { MethodId, SettingSpec } from '../peft/types.ts';
import { PRESETS, type PresetId, type RLConfig } from '../rl/config.ts';
import { applyPreset, closestPreset, currentIssues, matchingPreset, modelConfigOf, setMethod, useConfig, type ConfigState } from '../store/config.ts';
import { DIFFICULTIES, getTask, taskIds } from '../tasks/index.ts';
import { CheckField, NumberField, SelectField, TargetsField } from './fields.tsx';
import { formatCount } from './format.ts';
import { ModelField } from './ModelField.tsx';

const PRESET_NAMES: Record<PresetId, string> = { dapo: 'DAPO (the study’s recipe)', grpo: 'GRPO', dr_grpo: 'Dr. GRPO' };

function trainable(s: ConfigState): number | null {
  const mc = modelConfigOf(s);
  if (!mc || !methodIds.includes(s.config.peft.method)) return null;
  if (currentIssues(s).some((i) => i.path.startsWith('peft.'))) return null; // no count from an invalid rank (r = −4)
  try {
    const n = getMethod(s.config.peft.method).trainableCount(s.config.peft, mc);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

function total(s: ConfigState): number | null {
  const mc = modelConfigOf(s);
  return mc ? paramCount(mc) : null;
}

function MethodInfo() {
  const method = useConfig((s) => s.config.peft.method);
  const note = useConfig((s) => s.methodNote);
  const count = useConfig(trainable);
  const all = useConfig(total);
  const spec = methodIds.includes(method) ? getMethod(method) : null;
  if (!spec) return null;
  return (
    <div className="method-info">
      <p id="method-description">{spec.description} <a href={spec.paper} target="_blank" rel="noreferrer noopener">Paper</a></p>
      {note && <p className="notice" role="status" data-testid="method-note">{note}</p>}
      <p data-testid="trainable-count">
        {count === null || all === null ? `Trainable parameters: —${all !== null ? ' (fix the highlighted method settings)' : ''}` : (
          <><strong>{formatCount(count)}</strong> trainable parameters, {((100 * count) / all).toPrecision(3)}% of the model’s {formatCount(all)}</>
        )}
      </p>
    </div>
  );
}

function settingField(s: SettingSpec) {
  const path = `peft.${s.key}`;
  // Capitalise a Latin first letter only: AdaLoRA's "β1" is a symbol, and "Β1" would be a capital Greek Beta.
  const label = /^[a-z]/.test(s.label) ? s.label.charAt(0).toUpperCase() + s.label.slice(1) : s.label;
  switch (s.kind) {
    case 'int':
    case 'float':
      return <NumberField key={path} path={path} label={s.key === 'seed' ? 'Adapter init seed' : label} hint={s.help} />;
    case 'bool':
      return <CheckField key={path} path={path} label={label} hint={s.help} />;
    case 'targets':
      return <TargetsField key={path} path={path} label={label} hint={s.help} />;
  }
}

function MethodSettings() {
  const method = useConfig((s) => s.config.peft.method);
  const spec = methodIds.includes(method) ? getMethod(method) : null;
  // The LoRA+ ratio is an optimizer setting: it sits with the learning rate.
  const settings = spec?.settings.filter((s) => s.key !== 'loraPlusRatio') ?? [];
  if (settings.length === 0) return <p className="hint">{spec?.id === 'full' ? 'Every weight of the model trains: no adapter settings.' : 'No settings of its own.'}</p>;
  return <div className="field-grid">{settings.map(settingField)}</div>;
}

/** How the recipe differs from a preset, in words ("overlong shaping off"). */
function presetDifferences(cfg: RLConfig, id: PresetId): string[] {
  const names: Record<string, string> = {
    lossType: 'loss', epsLow: 'clip ε low', epsHigh: 'clip ε high', beta: 'KL β', scaleRewards: 'advantage scaling', dynamicSampling: 'dynamic sampling', overlongShaping: 'overlong shaping',
  };
  return Object.entries(PRESETS[id]).flatMap(([k, v]) => {
    const mine = (cfg as unknown as Record<string, unknown>)[k];
    if (mine === v) return [];
    return [typeof mine === 'boolean' ? `${names[k]} ${mine ? 'on' : 'off'}` : `${names[k]} ${String(mine)}`];
  });
}

function PresetField() {
  const preset = useConfig((s) => matchingPreset(s.config));
  const closest = useConfig((s) => closestPreset(s.config));
  const diff = useConfig((s) => presetDifferences(s.config, closestPreset(s.config)).join(', '));
  return (
    <div className="field">
      <label htmlFor="preset">Recipe preset</label>
      <select id="preset" value={preset ?? 'custom'} aria-describedby="preset-hint" onChange={(e) => {
        if (e.target.value in PRESETS) applyPreset(e.target.value as PresetId);
      }}>
        {(Object.keys(PRESETS) as PresetId[]).map((p) => <option key={p} value={p}>{PRESET_NAMES[p]}</option>)}
        <option value="custom" disabled>{`Custom: ${PRESET_NAMES[closest].split(' (')[0]} with ${diff}`}</option>
      </select>
      <span id="preset-hint" className="hint" data-testid="preset-hint">
        Sets the loss, clip bounds, KL β, std scaling, dynamic sampling and overlong shaping.
        {preset === null && ` This recipe is ${PRESET_NAMES[closest].split(' (')[0]} with ${diff}${diff.includes('overlong shaping off') ? ' (the page leaves the overlong penalty off so that correct answers near the length limit are not penalised)' : ''}.`}
      </span>
    </div>
  );
}

function Toggles() {
  const dyn = useConfig((s) => s.config.dynamicSampling);
  const overlong = useConfig((s) => s.config.overlongShaping);
  return (
    <>
      <CheckField path="dynamicSampling" label="Dynamic sampling" hint="Drop groups whose rewards are all equal and sample more prompts (DAPO)." />
      {dyn && <NumberField path="maxResampleRounds" label="Extra sampling rounds (max)" />}
      <CheckField path="overlongShaping" label="Overlong shaping" hint="Penalise completions that run into the length limit (DAPO)." />
      {overlong && <NumberField path="overlongCache" label="Overlong soft zone (tokens)" />}
      <CheckField path="mergeAdapters" label="Merge adapters for sampling" hint="Sample with the adapters folded into the weights (fewer GPU dispatches per token; the same policy up to float rounding)." />
    </>
  );
}

function UnplacedIssues() {
  const issues = useConfig((s) => currentIssues(s).filter((i) => i.path === '').map((i) => i.message).join('\n'));
  return issues ? <ul className="field-error">{issues.split('\n').map((m) => <li key={m}>{m}</li>)}</ul> : null;
}

export function ConfigPanel() {
  const isLoraPlus = useConfig((s) => s.config.peft.method === 'lora_plus');
  const notes = useConfig((s) => s.linkNotes.join('\n'));
  const task = useConfig((s) => s.config.task);
  const taskDescription = taskIds.includes(task) ? getTask(task).description : '';
  return (
    <section className="card config" aria-labelledby="config-heading">
      <h2 id="config-heading">Experiment</h2>
      <p className="hint">Changes apply to the next run; a running run keeps its settings.</p>
      {notes && (
        <div className="notice" role="status" data-testid="link-notes">
          <p>Some of the link’s settings could not be used:</p>
          <ul>{notes.split('\n').map((n) => <li key={n}>{n}</li>)}</ul>
        </div>
      )}
      <fieldset className="group">
        <legend>Model and task</legend>
        <ModelField />
        <SelectField path="task" label="Task" options={taskIds.map((t) => ({ value: t, label: getTask(t).name }))} hint={taskDescription} />
        <SelectField path="difficulty" label="Training difficulty" options={DIFFICULTIES.map((d) => ({ value: d, label: d === 'in-dist' ? 'in-distribution' : 'hard' }))} />
      </fieldset>
      <fieldset className="group">
        <legend>Fine-tuning method</legend>
        <SelectField path="peft.method" label="Method" onSelect={(v) => setMethod(v as MethodId)}
          options={methodIds.map((m) => ({ value: m, label: methods[m].name }))} />
        <MethodInfo />
        <MethodSettings />
      </fieldset>
      <fieldset className="group">
        <legend>RL recipe</legend>
        <PresetField />
        <div className="field-grid">
          <SelectField path="lossType" label="Loss type" options={['grpo', 'bnpo', 'dapo', 'dr_grpo'].map((v) => ({ value: v, label: v }))} />
          <SelectField path="scaleRewards" label="Advantage scaling" options={[
            { value: 'group', label: 'group std (GRPO)' }, { value: 'batch', label: 'batch std' }, { value: 'none', label: 'none (Dr. GRPO)' }]} />
          <NumberField path="epsLow" label="Clip ε low" />
          <NumberField path="epsHigh" label="Clip ε high" />
          <NumberField path="beta" label="KL β" />
          <NumberField path="groupSize" label="Group size G" />
          <NumberField path="promptsPerStep" label="Prompts per step" />
          <NumberField path="miniBatches" label="Mini-batches" />
          <NumberField path="epochs" label="Epochs per rollout" />
          <NumberField path="temperature" label="Temperature" />
          <NumberField path="topP" label="Top-p" />
          <NumberField path="maxNewTokens" label="Max new tokens" />
        </div>
        <Toggles />
      </fieldset>
      <fieldset className="group">
        <legend>Optimizer</legend>
        <div className="field-grid">
          <NumberField path="lr" label="Learning rate" />
          {isLoraPlus && <NumberField path="peft.loraPlusRatio" label="LoRA+ ratio λ" hint="B trains at λ × the learning rate." />}
          <SelectField path="schedule" label="Schedule" options={['constant', 'cosine', 'linear'].map((v) => ({ value: v, label: v }))} />
          <NumberField path="warmupSteps" label="Warm-up steps" />
          <NumberField path="weightDecay" label="Weight decay" />
          <NumberField path="maxGradNorm" label="Max grad norm" />
        </div>
      </fieldset>
      <fieldset className="group">
        <legend>Run</legend>
        <div className="field-grid">
          <NumberField path="steps" label="Steps" />
          <NumberField path="seed" label="Seed" />
          <NumberField path="evalEvery" label="Evaluate every (steps)" />
          <NumberField path="evalK" label="Samples per eval problem (k)" />
          <NumberField path="evalProblems" label="Eval problems per set" />
        </div>
      </fieldset>
      <UnplacedIssues />
    </section>
  );
}
