// Run, Pause, Resume and Stop, and what the worker says about a run: each message moves the
// run's state (state.ts) and the views, and is passed on to an embedding page.
import type { SavedRun, WorkerToPage } from '../shared/protocol';
import type { WorkerClient } from '../shared/worker_client';
import type { Embed } from '../embed/frame';
import { browserStore, measurementKey, remember } from './auto_backend';
import { clearErrors, sentence, setStatus, showError, ui } from './elements';
import type { Exports } from './exports';
import type { SavedRuns } from './saved_runs';
import type { SettingsPanel } from './settings_panel';
import type { Sharing } from './sharing';
import {
  carryResult,
  controlSent,
  engine,
  engineLost,
  enterPhase,
  isBusy,
  measuredAs,
  modelAvailable,
  run,
  runEnded,
  runsOn,
  runStarting,
  settings,
  stopping,
  type RunPhase,
} from './state';
import { formatCount, formatRoughDuration } from '../views/format';
import { LIMITS } from '../generated/core';
import type { RunView } from '../views/run_view';

/** After this long without the run stopping (a long step), Stop becomes "Force stop". */
export const FORCE_STOP_AFTER_MS = 5_000;

export interface RunDeps {
  client: WorkerClient;
  view: RunView;
  embed: Embed;
  sharing: Sharing;
  exports: Exports;
  settings: SettingsPanel;
  saved: SavedRuns;
  /** Something the controls show changed. */
  changed(): void;
}

export class RunControls {
  private stopTimer = 0;
  /** This run's copy in the browser's storage, once a stage has been saved. */
  private savedRun: SavedRun | null = null;
  /** The GPU was lost during this run: why, until the run has stopped and the worker restarted. */
  private gpuLost: string | null = null;
  private gpuLossTimer = 0;
  /** After a GPU loss: the saved run to continue on the CPU (null: start again on the CPU). */
  private continueAfterLoss: SavedRun | null = null;

  constructor(private readonly d: RunDeps) {
    ui.run.addEventListener('click', () => void this.start());
    ui.pause.addEventListener('click', () => {
      d.embed.userControl();
      this.pause();
    });
    ui.resume.addEventListener('click', () => {
      d.embed.userControl();
      this.resume();
    });
    ui.stop.addEventListener('click', () => {
      this.stop();
    });
    ui.continueOnCpu.addEventListener('click', () => {
      ui.gpuLost.hidden = true;
      ui.backend.value = 'cpu';
      ui.backend.dispatchEvent(new Event('change')); // the settings take the CPU (and the link says so)
      const saved = this.continueAfterLoss;
      this.continueAfterLoss = null;
      if (saved) this.continueRun(saved);
      else this.start();
    });
  }

  setPhase(phase: RunPhase): void {
    enterPhase(phase);
    document.body.dataset.state = phase;
    this.d.changed();
    this.d.embed.update();
  }

  /**
   * A link's ?autorun: starts the run when it is estimated at a few minutes at most; a longer
   * one waits for a click, with a notice saying so. False until the estimate is known.
   */
  autorun(): boolean {
    const a = settings.admitted;
    if (!a || !settings.config || !engine.ready) return false;
    if (a.backends.length === 0) return true; // refused: the estimate line says why
    const seconds = a.admission.estimate.seconds;
    if (seconds > LIMITS.AUTORUN_MAX_SECONDS) {
      setStatus(`This link asks to start its run at once, but the run is estimated at ${formatRoughDuration(seconds)}: press Run to start it.`, false);
      return true;
    }
    return this.start();
  }

  /** Starts a run of the current settings; false when it cannot start now. */
  start(): boolean {
    const config = settings.config;
    if (!config || ui.run.disabled) return false;
    const { view, sharing, exports } = this.d;
    clearErrors();
    runStarting(config);
    this.savedRun = null;
    ui.gpuLost.hidden = true;
    carryResult(null);
    exports.fillCheckpoints();
    ui.fingerprint.hidden = true;
    sharing.showExpectation();
    ui.generateOutput.replaceChildren();
    view.reset(config);
    // "Auto" with a remembered measurement runs where it said; without one the worker measures.
    this.d.settings.showRemembered();
    const backend = settings.backend === 'auto' && run.measured ? run.measured.measurement.choice : settings.backend;
    view.setText(`Preparing the model on ${backend === 'cpu' ? 'the CPU' : backend === 'webgpu' ? 'WebGPU' : 'the faster backend'}…`);
    const name = ui.preset.value || 'custom';
    const fromImported = ui.startFromImported.checked && !ui.startFromImported.disabled;
    this.d.client.send({ type: 'start', config, backend, name, fromImported });
    this.setPhase('running');
    return true;
  }

  /** Continues a saved run from its last finished stage, on the settings' backend. */
  continueRun(saved: SavedRun): void {
    if (isBusy() || !engine.ready) return;
    const { view, sharing, exports } = this.d;
    clearErrors();
    this.d.settings.setConfig(saved.config, true);
    runStarting(saved.config);
    this.savedRun = saved;
    ui.gpuLost.hidden = true;
    carryResult(null);
    exports.fillCheckpoints();
    ui.fingerprint.hidden = true;
    sharing.showExpectation();
    ui.generateOutput.replaceChildren();
    view.reset(saved.config);
    view.setText(`Continuing ${saved.name} from stage ${String(saved.stagesDone + 1)} of ${String(saved.stages)}…`);
    this.d.client.send({ type: 'continue', id: saved.id, backend: settings.backend });
    this.setPhase('running');
  }

  pause(): void {
    if (run.phase !== 'running' || run.controlPending) return;
    this.d.client.send({ type: 'pause' });
    controlSent();
    this.d.changed();
  }

  resume(): void {
    if (run.phase !== 'paused' || run.controlPending) return;
    this.d.client.send({ type: 'resume' });
    controlSent();
    this.d.changed();
  }

  /** Stop: asks the worker to stop after the current step; pressed again after a while, kills it. */
  stop(): void {
    if (run.stopping === 'force') {
      // The worker is stuck in a long step: kill it (the model of this run is lost).
      this.clearStopTimer();
      this.d.client.restart();
      engineLost();
      showError(
        'The run was stopped by force: its worker was restarted. Its finished stages are kept under “Saved in this browser”, where you can open or continue it.',
      );
      void this.d.saved.refresh();
      this.d.view.finish(null, 'stopped');
      this.setPhase('idle');
      return;
    }
    this.d.client.send({ type: 'stop' });
    stopping('asked');
    this.d.view.setText('Stopping after the current step…');
    this.stopTimer = window.setTimeout(() => {
      stopping('force');
      this.d.changed();
    }, FORCE_STOP_AFTER_MS);
    this.d.changed();
  }

  /**
   * After the GPU was lost and the run has stopped (or at once, when nothing ran): a fresh
   * worker, which drops the lost device the wasm kept, and an offer to continue on the CPU from
   * the last saved stage. Auto remembers nothing of it (a failed WebGPU measurement is not kept).
   */
  private afterGpuLoss(): void {
    const message = this.gpuLost;
    if (!message) return;
    this.gpuLost = null;
    window.clearTimeout(this.gpuLossTimer);
    this.clearStopTimer();
    this.d.client.restart();
    engineLost();
    if (isBusy()) {
      this.d.view.finish(run.report, 'stopped');
      this.setPhase('idle');
    }
    const saved = this.savedRun && !this.savedRun.finished ? this.savedRun : null;
    this.continueAfterLoss = saved;
    ui.gpuLostText.textContent = saved
      ? `The run stopped: ${message}. Its first ${String(saved.stagesDone)} of ${String(saved.stages)} stages are kept in this browser.`
      : `The run stopped: ${message}. No stage had finished; the run can start again.`;
    ui.continueOnCpu.textContent = saved ? 'Continue on the CPU' : 'Run again on the CPU';
    ui.gpuLost.hidden = false;
    void this.d.saved.refresh();
    this.d.changed();
  }

  private clearStopTimer(): void {
    window.clearTimeout(this.stopTimer);
    this.stopTimer = 0;
    stopping(null);
  }

  /** The worker's messages about a run (the engine's own are main.ts's). */
  onMessage(msg: WorkerToPage): void {
    const { view, embed } = this.d;
    switch (msg.type) {
      case 'calibrating':
        view.setText('Measuring WebGPU and the CPU on this config: a first step and two more on each (once per model size)…');
        return;
      case 'measured':
        // A WebGPU that failed (or was lost) while measured is not remembered as "use the CPU".
        if (run.config && engine.gpu && engine.cpu && !('error' in msg.measurement.webgpu)) {
          const key = measurementKey(run.config, engine.gpu, engine.cpu);
          remember(browserStore(), key, msg.measurement);
          measuredAs({ measurement: msg.measurement, remembered: false, key });
        }
        embed.post('measured', msg.measurement);
        this.d.changed();
        return;
      case 'started':
        runsOn({ backend: msg.backend, note: msg.note });
        view.clock.start();
        view.setText(
          msg.resumed
            ? `Continuing after stage ${String(msg.resumed.stagesDone)} (its results are kept): ${formatCount(msg.modelParams)} parameters…`
            : `Training a model with ${formatCount(msg.modelParams)} parameters…`,
        );
        this.d.changed();
        embed.post('started', { backend: msg.backend, modelParams: msg.modelParams, config: run.config });
        return;
      case 'progress':
        view.progress(msg.progress);
        embed.post('progress', msg.progress);
        if (msg.progress.stage_finished)
          embed.post('stage-done', { stage_index: msg.progress.stage_index, stage: msg.progress.stage_name, metrics: msg.progress.eval });
        return;
      case 'paused':
        view.clock.stop();
        modelAvailable(true);
        embed.post('paused');
        this.setPhase('paused');
        return;
      case 'resumed':
        view.clock.start();
        embed.post('resumed');
        this.setPhase('running');
        return;
      case 'done':
        this.clearStopTimer();
        runEnded(msg.report, msg.checkpoints);
        this.d.exports.fillCheckpoints();
        view.finish(msg.report, 'done');
        this.setPhase('done');
        void this.d.sharing.recordResult(msg.report, msg.fingerprint).then(() => {
          embed.post('done', { report: msg.report, fingerprint: msg.fingerprint });
        });
        return;
      case 'saved':
        this.savedRun = msg.run;
        this.d.saved.saved(msg.run);
        return;
      case 'gpu-lost':
        this.gpuLost = msg.message;
        if (!msg.running || !isBusy()) this.afterGpuLoss();
        // A step that never returns must not keep the page waiting: restart after a while anyway.
        else
          this.gpuLossTimer = window.setTimeout(() => {
            this.afterGpuLoss();
          }, 10_000);
        return;
      case 'save-failed':
        this.d.saved.saveFailed(msg.message);
        return;
      case 'stopped':
        this.clearStopTimer();
        // The stages that finished before the stop keep their weights: download, try, probe them.
        runEnded(msg.report, msg.checkpoints);
        this.d.exports.fillCheckpoints();
        view.finish(msg.report, 'stopped');
        embed.post('stopped', { report: msg.report });
        this.setPhase('idle');
        this.afterGpuLoss();
        return;
      case 'error':
        this.clearStopTimer();
        if (this.gpuLost) {
          // The step under way failed with the device: the loss says what happened.
          view.clock.stop();
          this.setPhase('idle');
          this.afterGpuLoss();
          return;
        }
        view.clock.stop();
        view.setText('The run failed.');
        showError(`The run failed: ${sentence(msg.message)}${msg.fatal ? ' The engine was restarted; you can start a new run.' : ''}`);
        embed.post('error', { message: msg.message });
        modelAvailable(false);
        if (msg.fatal) {
          this.d.client.restart();
          engineLost();
        }
        this.setPhase('error');
        return;
      default:
        return;
    }
  }

  /** The worker died: the run and its model are gone. */
  onCrash(message: string, restarted: boolean): void {
    this.clearStopTimer();
    this.d.embed.post('error', { message });
    this.d.view.clock.stop();
    showError(`The training worker crashed: ${sentence(message)}${restarted ? ' It was restarted; you can start a new run.' : ''}`);
    modelAvailable(false);
    engineLost();
    this.setPhase('error');
  }
}
