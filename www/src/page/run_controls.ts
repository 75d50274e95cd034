// Run, Pause, Resume and Stop, and what the worker says about a run: each message moves the
// run's state (state.ts) and the views, and is passed on to an embedding page.
import type { WorkerToPage } from '../shared/protocol';
import type { WorkerClient } from '../shared/worker_client';
import type { Embed } from '../embed/frame';
import { browserStore, measurementKey, remember } from './auto_backend';
import { clearErrors, sentence, setStatus, showError, ui } from './elements';
import type { Exports } from './exports';
import type { SettingsPanel } from './settings_panel';
import type { Sharing } from './sharing';
import {
  carryResult,
  controlSent,
  engine,
  engineLost,
  enterPhase,
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
  /** Something the controls show changed. */
  changed(): void;
}

export class RunControls {
  private stopTimer = 0;

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
    this.d.client.send({ type: 'start', config, backend });
    this.setPhase('running');
    return true;
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
      showError('The run was stopped by force: its worker was restarted, and the model of that run is lost.');
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
        if (run.config && engine.gpu && engine.cpu) {
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
        view.setText(`Training a model with ${formatCount(msg.modelParams)} parameters…`);
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
      case 'stopped':
        this.clearStopTimer();
        runEnded(msg.report, null);
        view.finish(msg.report, 'stopped');
        embed.post('stopped', { report: msg.report });
        this.setPhase('idle');
        return;
      case 'error':
        this.clearStopTimer();
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
