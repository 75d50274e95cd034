// Messages between the page (main thread) and the worker that runs the wasm.
import type { Measurement } from './measurement';
import { BACKENDS } from '../generated/core';
import type {
  Admission,
  BackendChoice,
  BenchResult,
  BenchShape,
  Candidate,
  DecodedLink,
  DefectionReport,
  ExperimentConfig,
  Expected,
  Generation,
  Inspection,
  InversionConfig,
  InversionProgress,
  InversionResult,
  LinkExtras,
  Preset,
  Progress,
  Report,
  SweepResult,
  Verdict,
  CpuThreads,
  Metrics,
  PageBackend,
} from './wasm_api';

/** The backends a run may ask for (core's `link::BACKENDS`, the names of its `BackendChoice`). */
export const BACKEND_CHOICES: readonly BackendChoice[] = BACKENDS;
/**
 * What the user asked for (core's `BackendChoice`). "auto": the CPU where there is no WebGPU
 * adapter; else the faster of the two on this config, measured by the worker
 * (shared/measurement.ts) unless the page remembers it (page/auto_backend.ts).
 */
export type { BackendChoice };
/** What actually runs. */
export type { PageBackend };

export interface GpuInfo {
  /** True when navigator.gpu gave an adapter. */
  available: boolean;
  vendor: string;
  architecture: string;
  description: string;
  /** Why there is no adapter (when !available). */
  reason: string;
  /** The adapter's largest buffer and storage binding, bytes (null without an adapter). */
  maxBufferSize: number | null;
  maxStorageBufferBindingSize: number | null;
}

/** The CPU backend's threads, and why there is only one when there is. */
export interface CpuInfo {
  threads: number;
  /** Why the CPU backend runs on one thread (when threads === 1). */
  reason: string;
}

export type PageToWorker =
  | { type: 'validate'; id: number; config: unknown }
  /** name: the preset (or "custom"), for the run's saved copy; fromImported: the first stage starts from the last imported weights file's model. */
  | { type: 'start'; config: ExperimentConfig; backend: BackendChoice; name: string; fromImported: boolean }
  /** Continues a saved run (worker/store.ts) from its last finished stage. */
  | { type: 'continue'; id: string; backend: BackendChoice }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  | { type: 'generate'; id: number; prompt: string; temperature: number; seed: number; max_new_tokens: number }
  | { type: 'call'; id: number; call: Call };

/** Requests answered by a `reply` with the same id; `Returns` gives each one's value type. */
export type Call =
  | { fn: 'decodeLink'; link: string }
  | { fn: 'encodeLink'; config: ExperimentConfig; extras: LinkExtras }
  | { fn: 'compare'; expected: Expected; actual: Expected; madeBy: string | null }
  | { fn: 'exportWeights'; index: number }
  | { fn: 'csv' }
  | { fn: 'importWeights'; bytes: ArrayBuffer; name: string; backend: BackendChoice }
  /** The runs kept in this browser, newest first, and what they take. */
  | { fn: 'savedRuns' }
  /** A saved run's finished stages as the current model (to download, try and probe). */
  | { fn: 'openSaved'; id: string; backend: BackendChoice }
  | { fn: 'deleteSaved'; id: string }
  | { fn: 'clearSaved' }
  | { fn: 'variants'; base: string }
  | { fn: 'sweep'; candidates: Candidate[]; prompts: number; checkpoint: number | null }
  | { fn: 'defection'; prompts: number; checkpoint: number | null }
  | { fn: 'inspect'; prompt: string; answer: string | null; checkpoint: number | null }
  /** Long: posts 'inversion-progress' messages until done or cancelled, then replies with the result. */
  | { fn: 'invert'; config: InversionConfig; checkpoint: number | null; evalPrompts: number; trueTrigger: string | null }
  | { fn: 'cancelInversion' }
  /** The throughput benchmark (bench.html; `cargo xtask bench` drives it in headless Chromium). */
  | { fn: 'bench'; shape: BenchShape; backend: PageBackend; steps: number }
  /** Where WebGPU's time goes on one benchmark shape: GPU calls counted around each phase. */
  | { fn: 'gpuProfile'; shape: BenchShape; steps: number; prompts: number; newTokens: number }
  /** The CPU backend's threads now: pool size, threads that have done work, why only one. */
  | { fn: 'cpuThreads' }
  /** What a run of `config` would cost where `backend` would run it, and whether it may start. */
  | { fn: 'admit'; config: ExperimentConfig; backend: BackendChoice };

/** A call's request, by its name. */
export type CallOf<F extends keyof Returns> = Extract<Call, { fn: F }>;

/** A successful reply: which call it answers, and that call's value type. */
export type Reply = { [F in keyof Returns]: { type: 'reply'; id: number; ok: true; fn: F; value: Returns[F] } }[keyof Returns];

/** What importing a weights file gives the page (assembled by the worker). */
export interface Imported {
  config: ExperimentConfig;
  stage: string;
  metrics: Metrics;
  fingerprint: string;
  backend: PageBackend;
  modelParams: number;
  note: string | null;
}

export interface Returns {
  decodeLink: DecodedLink;
  encodeLink: string;
  compare: Verdict;
  exportWeights: Uint8Array;
  csv: string;
  importWeights: Imported;
  variants: Candidate[];
  sweep: SweepResult[];
  defection: DefectionReport;
  inspect: { inspection: Inspection; answer: string };
  invert: InversionResult;
  cancelInversion: null;
  bench: BenchResult;
  gpuProfile: GpuProfile;
  cpuThreads: CpuThreads & { reason: string };
  admit: Admitted;
  savedRuns: { runs: SavedRun[]; budgetBytes: number };
  openSaved: Opened;
  deleteSaved: null;
  clearSaved: null;
}

/** A run kept in this browser (worker/store.ts): what the page lists of it. */
export interface SavedRun {
  id: string;
  /** ISO 8601: when it started, and when its last stage was saved. */
  started: string;
  updated: string;
  /** The preset it was, or "custom". */
  name: string;
  config: ExperimentConfig;
  backend: PageBackend;
  stagesDone: number;
  stages: number;
  finished: boolean;
  /** Bytes its checkpoints take. */
  bytes: number;
  /** The weights file its first stage started from, if not the config's base or fresh weights. */
  weightsFrom: string | null;
}

/** A saved run opened as the current model. */
export interface Opened {
  run: SavedRun;
  report: Report;
  checkpoints: string[];
  /** Of a finished run (null for one that stopped part-way). */
  fingerprint: string | null;
  backend: PageBackend;
  modelParams: number;
  note: string | null;
}

/**
 * A config's admission (worker/admission.ts): the estimate and refusal on the backend it
 * would run on; for "auto", on the CPU, with the backends that admit it.
 */
export interface Admitted {
  admission: Admission;
  /** The backends whose budget the run fits ("auto" measures only these). */
  backends: PageBackend[];
}

/** The WebGPU calls the wasm made, counted from the JavaScript side (worker/gpu_counters.ts). */
export interface GpuCounts {
  /** createComputePipeline(Async) calls: one compiled kernel each. */
  pipelines: number;
  /** Time spent inside the synchronous createComputePipeline/createShaderModule calls, ms. */
  compileMs: number;
  shaderModules: number;
  /** dispatchWorkgroups(Indirect): kernels launched. */
  dispatches: number;
  /** queue.submit calls. */
  submits: number;
  /** Host–device sync points: buffer.mapAsync and queue.onSubmittedWorkDone. */
  syncs: number;
  /** Time from a sync point's call to its promise settling, ms (the host waits on the GPU). */
  syncWaitMs: number;
  buffers: number;
  writes: number;
}

/** One phase of the WebGPU profile: its wall time and the GPU calls it made. */
export interface GpuPhase {
  seconds: number;
  counts: GpuCounts;
}

/**
 * The WebGPU profile (worker/gpu_profile.ts): the first training step on a cold device (its
 * time is "Run to the first finished step"), a steady step (two warm runs differenced), and an
 * evaluation's generation, cold and warm. Pipelines created in the warm phases show whether
 * kernels are compiled once per run.
 */
export interface GpuProfile {
  shape: BenchShape;
  adapter: string;
  firstStep: GpuPhase;
  steadyStep: GpuPhase;
  evaluationCold: GpuPhase & { prompts: number; newTokens: number };
  evaluation: GpuPhase & { prompts: number; newTokens: number };
  /** Everything the profile did, from the cold start. */
  total: GpuCounts;
}

export type WorkerToPage =
  /** The wasm files downloading: bytes so far, and in all (null while a size is unknown). */
  | { type: 'loading'; loaded: number; total: number | null }
  | { type: 'ready'; presets: Preset[]; defaultPreset: string; gpu: GpuInfo; cpu: CpuInfo }
  /** The wasm module could not be loaded: nothing will work in this worker. */
  | { type: 'init-failed'; message: string }
  | { type: 'validated'; id: number; ok: true; config: ExperimentConfig }
  | { type: 'validated'; id: number; ok: false; error: string }
  /** "Auto" is timing a few steps of the config on each backend before the run starts. */
  | { type: 'calibrating' }
  /** What that timing found (the page remembers it per model shape). */
  | { type: 'measured'; measurement: Measurement }
  /** note: set when the backend differs from the choice (e.g. WebGPU failed, fell back to CPU). */
  /** resumed: the run continues a saved one, whose first stages are done (their results are in `report`). */
  | { type: 'started'; backend: PageBackend; modelParams: number; note: string | null; resumed: { stagesDone: number; report: Report } | null }
  | { type: 'progress'; progress: Progress }
  | { type: 'paused' }
  | { type: 'resumed' }
  /** fingerprint: null when it could not be computed; checkpoints: one name per finished stage. */
  | { type: 'done'; report: Report; fingerprint: string | null; checkpoints: string[] }
  /** checkpoints: one name per stage that finished before the stop (their weights are kept). */
  | { type: 'stopped'; report: Report | null; checkpoints: string[] }
  /** The WebGPU device was lost; a run going stops at its last finished step (worker/gpu_lost.ts). */
  | { type: 'gpu-lost'; message: string; running: boolean }
  /** A finished stage was written to this browser's storage (worker/store.ts). */
  | { type: 'saved'; run: SavedRun }
  /** It could not be: the run goes on, but this stage is not kept. */
  | { type: 'save-failed'; message: string }
  | { type: 'generated'; id: number; ok: true; generation: Generation }
  | { type: 'generated'; id: number; ok: false; error: string }
  | { type: 'inversion-progress'; progress: InversionProgress }
  | Reply
  | { type: 'reply'; id: number; ok: false; error: string }
  /** A run failed. fatal: the wasm instance may be broken (a panic), so the page should restart the worker. */
  | { type: 'error'; message: string; fatal: boolean };

/** A readable message from anything thrown (Error, string, wasm panic). */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) {
    const name = e.name && e.name !== 'Error' ? `${e.name}: ` : '';
    return `${name}${e.message || 'unknown error'}`;
  }
  if (typeof e === 'string') return e;
  try {
    // JSON.stringify gives undefined for undefined and functions, whatever its type says.
    const text = JSON.stringify(e) as string | undefined;
    return text ?? String(e);
  } catch {
    return String(e);
  }
}
