// The engine's Web Worker (a module worker): owns the wasm and the Lab, and talks to the page
// only through the messages in shared/protocol.ts. loader.ts loads the engine, run_loop.ts runs
// an experiment step by step, calls.ts answers the page's requests, state.ts holds the flags.
import type { PageToWorker } from '../shared/protocol';
import { errorMessage } from '../shared/protocol';
import { call } from './calls';
import { installGpuCounters } from './gpu_counters';
import { watchDeviceLoss } from './gpu_lost';
import { isFatal } from './lab';
import { engine, startEngine } from './loader';
import { generate, resume, start } from './run_loop';
import { post, state } from './state';

// Before any wasm runs, so that every WebGPU call is counted (a counter increment per call) and
// every device's loss is seen.
installGpuCounters();
watchDeviceLoss((message) => {
  // Tell the page at once (it restarts this worker once the run has stopped), and stop the run
  // at its last finished step: its finished stages are already saved.
  post({ type: 'gpu-lost', message, running: state.running });
  if (state.running) {
    state.stopRequested = true;
    state.wakeUp?.();
  }
});
const ready = startEngine();

async function handle(msg: PageToWorker): Promise<void> {
  if (!(await ready)) return;
  switch (msg.type) {
    case 'validate':
      try {
        post({ type: 'validated', id: msg.id, ok: true, config: engine.wasm.parse_config(msg.config) });
      } catch (e) {
        post({ type: 'validated', id: msg.id, ok: false, error: errorMessage(e) });
      }
      return;
    case 'start':
      return start(msg.config, msg.backend, msg.name, msg.fromImported);
    case 'continue':
      return resume(msg.id, msg.backend);
    case 'pause':
      if (state.running) state.paused = true;
      return;
    case 'resume':
      state.paused = false;
      state.wakeUp?.();
      return;
    case 'stop':
      if (state.running) {
        state.stopRequested = true;
        state.wakeUp?.();
      }
      return;
    case 'generate':
      return generate(msg);
    case 'call':
      try {
        post({ ...(await call(msg.call.fn, msg.call)), id: msg.id });
      } catch (e) {
        post({ type: 'reply', id: msg.id, ok: false, error: errorMessage(e) });
      }
      return;
  }
}

const scope = self as unknown as {
  addEventListener(type: 'message', listener: (ev: MessageEvent<PageToWorker>) => void): void;
  addEventListener(type: 'unhandledrejection', listener: (ev: PromiseRejectionEvent) => void): void;
};
scope.addEventListener('message', (ev) => {
  handle(ev.data).catch((e: unknown) => {
    post({ type: 'error', message: errorMessage(e), fatal: isFatal(e) });
  });
});
scope.addEventListener('unhandledrejection', (ev) => {
  post({ type: 'error', message: errorMessage(ev.reason), fatal: isFatal(ev.reason) });
});
