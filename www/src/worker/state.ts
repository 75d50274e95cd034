// The worker's state in one object: the lab (the model and its run), and the flags that the
// page's messages set while a run or a probe awaits its next step.
import type { Lab } from '../shared/wasm_api';
import type { WorkerToPage } from '../shared/protocol';
import type { StoredRun } from './store';

export interface WorkerState {
  lab: Lab | null;
  /** A run is going (its loop is between start and its end). */
  running: boolean;
  paused: boolean;
  stopRequested: boolean;
  /** Resolves the paused loop's wait (on resume or stop). */
  wakeUp: (() => void) | null;
  /** A "Try the model" generation: the loop waits for it before its next step. */
  generating: Promise<unknown> | null;
  /** A probe is using the model: training must not start meanwhile. */
  probing: boolean;
  cancelInversion: boolean;
  /** The run's copy in this browser's storage (worker/store.ts), written as its stages finish. */
  saved: StoredRun | null;
  /** The last imported weights file, which a run may start from. */
  imported: { bytes: Uint8Array; name: string } | null;
}

export const state: WorkerState = {
  lab: null,
  running: false,
  paused: false,
  stopRequested: false,
  wakeUp: null,
  generating: null,
  probing: false,
  cancelInversion: false,
  saved: null,
  imported: null,
};

/**
 * A flag as it is now. Messages set these while a loop awaits, so a loop reads them through a
 * call: TypeScript would otherwise keep a value it narrowed before the await.
 */
export function flag(name: 'paused' | 'stopRequested' | 'cancelInversion'): boolean {
  return state[name];
}

const scope = self as unknown as { postMessage(message: WorkerToPage): void };

export function post(message: WorkerToPage): void {
  scope.postMessage(message);
}

/** Let queued messages (pause, stop, validate) run between steps. Faster than setTimeout(0). */
const channel = new MessageChannel();
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    channel.port1.onmessage = () => {
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
