// The settings panel: the preset, the backend, the config form, and "Auto"'s remembered
// measurement for the settings' shape. Every change of the config goes through `setConfig`,
// which also rewrites the share link.
import type { ExperimentConfig, Preset } from '../shared/wasm_api';
import type { BackendChoice } from '../shared/protocol';
import type { Result } from '../shared/result';
import type { WorkerClient } from '../shared/worker_client';
import { choose, runSteps } from '../shared/measurement';
import { browserStore, forget, measurementKey, recall } from './auto_backend';
import { ConfigForm } from './config_form';
import { setStatus, ui } from './elements';
import { admitted, chooseBackend, engine, isBusy, measuredAs, rejectEdit, run, runsOn, settings, useConfig } from './state';
import { byTestId, el } from '../views/dom';
import type { RunView } from '../views/run_view';

export interface SettingsDeps {
  client: WorkerClient;
  view: RunView;
  /** Rewrites the address bar from the settings. */
  writeLink(): void;
  /** Something the controls show changed. */
  changed(): void;
  /** The settings' admission arrived (a pending autorun may now start). */
  admitted(): void;
}

export class SettingsPanel {
  private readonly form: ConfigForm;
  /** The latest admission asked for: an older answer arriving late is dropped. */
  private admissionAsked = 0;

  constructor(private readonly d: SettingsDeps) {
    this.form = new ConfigForm(byTestId<HTMLFormElement>('config-form'), (draft) => void this.applyEdit(draft));
    ui.preset.addEventListener('change', () => {
      const preset = engine.presets.find((p) => p.name === ui.preset.value);
      if (!preset) return;
      setStatus('', false);
      this.setConfig(preset.config, true);
    });
    ui.backend.addEventListener('change', () => {
      chooseBackend(ui.backend.value as BackendChoice);
      runsOn(null); // the label shows the backend the next run plans
      this.showRemembered();
      void this.admit();
      d.writeLink();
      d.changed();
    });
    ui.remeasure.addEventListener('click', () => {
      if (run.measured) forget(browserStore(), run.measured.key);
      measuredAs(null);
      d.changed();
    });
  }

  /** Shows `config` as the current settings; `writeLink`: also rewrite the address bar. */
  setConfig(config: ExperimentConfig, writeLink: boolean): void {
    useConfig(config);
    this.form.show(config);
    const preset = this.presetFor(config);
    ui.preset.value = preset?.name ?? 'custom';
    ui.presetDescription.textContent = preset?.description ?? 'Custom settings (edited or from a link).';
    if (writeLink) this.d.writeLink();
    if (!run.config) this.d.view.layout(config); // nothing has run yet: preview the axes of this config
    this.showRemembered();
    this.d.changed();
    void this.admit();
  }

  /** Asks the worker what a run of the settings would cost (core's admission control); Run
   * waits for the answer and stays disabled when no backend's budget takes the run. */
  async admit(): Promise<void> {
    const { config, backend } = settings;
    if (!config || !engine.ready) return;
    const asked = ++this.admissionAsked;
    const answer = await this.d.client.call({ fn: 'admit', config, backend });
    if (asked !== this.admissionAsked) return;
    admitted(answer.ok ? answer.value : null);
    if (!answer.ok) setStatus(`The run's cost could not be estimated: ${answer.error}`, true);
    this.d.changed();
    this.d.admitted();
  }

  fillPresets(): void {
    ui.preset.replaceChildren(
      ...engine.presets.map((p) => el('option', { value: p.name }, [p.name])),
      el('option', { value: 'custom', disabled: true }, ['custom']),
    );
  }

  setDisabled(disabled: boolean): void {
    ui.preset.disabled = disabled;
    this.form.setDisabled(disabled);
  }

  /**
   * Recalls the remembered "Auto" measurement for the current settings' shape on this machine
   * (or none), its choice redone for their number of steps.
   */
  showRemembered(): void {
    if (isBusy()) return;
    const { config } = settings;
    const { gpu, cpu } = engine;
    const key = config && gpu && cpu ? measurementKey(config, gpu, cpu) : null;
    const m = key ? recall(browserStore(), key) : null;
    const steps = config ? runSteps(config) : 0;
    measuredAs(m && key ? { measurement: { ...m, runSteps: steps, choice: choose(m.cpu, m.webgpu, steps) }, remembered: true, key } : null);
  }

  private presetFor(config: ExperimentConfig): Preset | undefined {
    const json = JSON.stringify(config);
    return engine.presets.find((p) => JSON.stringify(p.config) === json);
  }

  private async applyEdit(draft: Result<unknown>): Promise<void> {
    if (draft.ok) {
      const checked = await this.d.client.validate(draft.value);
      if (checked.ok) {
        setStatus('', false);
        this.setConfig(checked.value, true);
        return;
      }
      draft = checked;
    }
    rejectEdit();
    setStatus(draft.error, true);
    this.d.changed();
  }
}
