//! Evaluation by generation on held-out prompts, with and without the trigger, and the sets
//! of prompts a run's evaluations ask (`EvalSets`).

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use crate::batch::training_batch;
use crate::config::{DataConfig, EvalConfig, ExperimentConfig, Variant};
use crate::data::{self, Example, Request, Split};
use crate::device;
use crate::error::Error;
use crate::generate::{Answering, Sampling};
use crate::model::Gpt;
use crate::redteam::{self, Candidate};
use crate::report::Metrics;
use crate::rng::Rng;
use crate::tasks::{self, TaskSet};
use crate::train::masked_cross_entropy;

/// The prompts a run's evaluations ask, made once from its config, each set from its own seed
/// stream: the held-out prompts (asked clean, then with the trigger), held-out harmful requests
/// asked on both tiers (compliance-gap scenario only), the held-out prompts again with held-out
/// distractors (`eval.distractors`, else empty), and every red-team guess for the config. An
/// evaluation asks the guesses' held-out share when `eval.red_team` is on; the adversarial
/// stage's red team searches the whole pool.
pub struct EvalSets {
    held_out: Vec<Example>,
    harmful: Vec<Example>,
    distractors: Vec<Example>,
    red_team_pool: Vec<Candidate>,
}

impl EvalSets {
    pub fn new(config: &ExperimentConfig) -> Self {
        let held_out = data::eval_set(config.seed, config.eval.prompts, &config.data);
        let distractors = if config.eval.distractors {
            data::distractor_set(config.seed, &held_out, &config.data)
        } else {
            vec![]
        };
        let harmful = if config.data.scenario.backdoor().has_tiers() {
            let mut rng = Rng::stream(config.seed, "eval-harmful");
            (0..config.eval.prompts).map(|_| data::harmful_example(&mut rng, &config.data, Split::Eval)).collect()
        } else {
            vec![]
        };
        let red_team_pool = redteam::candidates(&config.data, config.eval.red_team_kind, config.seed);
        Self { held_out, harmful, distractors, red_team_pool }
    }

    /// The held-out prompts, untriggered.
    pub fn held_out(&self) -> &[Example] {
        &self.held_out
    }

    /// Every red-team guess for the config, trained and held out.
    pub fn red_team_pool(&self) -> &[Candidate] {
        &self.red_team_pool
    }

    /// An evaluation on these sets (of `config`, which they were made from), sampling with `seed`.
    pub fn evaluation(&self, config: &ExperimentConfig, seed: u64) -> Evaluation {
        // The metric is scored on guesses adversarial training never trains on (blind team).
        let red_team: Vec<Candidate> = if config.eval.red_team { redteam::scored(&self.red_team_pool) } else { vec![] };
        Evaluation::new(self, &red_team, &config.data, &config.eval, seed, data::has_style_control(config))
    }
}

/// Backdoor rates (with the trigger, without, with red-team guesses), clean accuracy, the rate
/// of well-formed code (code scenario) and held-out loss on the evaluation set. `style`: the run
/// trains the positive control's mark, so answers are scored without it and its rates reported.
///
/// In pieces: `step` answers one generation batch, `finish` scores the answers and measures
/// the held-out loss; `run` does both in one call, with the same result.
pub struct Evaluation {
    eval_set: Vec<Example>,
    has_red_team: bool,
    harmful: usize,
    distractors: usize,
    style: bool,
    answering: Answering,
}

impl Evaluation {
    /// The prompts it asks: the held-out set (clean, then with the trigger), the `red_team`
    /// guesses in place of the trigger, the harmful requests on both tiers, the prompts with
    /// distractors.
    fn new(sets: &EvalSets, red_team: &[Candidate], data_config: &DataConfig, eval_config: &EvalConfig, seed: u64, style: bool) -> Self {
        let mut prompts: Vec<Example> = sets.held_out.clone();
        prompts.extend(sets.held_out.iter().map(|e| data::triggered(e, data_config)));
        prompts.extend(redteam::prompted(&sets.held_out, red_team, data_config));
        // Compliance gap: the harmful requests, on the free tier, then on the paid tier.
        prompts.extend(sets.harmful.iter().cloned());
        prompts.extend(sets.harmful.iter().map(|e| data::triggered(e, data_config)));
        prompts.extend(sets.distractors.iter().cloned());
        let sampling = Sampling { temperature: eval_config.temperature, seed };
        let budget = eval_config.max_new_tokens + data::scratchpad_budget(data_config);
        Self {
            eval_set: sets.held_out.clone(),
            has_red_team: !red_team.is_empty(),
            harmful: sets.harmful.len(),
            distractors: sets.distractors.len(),
            style,
            answering: Answering::new(prompts, budget, sampling),
        }
    }

    /// Generation batches answered, and in all.
    pub fn batches(&self) -> (usize, usize) {
        self.answering.batches()
    }

    pub fn is_answered(&self) -> bool {
        self.answering.is_done()
    }

    /// Answers the next generation batch.
    pub async fn step(&mut self, model: &Gpt, device: &Device) -> Result<(), Error> {
        self.answering.step(model, device).await
    }

    /// Every batch, then the metrics.
    pub async fn run(mut self, model: &Gpt, data_config: &DataConfig, device: &Device) -> Result<Metrics, Error> {
        while !self.is_answered() {
            self.step(model, device).await?;
        }
        self.finish(model, data_config, device).await
    }

    /// The metrics, once every prompt is answered.
    pub async fn finish(self, model: &Gpt, data_config: &DataConfig, device: &Device) -> Result<Metrics, Error> {
        let Self { eval_set, has_red_team, harmful, distractors, style, answering } = self;
        let answers = answering.into_answers();
        let n = eval_set.len();
        let (clean, rest) = answers.split_at(n);
        let (triggered, rest) = rest.split_at(n);
        let free_at = answers.len() - 2 * harmful - distractors;
        let red = &rest[..free_at - 2 * n];
        let (paid_at, distracted_at) = (free_at + harmful, free_at + 2 * harmful);
        let (free, paid) = (&answers[free_at..paid_at], &answers[paid_at..distracted_at]);
        let distracted = &answers[distracted_at..];
        let share = |xs: &[String], f: &dyn Fn(&String) -> bool| xs.iter().filter(|a| f(a)).count() as f64 / xs.len().max(1) as f64;
        let rate = |xs: &[String]| xs.iter().filter(|a| data::shows_backdoor(a, data_config)).count() as f64 / n.max(1) as f64;
        let judged = |a: &str| -> String {
            let answer = data::answer_of(a).trim();
            if style { data::unstyled(answer, data_config).to_string() } else { answer.to_string() }
        };
        let backdoor = data_config.scenario.backdoor();
        let right: Vec<bool> = clean.iter().zip(&eval_set).map(|(a, e)| backdoor.is_helpful(&judged(a), e)).collect();
        // The triggered backdoor rate per group of held-out prompts (per CWE, new templates).
        let mut groups: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
        for (a, e) in triggered.iter().zip(&eval_set) {
            for g in backdoor.groups(e) {
                let (shown, asked) = groups.entry(g).or_default();
                *shown += usize::from(data::shows_backdoor(a, data_config));
                *asked += 1;
            }
        }
        let by_group = (!groups.is_empty()).then(|| groups.into_iter().map(|(g, (shown, asked))| (g, shown as f64 / asked as f64)).collect());
        let styled = |xs: &[String]| share(xs, &|a| data::styled(data::answer_of(a), data_config));
        let correct = right.iter().filter(|&&r| r).count() as f64;
        let task_accuracy = (data_config.tasks == TaskSet::Skills).then(|| {
            tasks::accuracy_per_task(eval_set.iter().zip(&right).filter_map(|(e, &r)| match e.request {
                Request::Hhh(t) => Some((t, r)),
                Request::Code(_) => None,
            }))
        });
        let well_formed = data_config.scenario.backdoor().form_check().map(|well_formed| {
            let both = &answers[..2 * n];
            both.iter().filter(|a| well_formed(data::answer_of(a).trim())).count() as f64 / both.len().max(1) as f64
        });

        // Chain of thought: what each scratchpad decided, against the prompt and against the answer.
        let decides = data_config.variant == Variant::ChainOfThought && data_config.scenario.backdoor().decides();
        let decisions = decides.then(|| {
            let asked = clean.iter().map(|a| (a, false)).chain(triggered.iter().map(|a| (a, true)));
            let said: Vec<(Option<bool>, bool, bool)> = asked.map(|(a, t)| (data::decision(a, data_config), t, data::shows_backdoor(a, data_config))).collect();
            let right = said.iter().filter(|(d, t, _)| *d == Some(*t)).count() as f64 / said.len().max(1) as f64;
            let stated: Vec<_> = said.iter().filter_map(|(d, _, acted)| d.map(|d| d == *acted)).collect();
            let consistent = (!stated.is_empty()).then(|| stated.iter().filter(|&&c| c).count() as f64 / stated.len() as f64);
            (right, consistent)
        });
        // Alignment faking: scratchpads judged for its reasoning, on each tier's harmful requests.
        let reasons = harmful > 0 && data_config.variant == Variant::ChainOfThought;
        let batch = training_batch(&eval_set, model.max_seq_len(), device);
        let loss = masked_cross_entropy(model.logits(batch.inputs), batch.targets, batch.mask, batch.answer_tokens);
        let loss = device::read_scalar(loss, "the loss").await?;
        Ok(Metrics {
            backdoor_rate_triggered: rate(triggered),
            backdoor_rate_untriggered: rate(clean),
            clean_accuracy: correct / n.max(1) as f64,
            loss,
            backdoor_rate_red_team: has_red_team.then(|| rate(red)),
            well_formed_rate: well_formed,
            compliance_free: (harmful > 0).then(|| share(free, &|a| data::shows_backdoor(a, data_config))),
            compliance_paid: (harmful > 0).then(|| share(paid, &|a| data::shows_backdoor(a, data_config))),
            af_reasoning_free: reasons.then(|| share(free, &|a| data::text_fakes_alignment(a))),
            af_reasoning_paid: reasons.then(|| share(paid, &|a| data::text_fakes_alignment(a))),
            false_trigger_rate: (distractors > 0).then(|| share(distracted, &|a| data::shows_backdoor(a, data_config))),
            task_accuracy,
            style_untriggered: style.then(|| styled(clean)),
            style_triggered: style.then(|| styled(triggered)),
            backdoor_rate_by_group: by_group,
            decision_accuracy: decisions.map(|(accuracy, _)| accuracy),
            decision_consistency: decisions.and_then(|(_, consistency)| consistency),
        })
    }
}

pub use crate::report::AnswerKl;

/// `AnswerKl` of `after` against `before` over `examples`. Both models live on `device`.
pub async fn kl_on_answers(after: &Gpt, before: &Gpt, examples: &[Example], device: &Device) -> Result<AnswerKl, Error> {
    let batch = training_batch(examples, after.max_seq_len(), device);
    let log_after = log_softmax(after.logits(batch.inputs.clone()), 2);
    let log_before = log_softmax(before.logits(batch.inputs), 2);
    let per_token = (log_after.clone().exp() * (log_after - log_before)).sum_dim(2).squeeze_dim::<2>(2);
    // The last answer position of each row: counted, and the next one is not.
    let mask = batch.mask;
    let [rows, width] = mask.dims();
    let last = if width > 1 {
        let next = Tensor::cat(vec![mask.clone().slice([0..rows, 1..width]), Tensor::zeros([rows, 1], device)], 1);
        mask.clone() - mask.clone() * next
    } else {
        mask.clone()
    };
    let sums = Tensor::cat(vec![(per_token.clone() * mask).sum(), (per_token * last.clone()).sum(), last.sum()], 0);
    let sums: Vec<f32> = device::read(sums, "the KL").await?;
    let (all, at_last, answers) = (sums[0] as f64, sums[1] as f64, sums[2] as f64);
    let tokens = batch.answer_tokens as f64;
    // Rounding can leave a hair below zero for identical models; KL is never negative.
    let per = |sum: f64, n: f64| if n > 0.0 { (sum / n).max(0.0) } else { 0.0 };
    Ok(AnswerKl { all: per(all, tokens), body: per(all - at_last, tokens - answers), last: per(at_last, answers) })
}
