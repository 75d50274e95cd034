// A run: "Auto"'s measurement when asked for, then the Lab's steps one at a time, yielding
// between steps so that pause, stop and the page's requests are answered.
import type { BackendChoice, PageToWorker } from '../shared/protocol';
import { errorMessage } from '../shared/protocol';
import { choose, runSteps, type Measurement } from '../shared/measurement';
import type { ExperimentConfig, Lab, PageBackend } from '../shared/wasm_api';
import { admit } from './admission';
import { backendOf, createFromWeights, createLab, dropLab, fingerprintOf, isFatal, onBackend } from './lab';
import * as store from './store';
import { engine, moduleFor } from './loader';
import { flag, post, state, yieldToEventLoop } from './state';

/** Timed steps per backend after the first (whose time, kernels compiled, is kept apart). */
const CALIBRATION_STEPS = 2;

/** "Auto" by measurement: the config's first steps on the CPU, then on WebGPU (shared/measurement.ts). */
async function measure(config: ExperimentConfig): Promise<Measurement> {
  post({ type: 'calibrating' });
  const cpuSpeed = await moduleFor('cpu').calibrate(config, 'cpu', CALIBRATION_STEPS);
  let webgpu: Measurement['webgpu'];
  try {
    webgpu = await engine.wasm.calibrate(config, 'webgpu', CALIBRATION_STEPS);
  } catch (e) {
    if (isFatal(e)) throw e;
    webgpu = { error: errorMessage(e) };
  }
  const steps = runSteps(config);
  return { cpu: cpuSpeed, webgpu, runSteps: steps, choice: choose(cpuSpeed, webgpu, steps), at: new Date().toISOString() };
}

/** Whether a run may start now; posts why not. */
function canStart(): boolean {
  if (state.running) {
    post({ type: 'error', message: 'A run is already in progress: stop it first.', fatal: false });
    return false;
  }
  if (state.probing) {
    post({ type: 'error', message: 'A probe is using the model: wait for it (or stop it) first.', fatal: false });
    return false;
  }
  return true;
}

/** The backends a config may run on here, or null (posted) when none admits it. */
function admitted(config: ExperimentConfig, choice: BackendChoice): PageBackend[] | null {
  // Nothing starts above the budget of where it would run, whoever sent the start.
  const { admission, backends } = admit(config, choice);
  if (backends.length > 0) return backends;
  post({ type: 'error', message: admission.refusal ?? 'This run does not fit this device.', fatal: false });
  return null;
}

/** Runs `body` as the run: the flags set around it, and a failure posted (a panic drops the lab). */
async function asRun(body: () => Promise<void>): Promise<void> {
  Object.assign(state, { running: true, paused: false, stopRequested: false });
  dropLab();
  try {
    await body();
  } catch (e) {
    const fatal = isFatal(e);
    if (fatal) state.lab = null;
    post({ type: 'error', message: errorMessage(e), fatal });
  } finally {
    state.running = false;
  }
}

/**
 * A new run of `config`; `name` (the preset, or "custom") labels its saved copy. With
 * `fromImported`, its first stage starts from the last imported weights file's model.
 */
export async function start(config: ExperimentConfig, choice: BackendChoice, name: string, fromImported: boolean): Promise<void> {
  if (!canStart()) return;
  const backends = admitted(config, choice);
  if (!backends) return;
  const from = fromImported ? state.imported : null;
  if (fromImported && !from) {
    post({ type: 'error', message: 'There are no imported weights to start from: import a weights file first.', fatal: false });
    return;
  }
  await asRun(async () => {
    // "Auto" measures only where the run fits; where it fits one backend only, it runs there.
    if (choice === 'auto' && backends.length === 1) choice = backends[0] ?? 'cpu';
    if (choice === 'auto' && engine.gpu.available) {
      const measurement = await measure(config);
      post({ type: 'measured', measurement });
      if (flag('stopRequested')) {
        post({ type: 'stopped', report: null, checkpoints: [] });
        return;
      }
      choice = measurement.choice;
    }
    const created = from ? await createFromWeights(config, choice, from) : await createLab(config, choice);
    const lab = created.lab;
    state.lab = lab;
    state.saved = store.newRun(config, backendOf(lab), name, from?.name ?? null);
    post({ type: 'started', backend: backendOf(lab), modelParams: lab.model_params(), note: created.note, resumed: null });
    await loop(lab);
  });
}

/** Continues a saved run from its last finished stage (worker/store.ts). */
export async function resume(id: string, choice: BackendChoice): Promise<void> {
  if (!canStart()) return;
  let run: store.StoredRun;
  try {
    run = await store.get(id);
  } catch (e) {
    post({ type: 'error', message: errorMessage(e), fatal: false });
    return;
  }
  if (run.finished) {
    post({ type: 'error', message: 'That saved run has finished: open it to see its stages.', fatal: false });
    return;
  }
  const backends = admitted(run.config, choice);
  if (!backends) return;
  if (choice === 'auto') choice = backends.includes(run.backend) ? run.backend : (backends[0] ?? 'cpu');
  await asRun(async () => {
    const created = await onBackend(choice, (backend) => moduleFor(backend).Lab.resume(run.boundary, run.checkpoints, backend));
    const lab = created.lab;
    state.lab = lab;
    state.saved = run;
    post({
      type: 'started',
      backend: backendOf(lab),
      modelParams: lab.model_params(),
      note: created.note,
      resumed: { stagesDone: run.stagesDone, report: lab.report() },
    });
    await loop(lab);
  });
}

function safeReport(l: Lab) {
  try {
    return l.report();
  } catch {
    return null;
  }
}

/** After a stage finished: its checkpoint and the run's state between stages, into storage. */
async function saveStage(l: Lab): Promise<void> {
  const run = state.saved;
  const boundary = l.boundary();
  if (!run || boundary === null) return;
  try {
    const names = l.checkpoints();
    while (run.checkpoints.length < names.length) run.checkpoints.push(await l.export_weights(run.checkpoints.length));
    Object.assign(run, { boundary, stagesDone: names.length, finished: l.is_done() });
    await store.save(run);
    post({ type: 'saved', run: store.summary(run) });
  } catch (e) {
    if (isFatal(e)) throw e;
    post({ type: 'save-failed', message: errorMessage(e) });
  }
}

async function loop(l: Lab): Promise<void> {
  for (;;) {
    if (flag('stopRequested')) {
      post({ type: 'stopped', report: safeReport(l), checkpoints: l.checkpoints() });
      return;
    }
    if (flag('paused')) {
      post({ type: 'paused' });
      await new Promise<void>((resolve) => (state.wakeUp = resolve));
      state.wakeUp = null;
      if (!flag('stopRequested')) post({ type: 'resumed' });
      continue;
    }
    if (state.generating) await state.generating.catch(() => undefined);
    const progress = await l.step();
    post({ type: 'progress', progress });
    if (progress.stage_finished) await saveStage(l);
    if (progress.done || l.is_done()) {
      post({ type: 'done', report: l.report(), fingerprint: await fingerprintOf(l), checkpoints: l.checkpoints() });
      return;
    }
    await yieldToEventLoop();
  }
}

/** "Try the model" on the paused or finished model; the run's loop waits for it. */
export async function generate(msg: Extract<PageToWorker, { type: 'generate' }>): Promise<void> {
  const fail = (error: string) => {
    post({ type: 'generated', id: msg.id, ok: false, error });
  };
  const lab = state.lab;
  if (!lab) {
    fail('There is no trained model yet: run an experiment first.');
    return;
  }
  if (state.running && !state.paused) {
    fail('Pause the run before trying the model.');
    return;
  }
  const task = lab.generate(msg.prompt, { temperature: msg.temperature, seed: msg.seed, max_new_tokens: msg.max_new_tokens });
  state.generating = task;
  try {
    post({ type: 'generated', id: msg.id, ok: true, generation: await task });
  } catch (e) {
    fail(errorMessage(e));
  } finally {
    if (state.generating === task) state.generating = null;
  }
}
