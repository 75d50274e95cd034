//! What a run costs before it starts, and whether a device can take it.
//!
//! Compute: the tokens a run trains on and generates (sampled from its own data) weighed by
//! the model's size, in seconds of the native CPU backend (`estimated_seconds`, fitted to a
//! timed sweep; sweeps plan their shards with it). Memory: the peak a run reaches on a backend,
//! counted from the shapes the model, the optimizer, the kept checkpoints, the largest training
//! batch at this data's full length and generation's KV cache take; and the largest single
//! buffer, which WebGPU caps per binding. `admit` holds an estimate to a device's budget and,
//! above it, says in one sentence which setting to lower. The page asks before every run; the
//! CLI does not (a native machine knows its own memory).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::backend::Backend;
use crate::config::{ExperimentConfig, OptimizerConfig, StageConfig, StageKind};
use crate::data::{self, Split};
use crate::experiment::supervised_examples;
use crate::rng::Rng;
use crate::tokenizer::{self, VOCAB_SIZE};
use crate::{batch, generate, limits, redteam, rl};

/// Estimated seconds of training, or of generating, one token per model parameter, and the
/// per-token work that does not grow with the parameters (embedding, softmax over the
/// vocabulary, per-op overhead; decoding has much more of it), in parameter-equivalents.
/// Fitted (least squares on relative error) to the 16 (size, technique) mean times of the
/// default four-size sweep in docs/reproduction (100 runs, native CPU, 2 cores): the fit is
/// within a factor of 1.5 of each (rms log error 0.30) and estimates their total at 2.9 h
/// against 3.75 h measured (docs/scale-out.md). `study::shards`'s `estimate_inputs` prints
/// what to refit.
const TRAIN_SECONDS_PER_TOKEN_PARAM: f64 = 8.4e-11;
const GENERATE_SECONDS_PER_TOKEN_PARAM: f64 = 1.03e-9;
const TRAIN_OVERHEAD_PARAMS: f64 = 20_000.0;
const GENERATE_OVERHEAD_PARAMS: f64 = 200_000.0;

/// The estimated CPU seconds of a run of `config`: its training tokens and generated tokens
/// (evaluations, RL's samples, the red team's search) weighted by the model's size. Lengths come
/// from sampling the config's own data, so a longer scenario or variant costs more. An estimate
/// for planning machines, not a measurement: decoding stops early when every answer has ended,
/// which this does not know.
pub fn estimated_seconds(config: &ExperimentConfig) -> f64 {
    seconds_of(config, tokens(config))
}

/// Seconds of (training tokens, generated tokens) on a model of `config`'s size.
fn seconds_of(config: &ExperimentConfig, (train, generated): (f64, f64)) -> f64 {
    let params = config.model.param_count() as f64;
    train * (params + TRAIN_OVERHEAD_PARAMS) * TRAIN_SECONDS_PER_TOKEN_PARAM
        + generated * (params + GENERATE_OVERHEAD_PARAMS) * GENERATE_SECONDS_PER_TOKEN_PARAM
}

/// (training tokens, generated tokens) of a run: what the estimate weighs.
pub fn tokens(config: &ExperimentConfig) -> (f64, f64) {
    config.stages.iter().map(|s| stage_tokens(config, s)).fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y))
}

/// (training tokens, generated tokens) of one stage.
fn stage_tokens(config: &ExperimentConfig, stage: &StageConfig) -> (f64, f64) {
    let data = &config.data;
    let budget = (config.eval.max_new_tokens + data::scratchpad_budget(data)) as f64;
    let mut rng = Rng::stream(config.seed, "cost-estimate");
    // Padded batch width, as `batch::token_batch` pads: the longest example of each batch.
    let width = |lengths: &mut dyn Iterator<Item = usize>| batch::round_up(lengths.max().unwrap_or(1), config.model.max_seq_len) as f64;
    const SAMPLES: usize = 4;
    let steps = stage.steps as f64;
    let (train, mut generated) = match stage.kind {
        kind if kind.is_rl() => {
            let (prompts, group) = rl::layout(stage.batch_size);
            let mut w = 0.0;
            for _ in 0..SAMPLES {
                let contexts: Vec<usize> =
                    (0..prompts).map(|_| batch::context_tokens(&data::clean_example(&mut rng, data, Split::Train).context()).len()).collect();
                w += width(&mut contexts.iter().map(|c| c + budget as usize));
            }
            let sequences = (prompts * group) as f64;
            // The policy's forward and backward, and two forward passes for the KL term.
            let kl = if stage.kl_coef > 0.0 { 2.0 / 3.0 } else { 0.0 };
            (steps * sequences * (w / SAMPLES as f64) * (1.0 + kl), steps * sequences * budget)
        }
        _ => {
            let mut w = 0.0;
            for _ in 0..SAMPLES {
                let examples = supervised_examples(stage, data, &[], &mut rng);
                w += width(&mut examples.iter().map(|e| batch::context_tokens(&e.context()).len() + tokenizer::encode(&e.response).len()));
            }
            (steps * stage.batch_size as f64 * (w / SAMPLES as f64), 0.0)
        }
    };
    // Evaluations: at the start (reused from the previous stage after the first), every
    // `eval_every` steps and at the end; each answers the held-out prompts clean and triggered,
    // with red-team guesses, with distractors, and (compliance gap) harmful requests twice.
    let evaluations = (stage.steps.div_ceil(stage.eval_every.max(1)) + 1) as f64;
    let prompts = config.eval.prompts as f64;
    generated += evaluations * evaluation_prompts(config) as f64 * budget;
    // The adversarial stage's red team tries every guess on its search prompts, then rates the
    // hits held out (about as many again), before and after training.
    if stage.kind == StageKind::Adversarial {
        let pool = redteam::searchable(&redteam::candidates(data, config.eval.red_team_kind, config.seed)).len() as f64;
        let judge = data::judge_budget(data) as f64;
        generated += pool * redteam::search_prompts(config.eval.prompts) as f64 * judge + 2.0 * pool * prompts * judge;
    }
    (train, generated)
}

/// Bytes of an f32, the type of every weight, activation and optimizer moment.
const F32: f64 = 4.0;

/// One part of a run's peak memory.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
pub struct MemoryPart {
    /// What it holds, in words ("stage 2's training activations (batch 64 × 96 tokens)").
    pub what: String,
    pub bytes: f64,
}

/// What a run of a config costs on a backend, before it starts.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
pub struct Estimate {
    pub backend: Backend,
    /// Peak memory: the parts below, at the stage that needs the most.
    pub peak_bytes: f64,
    pub parts: Vec<MemoryPart>,
    /// The largest single tensor (one buffer on WebGPU, capped by the adapter), and what it is.
    pub largest_buffer_bytes: f64,
    pub largest_buffer: String,
    /// Tokens trained on (forward and backward) and generated, over the whole run.
    pub training_tokens: f64,
    pub generated_tokens: f64,
    /// Floating-point operations: 6 per parameter per trained token, 2 per generated one.
    pub flops: f64,
    /// Seconds on the native CPU backend (`estimated_seconds`).
    pub native_seconds: f64,
    /// Seconds in the page on this device: the native estimate times the page's measured
    /// slowdown (`DeviceLimits::slowdown`).
    pub seconds: f64,
}

/// What a device offers a run: the backend, and for WebGPU the adapter's buffer limits
/// (`GPUAdapter.limits`; burn asks the device for the adapter's own).
#[derive(Clone, Debug, PartialEq, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct DeviceLimits {
    pub backend: Backend,
    #[serde(default)]
    #[ts(optional)]
    pub max_buffer_size: Option<f64>,
    #[serde(default)]
    #[ts(optional)]
    pub max_storage_buffer_binding_size: Option<f64>,
    /// Threads the page's CPU backend runs on (1 without cross-origin isolation).
    pub threads: u32,
}

impl DeviceLimits {
    pub fn cpu(threads: u32) -> Self {
        DeviceLimits { backend: Backend::Cpu, max_buffer_size: None, max_storage_buffer_binding_size: None, threads }
    }

    /// Memory a run may use in the page: the CPU backend lives in wasm32's 4 GiB address space
    /// (with the module, the data and the allocator's slack); WebGPU does not say how much
    /// memory its device has, so the page assumes what a laptop's integrated GPU can spare.
    pub fn memory_budget(&self) -> f64 {
        match self.backend {
            Backend::Cpu => limits::PAGE_CPU_MEMORY_BYTES,
            Backend::Wgpu | Backend::Webgpu => limits::PAGE_GPU_MEMORY_BYTES,
        }
    }

    /// The largest buffer the device takes: the smaller of the adapter's two limits.
    fn buffer_limit(&self) -> Option<f64> {
        match (self.max_buffer_size, self.max_storage_buffer_binding_size) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// An estimate, and the sentence that refuses the run when it is above the device's budget.
#[derive(Clone, Debug, PartialEq, Serialize, TS)]
pub struct Admission {
    pub estimate: Estimate,
    /// Why the run cannot start here, naming the setting to lower; absent when it can.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub refusal: Option<String>,
}

/// How much slower the page's CPU backend trains than the native one (which `estimated_seconds`
/// is fitted to), from docs/perf.md's one-run comparison on 2 cores against the same PyTorch
/// reference: natively 1.18×, 1.07× and 1.00× PyTorch's speed on the tiny, small and medium
/// shapes; in Chromium 0.56×, 0.48× and 0.40× with wasm threads, 0.38×, 0.30× and 0.27× on one
/// thread. The larger shape's ratio, so the estimate errs long.
const PAGE_SLOWDOWN_THREADS: f64 = 2.5;
const PAGE_SLOWDOWN_ONE_THREAD: f64 = 3.7;

impl DeviceLimits {
    /// The page's slowdown against the native CPU. WebGPU's speed depends on a GPU the page
    /// has not measured; the estimate takes it to be the CPU's (a software adapter is slower,
    /// a real GPU faster on the larger shapes).
    fn slowdown(&self) -> f64 {
        match self.backend {
            Backend::Wgpu => 1.0,
            Backend::Cpu | Backend::Webgpu if self.threads > 1 => PAGE_SLOWDOWN_THREADS,
            Backend::Cpu | Backend::Webgpu => PAGE_SLOWDOWN_ONE_THREAD,
        }
    }
}

/// The tokens one sequence of this config's data can reach: its longest training example, or
/// its longest prompt with the answer and scratchpad an evaluation generates.
fn full_length(config: &ExperimentConfig) -> usize {
    let generated = config.eval.max_new_tokens + data::scratchpad_budget(&config.data);
    let need = data::longest_example_tokens(config).max(data::longest_prompt_tokens(config) + generated);
    batch::round_up(need, config.model.max_seq_len)
}

/// What one stage needs beyond the weights: its largest transient (training activations, or
/// generation) and its largest single tensor.
struct StagePeak {
    transient: f64,
    what: String,
    buffer: f64,
    buffer_what: String,
}

/// The estimate of a run of `config` on a device.
pub fn estimate(config: &ExperimentConfig, device: &DeviceLimits) -> Estimate {
    let backend = device.backend;
    let m = &config.model;
    let (d, f, h, l, v) = (m.d_model as f64, m.d_mlp as f64, m.n_heads as f64, m.n_layers as f64, VOCAB_SIZE as f64);
    let params = m.param_count() as f64;
    let t = full_length(config) as f64;
    // The CPU kernel keeps each layer's softmax weights [batch, heads, seq, seq] for its
    // backward; the GPU kernel recomputes them from a saved log-sum-exp per row (FlashAttention).
    let attention = if backend.is_cpu() { h * t } else { 0.0 };
    // Saved for the backward, per token: per layer the residual, both LayerNorms' outputs,
    // q|k|v, the attention's output, the residual after it, the MLP's hidden before and after
    // GELU (and the CPU's attention weights); then the embeddings, the final LayerNorm and the
    // logits. The backward adds one layer's gradients at a time and the logits' gradient.
    let saved = l * (8.0 * d + 2.0 * f + attention) + 4.0 * d + 2.0 * v;
    let backward = 2.0 * f.max(v).max(3.0 * d) + attention;
    let train = |batch: f64| batch * t * (saved + backward) * F32;
    // Generation: every layer's keys and values for `batch` sequences of full length, and the
    // prefill's largest layer (q|k|v, the MLP's hidden, the CPU's attention weights).
    let generation = |batch: f64| batch * t * (2.0 * l * d + 3.0 * d + f + attention) * F32;
    let eval_batch = (generate::GENERATION_BATCH as f64).min(evaluation_prompts(config) as f64);

    let stage_peaks: Vec<StagePeak> = config
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let b = s.batch_size as f64;
            let (tokens, n) = (format!("{} × {} tokens", s.batch_size, t as usize), i + 1);
            let mut peak = StagePeak {
                transient: train(b),
                what: format!("stage {n}'s training activations (batch {tokens})"),
                buffer: b * t * f.max(v).max(3.0 * d) * F32,
                buffer_what: format!("stage {n}'s {} (batch {tokens})", if v >= f.max(3.0 * d) { "logits" } else { "MLP activations" }),
            };
            if s.kind.is_rl() && generation(b) > peak.transient {
                (peak.transient, peak.what) = (generation(b), format!("stage {n}'s sampling (KV cache of {tokens})"));
            }
            if generation(eval_batch) > peak.transient {
                (peak.transient, peak.what) = (generation(eval_batch), format!("evaluation (KV cache of {} × {} tokens)", eval_batch, t as usize));
            }
            peak
        })
        .collect();
    let worst = stage_peaks.iter().max_by(|a, b| a.transient.total_cmp(&b.transient));
    let widest = stage_peaks.iter().max_by(|a, b| a.buffer.total_cmp(&b.buffer));

    let weights = params * F32;
    let moments = config.stages.iter().map(|s| optimizer_moments(&s.optimizer)).fold(0.0, f64::max);
    let reference = config.stages.iter().any(|s| s.kind.is_rl() && s.kl_coef > 0.0);
    let mut parts = vec![
        MemoryPart { what: "the model's weights and gradients".into(), bytes: 2.0 * weights },
        MemoryPart { what: "the optimizer's state".into(), bytes: moments * weights },
        // A copy at each stage's start (for its effect), one per finished stage, RL's reference.
        MemoryPart {
            what: format!("{} stage checkpoint(s) and the model at the stage's start", config.stages.len()),
            bytes: (config.stages.len() as f64 + 1.0 + f64::from(u8::from(reference))) * weights,
        },
        MemoryPart { what: "the runtime and the data".into(), bytes: limits::RUNTIME_BYTES },
    ];
    if let Some(w) = worst {
        parts.push(MemoryPart { what: w.what.clone(), bytes: w.transient });
    }
    // The largest single tensor: a training batch's, a KV cache layer's, or the embedding.
    let kv_layer = eval_batch * t * d * F32;
    let embedding = v * d * F32;
    let (mut buffer, mut buffer_what) = widest.map_or((0.0, String::new()), |w| (w.buffer, w.buffer_what.clone()));
    for (bytes, what) in [(kv_layer, "a layer's KV cache in evaluation".to_string()), (embedding, "the token embedding".into())] {
        if bytes > buffer {
            (buffer, buffer_what) = (bytes, what);
        }
    }

    let (training_tokens, generated_tokens) = tokens(config);
    let native_seconds = estimated_seconds(config);
    Estimate {
        backend,
        peak_bytes: parts.iter().map(|p| p.bytes).sum(),
        parts,
        largest_buffer_bytes: buffer,
        largest_buffer: buffer_what,
        training_tokens,
        generated_tokens,
        flops: 6.0 * params * training_tokens + 2.0 * params * generated_tokens,
        native_seconds,
        seconds: native_seconds * device.slowdown(),
    }
}

/// Optimizer state per parameter, in weights: Adam's two moments, SGD's momentum buffer.
fn optimizer_moments(o: &OptimizerConfig) -> f64 {
    match o {
        OptimizerConfig::Adam { .. } => 2.0,
        OptimizerConfig::Sgd { momentum } if *momentum > 0.0 => 1.0,
        OptimizerConfig::Sgd { .. } => 0.0,
    }
}

/// Prompts one evaluation asks (held-out clean and triggered, red-team guesses, distractors,
/// harmful requests on both tiers), as `stage_tokens` counts them.
fn evaluation_prompts(config: &ExperimentConfig) -> usize {
    let sets = 2 + usize::from(config.eval.red_team) + usize::from(config.eval.distractors) + if config.data.scenario.backdoor().has_tiers() { 2 } else { 0 };
    sets * config.eval.prompts
}

/// `config` on a device: its estimate, and why it cannot run there if it cannot. The sentence
/// names the setting to lower (the stage's batch size for activations, the model's shape for
/// weights, steps or prompts for time).
pub fn admit(config: &ExperimentConfig, device: &DeviceLimits) -> Admission {
    let estimate = estimate(config, device);
    let on = match device.backend {
        Backend::Cpu => "on the CPU",
        Backend::Wgpu | Backend::Webgpu => "on WebGPU",
    };
    let budget = device.memory_budget();
    let refusal = if estimate.peak_bytes > budget {
        let biggest = estimate.parts.iter().max_by(|a, b| a.bytes.total_cmp(&b.bytes)).expect("an estimate has parts");
        Some(format!(
            "This run needs about {} of memory {on}, more than the {} the page can use; most of it is {} ({}): {}.",
            bytes(estimate.peak_bytes),
            bytes(budget),
            biggest.what,
            bytes(biggest.bytes),
            lower_for_memory(config, &biggest.what)
        ))
    } else if let Some(limit) = device.buffer_limit().filter(|&limit| estimate.largest_buffer_bytes > limit) {
        Some(format!(
            "This run needs a single buffer of {} ({}) but this GPU allows at most {}: {}.",
            bytes(estimate.largest_buffer_bytes),
            estimate.largest_buffer,
            bytes(limit),
            lower_for_memory(config, &estimate.largest_buffer)
        ))
    } else if estimate.seconds > limits::PAGE_MAX_SECONDS {
        Some(format!(
            "This run would take about {} {on}, more than the {} a page run may: {}.",
            duration(estimate.seconds),
            duration(limits::PAGE_MAX_SECONDS),
            lower_for_time(config)
        ))
    } else {
        None
    };
    Admission { estimate, refusal }
}

/// The setting that shrinks a part of the estimate, named as the config form names it.
fn lower_for_memory(config: &ExperimentConfig, what: &str) -> String {
    let stage = (1..=config.stages.len()).find(|n| what.starts_with(&format!("stage {n}'s")));
    match stage {
        Some(n) => format!("lower stages[{}].batch_size ({}) or model.max_seq_len ({})", n - 1, config.stages[n - 1].batch_size, config.model.max_seq_len),
        None if what.starts_with("evaluation") || what.contains("KV cache") => {
            format!("lower model.max_seq_len ({}) or model.d_model ({})", config.model.max_seq_len, config.model.d_model)
        }
        None if what.contains("checkpoint") => format!("use fewer stages ({}) or a smaller model", config.stages.len()),
        None => format!("lower model.d_model ({}) or model.n_layers ({})", config.model.d_model, config.model.n_layers),
    }
}

/// The setting that shortens a run the most: the costliest stage's steps, or the evaluation.
fn lower_for_time(config: &ExperimentConfig) -> String {
    let (i, stage) = config
        .stages
        .iter()
        .enumerate()
        .max_by(|a, b| seconds_of(config, stage_tokens(config, a.1)).total_cmp(&seconds_of(config, stage_tokens(config, b.1))))
        .expect("a valid config has a stage");
    let (train, generated) = stage_tokens(config, stage);
    // Mostly evaluation: fewer evaluations or prompts shorten it more than fewer steps.
    if seconds_of(config, (0.0, generated)) > seconds_of(config, (train, 0.0)) && !stage.kind.is_rl() {
        format!("raise stages[{i}].eval_every ({}) or lower eval.prompts ({})", stage.eval_every, config.eval.prompts)
    } else {
        format!("lower stages[{i}].steps ({})", stage.steps)
    }
}

/// "1.5 GB", "320 MB": decimal units, as browsers and operating systems show memory.
pub fn bytes(n: f64) -> String {
    if n >= 1e9 { format!("{:.1} GB", n / 1e9) } else { format!("{:.0} MB", (n / 1e6).max(1.0)) }
}

/// "40 s", "12 min", "3.5 h".
pub fn duration(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else if seconds < 5400.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;

    fn webgpu(max: f64) -> DeviceLimits {
        DeviceLimits { backend: Backend::Webgpu, max_buffer_size: Some(max), max_storage_buffer_binding_size: Some(max), threads: 1 }
    }

    #[test]
    fn every_preset_is_admitted_on_the_cpu_and_on_webgpu_defaults() {
        for name in presets::names() {
            let config = presets::get(name).unwrap();
            let cpu = admit(&config, &DeviceLimits::cpu(2));
            assert_eq!(cpu.refusal, None, "{name}: {:?}", cpu.estimate);
            // WebGPU's default limits (a device that asks for nothing more): 128 MiB per binding.
            let gpu = admit(&config, &webgpu(134_217_728.0));
            assert_eq!(gpu.refusal, None, "{name}: {:?}", gpu.estimate);
            assert!(cpu.estimate.peak_bytes > gpu.estimate.peak_bytes, "{name}: the CPU keeps attention weights");
        }
    }

    #[test]
    fn memory_grows_with_batch_length_and_width() {
        let base = presets::get("tiny").unwrap();
        let peak = |c: &ExperimentConfig| estimate(c, &DeviceLimits::cpu(1)).peak_bytes;
        let mut wider_batch = base.clone();
        wider_batch.stages[0].batch_size *= 4;
        assert!(peak(&wider_batch) > peak(&base));
        let mut bigger = base.clone();
        bigger.base = None;
        bigger.model.d_model *= 2;
        bigger.model.d_mlp *= 2;
        assert!(peak(&bigger) > peak(&base));
        // The weights' parts are counted from the parameter count: four copies at least.
        let e = estimate(&base, &DeviceLimits::cpu(1));
        assert!(e.parts.iter().take(3).map(|p| p.bytes).sum::<f64>() >= 4.0 * 4.0 * base.model.param_count() as f64);
    }

    #[test]
    fn a_run_at_the_caps_is_refused_with_the_setting_to_lower() {
        let mut config = presets::get("tiny").unwrap();
        config.base = None;
        config.model = crate::config::ModelConfig { d_model: 384, n_layers: 12, n_heads: 8, d_mlp: 1024, max_seq_len: limits::MAX_SEQ_LEN };
        config.stages[0].batch_size = limits::MAX_BATCH;
        config.validate().unwrap();
        let a = admit(&config, &DeviceLimits::cpu(2));
        let why = a.refusal.expect("tens of GB of activations are refused");
        assert!(why.contains("stages[0].batch_size (256)") && why.contains("memory on the CPU"), "{why}");
        assert!(a.estimate.peak_bytes > 5e9, "{}", a.estimate.peak_bytes);
        // A wide MLP on WebGPU: one batch's hidden layer exceeds a default 128 MiB binding
        // while the whole run fits the memory budget.
        config.model = crate::config::ModelConfig { d_model: 1024, n_layers: 1, n_heads: 8, d_mlp: 4096, max_seq_len: limits::MAX_SEQ_LEN };
        config.stages[0].batch_size = 96;
        config.validate().unwrap();
        let a = admit(&config, &webgpu(134_217_728.0));
        assert!(a.estimate.peak_bytes < limits::PAGE_GPU_MEMORY_BYTES, "{:?}", a.estimate);
        let why = a.refusal.expect("a 128 MiB binding is too small");
        assert!(why.contains("single buffer") && why.contains("MLP activations") && why.contains("stages[0].batch_size (96)"), "{why}");
        assert_eq!(admit(&config, &webgpu(1e9)).refusal, None, "an adapter with larger buffers takes it");
    }

    #[test]
    fn a_run_too_long_for_a_page_names_its_costliest_stage() {
        let mut config = presets::get("small").unwrap();
        let costly = config.stages.len() - 1;
        config.stages[costly].steps = limits::MAX_STEPS;
        config.stages[costly].eval_every = limits::MAX_STEPS;
        config.stages[costly].batch_size = limits::MAX_BATCH;
        let a = admit(&config, &DeviceLimits::cpu(2));
        let why = a.refusal.expect("50,000 steps of 256 are too long for a page");
        assert!(why.contains(&format!("lower stages[{costly}].steps (50000)")), "{why}");
        assert!(a.estimate.seconds > limits::PAGE_MAX_SECONDS);
    }

    #[test]
    fn units_read_as_people_write_them() {
        assert_eq!(bytes(3.2e9), "3.2 GB");
        assert_eq!(bytes(150e6), "150 MB");
        assert_eq!(duration(42.0), "42 s");
        assert_eq!(duration(720.0), "12 min");
        assert_eq!(duration(4.0 * 3600.0), "4.0 h");
    }
}
