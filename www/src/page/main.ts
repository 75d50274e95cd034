// The lab page (index.html): builds its parts and wires them together. The state is state.ts's;
// the parts: settings_panel.ts (preset, backend, config), run_controls.ts (Run/Pause/Stop and
// the worker's run messages), sharing.ts (links, verdicts), exports.ts (report, weights),
// try_model.ts, probing_panel.ts; the views draw.
import './style.css';
import type { PageBackend, WorkerToPage } from '../shared/protocol';
import { originOf, pageOptions } from '../shared/page_options';
import { WorkerClient } from '../shared/worker_client';
import { Embed } from '../embed/frame';
import { onForeignHashChange } from './address_bar';
import { describeMeasurement } from './auto_backend';
import { clearErrors, showError, ui } from './elements';
import { Exports } from './exports';
import { ProbingPanel } from './probing_panel';
import { RunControls } from './run_controls';
import { registerServiceWorker } from './service_worker';
import { SavedRuns } from './saved_runs';
import { SettingsPanel } from './settings_panel';
import { Sharing } from './sharing';
import { admissible, engine, engineReady, firstReady, isBusy, run, settings } from './state';
import { TryModel } from './try_model';
import { byTestId } from '../views/dom';
import { describeAdmission, describeBackend, formatBytes } from '../views/format';
import { RunView } from '../views/run_view';

const options = pageOptions(location.search);
document.documentElement.dataset.theme = options.theme;
if (options.embed) {
  document.body.classList.add('embed');
  ui.settings.open = false; // embedded, the charts come first and the settings fold away
}

// The parts, built in order; a part that needs a later one reaches it through a closure.
const view = new RunView(byTestId('charts'));
const client = new WorkerClient({
  onMessage,
  onCrash: (message, restarted) => {
    runs.onCrash(message, restarted);
  },
});
const embed: Embed = new Embed(
  options.embed,
  options.autorun,
  {
    run: (): boolean => runs.start(),
    autorun: (): boolean => runs.autorun(),
    pause: () => {
      runs.pause();
    },
    resume: () => {
      runs.resume();
    },
    stop: () => {
      ui.stop.click();
    },
    state: () => run.phase,
  },
  options.parentOrigin ?? originOf(document.referrer),
);
const panel = new SettingsPanel({
  client,
  view,
  writeLink: () => void sharing.writeUrlState(),
  changed: updateControls,
  admitted: () => {
    embed.update();
  },
});
const sharing = new Sharing({
  client,
  embed,
  options,
  setConfig: (config, writeLink) => {
    panel.setConfig(config, writeLink);
  },
});
const probing = new ProbingPanel(client, {
  config: () => run.config ?? settings.config,
  tryPrompt: (prompt) => {
    ui.prompt.value = prompt;
    ui.prompt.scrollIntoView({ block: 'center' });
    if (!ui.generate.disabled) ui.probeForm.requestSubmit();
  },
  busyChanged: updateControls,
});
const exports = new Exports({
  client,
  view,
  sharing,
  setConfig: (config, writeLink) => {
    panel.setConfig(config, writeLink);
  },
  setPhase: (p) => {
    runs.setPhase(p);
  },
  updateControls,
});
const saved: SavedRuns = new SavedRuns({
  client,
  continueRun: (r) => {
    runs.continueRun(r);
  },
  open: (r) => exports.openSaved(r),
});
const runs: RunControls = new RunControls({ client, view, embed, sharing, exports, settings: panel, saved, changed: updateControls });
// Leaving while a run goes would lose the stage under way (the finished ones are saved): ask first.
window.addEventListener('beforeunload', (ev) => {
  if (!isBusy()) return;
  ev.preventDefault(); // the browser's own "Leave site?" prompt
});
new TryModel({ client, updateControls });
ui.bannerDismiss.addEventListener('click', clearErrors);

onForeignHashChange(() => {
  if (isBusy() || !engine.ready) return;
  clearErrors();
  void sharing.loadFromUrl();
});

/** Every control's enabled state and label, from the state (called after any change). */
function updateControls(): void {
  const { phase } = run;
  const { ready } = engine;
  const busy = isBusy();
  ui.run.disabled = !(ready && settings.configOk && admissible() && !busy && !probing.isBusy);
  const { admitted } = settings;
  ui.runEstimate.textContent = admitted && settings.configOk ? describeAdmission(admitted) : '';
  ui.runEstimate.classList.toggle('error', admitted !== null && !admissible());
  ui.pause.disabled = phase !== 'running' || run.controlPending;
  ui.resume.disabled = phase !== 'paused' || run.controlPending;
  ui.stop.disabled = !busy || run.stopping === 'asked';
  ui.stop.textContent = run.stopping === 'force' ? 'Force stop' : 'Stop';
  // A link may hide the controls, but never while a run is going: Stop must stay in reach.
  ui.runControls.hidden = settings.hide.includes('controls') && !busy;
  panel.setDisabled(!ready || busy);
  ui.backend.disabled = busy;
  ui.download.disabled = !run.report;
  ui.downloadCsv.disabled = !run.report || busy;
  const noCheckpoints = run.checkpoints.length === 0;
  ui.checkpoint.disabled = noCheckpoints || busy;
  ui.downloadWeights.disabled = noCheckpoints || busy || run.exporting;
  ui.importWeights.disabled = !ready || busy || run.exporting || probing.isBusy;
  ui.startFromImported.disabled = busy || run.importedFile === null;
  if (ui.startFromImported.disabled) ui.startFromImported.checked = false;
  saved.update();
  ui.continueOnCpu.disabled = !ready || busy;
  const canTry = ready && run.hasModel && (phase === 'paused' || phase === 'done' || phase === 'idle');
  probing.setAvailable(canTry, run.checkpoints);
  ui.generate.disabled = !canTry || run.generating;
  ui.generateHint.textContent = canTry
    ? 'The prompt is wrapped as “Human: … Assistant:” for you.'
    : phase === 'running'
      ? 'Pause the run (or wait until it is done) to try the model.'
      : 'Run an experiment first; you can try the model while it is paused or when it is done.';
  const actual = busy || phase === 'done' ? run.actual : null;
  ui.backendLabel.textContent = describeBackend(engine.gpu, settings.backend, actual, engine.cpu);
  ui.backendLabel.dataset.backend = actual?.backend ?? plannedBackend() ?? '';
  ui.backendNote.textContent = actual?.note ?? '';
  ui.backendNote.hidden = !actual?.note;
  const measured = run.measured;
  ui.autoNote.hidden = !measured || settings.backend !== 'auto';
  ui.autoText.textContent = measured ? describeMeasurement(measured.measurement, measured.remembered) : '';
  ui.remeasure.disabled = busy;
}

/** The backend the next run will use, when it is known before running. */
function plannedBackend(): PageBackend | null {
  const { gpu } = engine;
  if (!gpu) return null;
  if (settings.backend === 'cpu' || !gpu.available) return 'cpu';
  if (settings.backend === 'webgpu') return 'webgpu';
  return run.measured?.measurement.choice ?? null;
}

/** The engine's own messages; a run's go to run_controls.ts. */
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
      engineReady(msg.presets, msg.defaultPreset, msg.gpu, msg.cpu);
      void saved.refresh();
      if (firstReady()) {
        panel.fillPresets();
        void sharing.loadFromUrl().then(() => {
          document.body.dataset.ready = 'true';
          embed.post('ready', { config: settings.config });
          embed.update();
        });
      } else {
        document.body.dataset.ready = 'true';
        void panel.admit(); // a restarted worker: ask again
      }
      updateControls();
      return;
    case 'init-failed':
      ui.loading.hidden = true;
      showError(`The WebAssembly module could not be loaded: ${msg.message}`);
      runs.setPhase('error');
      return;
    case 'inversion-progress':
      probing.onInversionProgress(msg.progress);
      return;
    default:
      runs.onMessage(msg);
  }
}

registerServiceWorker();

runs.setPhase('idle');
