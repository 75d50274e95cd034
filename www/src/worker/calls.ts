// The page's requests (`call` messages, protocol.ts `Call`): each answered by its handler here,
// typed per call so a reply's value is the type the page expects.
import type { BackendChoice, CallOf, Reply, Returns } from '../shared/protocol';
import type { Lab } from '../shared/wasm_api';
import { admit } from './admission';
import { gpuProfile } from './gpu_profile';
import * as store from './store';
import { backendOf, dropLab, fingerprintOf, onBackend } from './lab';
import { engine, moduleFor } from './loader';
import { flag, post, state, yieldToEventLoop } from './state';

/** Replaces the current model with one from a weights file; on any failure the old one stays. */
async function importWeights(bytes: ArrayBuffer, name: string, choice: BackendChoice): Promise<Returns['importWeights']> {
  if (state.running) throw new Error('Stop the run before importing weights.');
  const created = await onBackend(choice, (backend) => moduleFor(backend).Lab.import_weights(new Uint8Array(bytes), backend));
  const l = created.lab;
  try {
    const metrics = await l.evaluate();
    const imported: Returns['importWeights'] = {
      config: l.config(),
      stage: l.checkpoints()[0] ?? 'unknown',
      metrics,
      fingerprint: (await fingerprintOf(l)) ?? '',
      backend: backendOf(l),
      modelParams: l.model_params(),
      note: created.note,
    };
    dropLab();
    state.lab = l;
    state.saved = null;
    // Kept so that a run can start from it ("Start the next run from the imported model").
    state.imported = { bytes: new Uint8Array(bytes), name };
    return imported;
  } catch (e) {
    l.free();
    throw e;
  }
}

/** A saved run's finished stages as the current model; on any failure the old model stays. */
async function openSaved(id: string, choice: BackendChoice): Promise<Returns['openSaved']> {
  if (state.running) throw new Error('Stop the run before opening a saved one.');
  const run = await store.get(id);
  const created = await onBackend(choice, (backend) => moduleFor(backend).Lab.resume(run.boundary, run.checkpoints, backend));
  const l = created.lab;
  try {
    const opened: Returns['openSaved'] = {
      run: store.summary(run),
      report: l.report(),
      checkpoints: l.checkpoints(),
      fingerprint: l.is_done() ? await fingerprintOf(l) : null,
      backend: backendOf(l),
      modelParams: l.model_params(),
      note: created.note,
    };
    dropLab();
    state.lab = l;
    state.saved = run;
    return opened;
  } catch (e) {
    l.free();
    throw e;
  }
}

function needLab(): Lab {
  if (!state.lab) throw new Error('There is no model yet: run an experiment or import weights first.');
  if (state.running && !state.paused) throw new Error('Pause the run first.');
  return state.lab;
}

/** A benchmark needs the processor to itself. */
function needIdle(): void {
  if (state.running) throw new Error('Stop the run first: a benchmark needs the processor to itself.');
}

/** Runs a probe on the model, keeping training from starting meanwhile. */
async function probe<T>(work: (l: Lab) => Promise<T>): Promise<T> {
  const l = needLab();
  if (state.probing) throw new Error('Another probe is running: wait for it to finish.');
  state.probing = true;
  try {
    return await work(l);
  } finally {
    state.probing = false;
  }
}

async function invert(c: CallOf<'invert'>): Promise<Returns['invert']> {
  return probe(async (l) => {
    state.cancelInversion = false;
    await l.start_inversion(c.config, c.checkpoint);
    for (;;) {
      const progress = await l.inversion_step();
      post({ type: 'inversion-progress', progress });
      if (progress.done || flag('cancelInversion')) break;
      await yieldToEventLoop();
    }
    return l.finish_inversion(c.evalPrompts, c.trueTrigger);
  });
}

const handlers: { [F in keyof Returns]: (c: CallOf<F>) => Returns[F] | Promise<Returns[F]> } = {
  decodeLink: (c) => engine.wasm.decode_link(c.link),
  encodeLink: (c) => engine.wasm.encode_link(c.config, c.extras),
  compare: (c) => engine.wasm.compare_results(c.expected, c.actual, c.madeBy),
  exportWeights: (c) => needLab().export_weights(c.index),
  csv: () => needLab().report_csv(),
  importWeights: (c) => importWeights(c.bytes, c.name, c.backend),
  savedRuns: async () => ({ runs: await store.list(), budgetBytes: store.BUDGET_BYTES }),
  openSaved: (c) => openSaved(c.id, c.backend),
  deleteSaved: async (c) => {
    if (state.saved?.id === c.id && state.running) throw new Error('That run is going: stop it before deleting it.');
    await store.remove(c.id);
    return null;
  },
  clearSaved: async () => {
    if (state.running) throw new Error('Stop the run first: its saved copy is being written.');
    await store.clear();
    return null;
  },
  variants: (c) => engine.wasm.trigger_variants(c.base),
  sweep: (c) => probe((l) => l.trigger_sweep(c.candidates, c.prompts, c.checkpoint)),
  defection: (c) => probe((l) => l.defection_probe(c.prompts, c.checkpoint)),
  inspect: (c) =>
    probe(async (l) => {
      // Without a given answer, inspect the model's own (greedy) answer.
      const answer =
        c.answer ?? (await l.generate(c.prompt, { temperature: 0, seed: 1, max_new_tokens: l.config().eval.max_new_tokens, checkpoint: c.checkpoint })).text;
      return { inspection: await l.inspect(c.prompt, answer, 5, c.checkpoint), answer };
    }),
  invert: (c) => invert(c),
  cancelInversion: () => {
    state.cancelInversion = true;
    return null;
  },
  bench: (c) => {
    needIdle();
    return moduleFor(c.backend).bench(c.shape, c.backend, c.steps);
  },
  cpuThreads: () => ({ ...(engine.threaded ?? engine.wasm).cpu_threads(), reason: engine.cpu.reason }),
  admit: (c) => admit(c.config, c.backend),
  gpuProfile: (c) => {
    needIdle();
    return gpuProfile(c);
  },
};

/** Answers one call (the caller sets the reply's id). */
export async function call<F extends keyof Returns>(fn: F, c: CallOf<F>): Promise<Reply> {
  const handler: (c: CallOf<F>) => Returns[F] | Promise<Returns[F]> = handlers[fn];
  return { type: 'reply', id: 0, ok: true, fn, value: await handler(c) } as Reply;
}
