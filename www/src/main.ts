// Page wiring: the run's state machine, the controls, the config, and the worker's messages.
// The features live in their own modules: sharing.ts (links, verdicts), exports.ts (report,
// weights), try_model.ts ("Try the model"), probing_panel.ts; page.ts holds what they share.
import './style.css';
import type { ExperimentConfig, Preset } from './wasm_api';
import type { Backend, BackendChoice, WorkerToPage } from './protocol';
import { browserStore, choose, describeMeasurement, forget, measurementKey, recall, remember, runSteps } from './auto_backend';
import { registerServiceWorker } from './service_worker';
import { ConfigForm } from './config_form';
import { Embed } from './embed';
import { Exports } from './exports';
import { describeBackend, formatBytes, formatCount } from './format';
import { app, clearErrors, FORCE_STOP_AFTER_MS, sentence, setStatus, showError, ui, type AppState } from './page';
import { ProbingPanel } from './probing_panel';
import { RunView } from './run_view';
import { Sharing } from './sharing';
import { TryModel } from './try_model';
import { byTestId, el } from './ui';
import { pageOptions, type Result } from './url_codec';
import { onForeignHashChange } from './url_state';
import { WorkerClient } from './worker_client';

const options = pageOptions(location.search);
document.documentElement.dataset.theme = options.theme;
if (options.embed) {
  document.body.classList.add('embed');
  ui.settings.open = false; // embedded, the charts come first and the settings fold away
}

const view = new RunView(byTestId('charts'));
const embed = new Embed(options.embed, options.autorun, {
  run: () => startRun(),
  pause: () => {
    pauseRun();
  },
  resume: () => {
    resumeRun();
  },
  stop: () => {
    ui.stop.click();
  },
  state: () => app.state,
});
const form = new ConfigForm(byTestId<HTMLFormElement>('config-form'), (draft) => void applyEdit(draft));
const client = new WorkerClient({ onMessage, onCrash });
const probing = new ProbingPanel(client, {
  config: () => app.runConfig ?? app.config,
  tryPrompt: (prompt) => {
    ui.prompt.value = prompt;
    ui.prompt.scrollIntoView({ block: 'center' });
    if (!ui.generate.disabled) ui.probeForm.requestSubmit();
  },
  busyChanged: () => {
    updateControls();
  },
});
const sharing = new Sharing({ client, embed, options, setConfig });
const exports = new Exports({ client, view, sharing, setConfig, setState, updateControls });
new TryModel({ client, updateControls });
ui.bannerDismiss.addEventListener('click', clearErrors);

// ---- state and controls ---------------------------------------------------------------------

function setState(state: AppState): void {
  app.state = state;
  app.controlPending = false;
  document.body.dataset.state = state;
  updateControls();
  embed.update();
}

function updateControls(): void {
  const { state, ready } = app;
  const busy = state === 'running' || state === 'paused';
  ui.run.disabled = !(ready && app.configOk && !busy && !probing.isBusy);
  ui.pause.disabled = state !== 'running' || app.controlPending;
  ui.resume.disabled = state !== 'paused' || app.controlPending;
  ui.stop.disabled = !busy || app.stopping === 'asked';
  ui.stop.textContent = app.stopping === 'force' ? 'Force stop' : 'Stop';
  ui.preset.disabled = !ready || busy;
  ui.backend.disabled = busy;
  form.setDisabled(!ready || busy);
  ui.download.disabled = !app.report;
  ui.downloadCsv.disabled = !app.report || busy;
  ui.checkpoint.disabled = app.checkpoints.length === 0 || busy;
  ui.downloadWeights.disabled = app.checkpoints.length === 0 || busy || app.exporting;
  ui.importWeights.disabled = !ready || busy || app.exporting || probing.isBusy;
  const canTry = ready && app.hasModel && (state === 'paused' || state === 'done' || state === 'idle');
  probing.setAvailable(canTry, app.checkpoints);
  ui.generate.disabled = !canTry || app.generating;
  ui.generateHint.textContent = canTry
    ? 'The prompt is wrapped as “Human: … Assistant:” for you.'
    : state === 'running'
      ? 'Pause the run (or wait until it is done) to try the model.'
      : 'Run an experiment first; you can try the model while it is paused or when it is done.';
  const actual = busy || state === 'done' ? app.actual : null;
  ui.backendLabel.textContent = describeBackend(app.gpu, app.backend, actual, app.cpu);
  ui.backendLabel.dataset.backend = actual?.backend ?? plannedBackend() ?? '';
  ui.backendNote.textContent = actual?.note ?? '';
  ui.backendNote.hidden = !actual?.note;
  const measured = app.measured;
  ui.autoNote.hidden = !measured || app.backend !== 'auto';
  ui.autoText.textContent = measured ? describeMeasurement(measured.measurement, measured.remembered) : '';
  ui.remeasure.disabled = busy;
}

/** The backend the next run will use, when it is known before running. */
function plannedBackend(): Backend | null {
  if (!app.gpu) return null;
  if (app.backend === 'cpu' || !app.gpu.available) return 'cpu';
  if (app.backend === 'webgpu') return 'webgpu';
  return app.measured?.measurement.choice ?? null;
}

/**
 * Recalls the remembered "Auto" measurement for the current settings' shape on this machine
 * (or none), its choice redone for their number of steps.
 */
function showRemembered(): void {
  if (app.state === 'running' || app.state === 'paused') return;
  const { config, gpu, cpu } = app;
  const key = config && gpu && cpu ? measurementKey(config, gpu, cpu) : null;
  const m = key ? recall(browserStore(), key) : null;
  const steps = config ? runSteps(config) : 0;
  app.measured = m && key ? { measurement: { ...m, runSteps: steps, choice: choose(m.cpu, m.webgpu, steps) }, remembered: true, key } : null;
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
  if (writeUrl) void sharing.writeUrlState();
  if (!app.runConfig) view.layout(config); // nothing has run yet: preview the axes of this config
  showRemembered();
  updateControls();
  embed.update();
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

ui.preset.addEventListener('change', () => {
  const preset = app.presets.find((p) => p.name === ui.preset.value);
  if (!preset) return;
  setStatus('', false);
  setConfig(preset.config, true);
});

ui.backend.addEventListener('change', () => {
  app.backend = ui.backend.value as BackendChoice;
  app.actual = null;
  showRemembered();
  void sharing.writeUrlState();
  updateControls();
});

ui.remeasure.addEventListener('click', () => {
  if (app.measured) forget(browserStore(), app.measured.key);
  app.measured = null;
  updateControls();
});

onForeignHashChange(() => {
  if (app.state === 'running' || app.state === 'paused' || !app.ready) return;
  clearErrors();
  void sharing.loadFromUrl();
});

// ---- run controls ---------------------------------------------------------------------------

function startRun(): boolean {
  if (!app.config || ui.run.disabled) return false;
  clearErrors();
  app.runConfig = app.config;
  app.actual = null;
  app.hasModel = false;
  app.report = null;
  app.result = null;
  app.checkpoints = [];
  exports.fillCheckpoints();
  ui.fingerprint.hidden = true;
  sharing.showExpectation();
  ui.generateOutput.replaceChildren();
  view.reset(app.config);
  // "Auto" with a remembered measurement runs where it said; without one the worker measures.
  showRemembered();
  const backend = app.backend === 'auto' && app.measured ? app.measured.measurement.choice : app.backend;
  view.setText(`Preparing the model on ${backend === 'cpu' ? 'the CPU' : backend === 'webgpu' ? 'WebGPU' : 'the faster backend'}…`);
  client.send({ type: 'start', config: app.config, backend });
  setState('running');
  return true;
}

function pauseRun(): void {
  if (app.state !== 'running' || app.controlPending) return;
  client.send({ type: 'pause' });
  app.controlPending = true;
  updateControls();
}

function resumeRun(): void {
  if (app.state !== 'paused' || app.controlPending) return;
  client.send({ type: 'resume' });
  app.controlPending = true;
  updateControls();
}

ui.run.addEventListener('click', () => void startRun());
ui.pause.addEventListener('click', () => {
  embed.userControl();
  pauseRun();
});
ui.resume.addEventListener('click', () => {
  embed.userControl();
  resumeRun();
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

// ---- worker messages ------------------------------------------------------------------------

function onMessage(msg: WorkerToPage): void {
  switch (msg.type) {
    case 'loading': {
      // Indeterminate (no value) until the sizes are known.
      if (msg.total) ui.loadingBar.value = msg.loaded / msg.total;
      const total = msg.total ? ` of ${formatBytes(msg.total)}` : '';
      ui.loadingText.textContent = `Loading the engine: ${formatBytes(msg.loaded)}${total}…`;
      document.body.dataset.loadedBytes = String(msg.loaded);
      return;
    }
    case 'ready':
      ui.loading.hidden = true;
      app.presets = msg.presets;
      app.defaultPreset = msg.defaultPreset;
      app.gpu = msg.gpu;
      app.cpu = msg.cpu;
      app.ready = true;
      if (!app.everReady) {
        app.everReady = true;
        fillPresets();
        void sharing.loadFromUrl().then(() => {
          document.body.dataset.ready = 'true';
          embed.post('ready', { config: app.config });
          embed.update();
        });
      } else {
        document.body.dataset.ready = 'true';
      }
      updateControls();
      return;
    case 'init-failed':
      ui.loading.hidden = true;
      showError(`The WebAssembly module could not be loaded: ${msg.message}`);
      setState('error');
      return;
    case 'calibrating':
      view.setText('Measuring WebGPU and the CPU on this config: a first step and two more on each (once per model size)…');
      return;
    case 'measured':
      if (app.runConfig && app.gpu && app.cpu) {
        const key = measurementKey(app.runConfig, app.gpu, app.cpu);
        remember(browserStore(), key, msg.measurement);
        app.measured = { measurement: msg.measurement, remembered: false, key };
      }
      embed.post('measured', msg.measurement);
      updateControls();
      return;
    case 'started':
      app.actual = { backend: msg.backend, note: msg.note };
      view.clock.start();
      view.setText(`Training a model with ${formatCount(msg.modelParams)} parameters…`);
      updateControls();
      embed.post('started', { backend: msg.backend, modelParams: msg.modelParams, config: app.runConfig });
      return;
    case 'inversion-progress':
      probing.onInversionProgress(msg.progress);
      return;
    case 'progress':
      view.progress(msg.progress);
      embed.post('progress', msg.progress);
      if (msg.progress.stage_finished)
        embed.post('stage-done', { stage_index: msg.progress.stage_index, stage: msg.progress.stage_name, metrics: msg.progress.eval });
      return;
    case 'paused':
      view.clock.stop();
      app.hasModel = true;
      embed.post('paused');
      setState('paused');
      return;
    case 'resumed':
      view.clock.start();
      embed.post('resumed');
      setState('running');
      return;
    case 'done':
      clearStopTimer();
      app.report = msg.report;
      app.hasModel = true;
      app.checkpoints = msg.checkpoints;
      exports.fillCheckpoints();
      view.finish(msg.report, 'done');
      setState('done');
      void sharing.recordResult(msg.report, msg.fingerprint).then(() => {
        embed.post('done', { report: msg.report, fingerprint: msg.fingerprint });
      });
      return;
    case 'stopped':
      clearStopTimer();
      app.report = msg.report;
      app.hasModel = msg.report !== null;
      view.finish(msg.report, 'stopped');
      embed.post('stopped', { report: msg.report });
      setState('idle');
      return;
    case 'error':
      clearStopTimer();
      view.clock.stop();
      view.setText('The run failed.');
      showError(`The run failed: ${sentence(msg.message)}${msg.fatal ? ' The engine was restarted; you can start a new run.' : ''}`);
      embed.post('error', { message: msg.message });
      app.hasModel = false;
      if (msg.fatal) {
        client.restart();
        app.ready = false;
      }
      setState('error');
      return;
  }
}

function onCrash(message: string, restarted: boolean): void {
  clearStopTimer();
  embed.post('error', { message });
  view.clock.stop();
  showError(`The training worker crashed: ${sentence(message)}${restarted ? ' It was restarted; you can start a new run.' : ''}`);
  app.hasModel = false;
  app.ready = false;
  setState('error');
}

registerServiceWorker();

setState('idle');
