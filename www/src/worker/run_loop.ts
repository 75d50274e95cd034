// A run: "Auto"'s measurement when asked for, then the Lab's steps one at a time, yielding
// between steps so that pause, stop and the page's requests are answered.
import type { BackendChoice, PageToWorker } from '../shared/protocol';
import { errorMessage } from '../shared/protocol';
import { choose, runSteps, type Measurement } from '../shared/measurement';
import type { ExperimentConfig, Lab } from '../shared/wasm_api';
import { admit } from './admission';
import { backendOf, createLab, dropLab, fingerprintOf, isFatal } from './lab';
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

export async function start(config: ExperimentConfig, choice: BackendChoice): Promise<void> {
  if (state.running) {
    post({ type: 'error', message: 'A run is already in progress: stop it first.', fatal: false });
    return;
  }
  if (state.probing) {
    post({ type: 'error', message: 'A probe is using the model: wait for it (or stop it) first.', fatal: false });
    return;
  }
  // Nothing starts above the budget of where it would run, whoever sent the start.
  const { admission, backends } = admit(config, choice);
  if (backends.length === 0) {
    post({ type: 'error', message: admission.refusal ?? 'This run does not fit this device.', fatal: false });
    return;
  }
  Object.assign(state, { running: true, paused: false, stopRequested: false });
  dropLab();
  try {
    // "Auto" measures only where the run fits; where it fits one backend only, it runs there.
    if (choice === 'auto' && backends.length === 1) choice = backends[0] ?? 'cpu';
    if (choice === 'auto' && engine.gpu.available) {
      const measurement = await measure(config);
      post({ type: 'measured', measurement });
      if (flag('stopRequested')) {
        post({ type: 'stopped', report: null });
        return;
      }
      choice = measurement.choice;
    }
    const created = await createLab(config, choice);
    const lab = created.lab;
    state.lab = lab;
    post({ type: 'started', backend: backendOf(lab), modelParams: lab.model_params(), note: created.note });
    await loop(lab);
  } catch (e) {
    const fatal = isFatal(e);
    if (fatal) state.lab = null;
    post({ type: 'error', message: errorMessage(e), fatal });
  } finally {
    state.running = false;
  }
}

function safeReport(l: Lab) {
  try {
    return l.report();
  } catch {
    return null;
  }
}

async function loop(l: Lab): Promise<void> {
  for (;;) {
    if (flag('stopRequested')) {
      post({ type: 'stopped', report: safeReport(l) });
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
