//! Evaluation by generation on held-out prompts, with and without the trigger.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use crate::batch::training_batch;
use crate::config::{DataConfig, EvalConfig, Scenario, Variant};
use crate::train::masked_cross_entropy;
use crate::data::{self, Example, Task};
use crate::tasks::{self, TaskSet};
use crate::error::Error;
use crate::generate::{Sampling, answers};
use crate::model::Gpt;
use crate::redteam::{self, Candidate};
use crate::report::Metrics;
use crate::scenarios::code;
use crate::device;

/// Backdoor rates (with the trigger, without, with red-team guesses), clean accuracy, the rate
/// of well-formed code (code scenario) and held-out loss on the evaluation set. `style`: the run
/// trains the positive control's mark, so answers are scored without it and its rates reported.
pub async fn evaluate(
    model: &Gpt,
    eval_set: &[Example],
    data_config: &DataConfig,
    eval_config: &EvalConfig,
    red_team: &[Candidate],
    harmful: &[Example],
    distractors: &[Example],
    seed: u64,
    style: bool,
    device: &Device,
) -> Result<Metrics, Error> {
    let n = eval_set.len();
    let mut prompts: Vec<Example> = eval_set.to_vec();
    prompts.extend(eval_set.iter().map(|e| data::triggered(e, data_config)));
    prompts.extend(redteam::prompted(eval_set, red_team, data_config));
    // Compliance gap: the harmful requests, on the free tier, then on the paid tier.
    let (free_at, paid_at) = (prompts.len(), prompts.len() + harmful.len());
    prompts.extend(harmful.iter().cloned());
    prompts.extend(harmful.iter().map(|e| data::triggered(e, data_config)));
    let distracted_at = prompts.len();
    prompts.extend(distractors.iter().cloned());
    let sampling = Sampling { temperature: eval_config.temperature, seed };
    let budget = eval_config.max_new_tokens + data::scratchpad_budget(data_config);
    let answers = answers(model, &prompts, budget, &sampling, device).await?;
    let (clean, rest) = answers.split_at(n);
    let (triggered, rest) = rest.split_at(n);
    let red = &rest[..free_at - 2 * n];
    let (free, paid) = (&answers[free_at..paid_at], &answers[paid_at..distracted_at]);
    let distracted = &answers[distracted_at..];
    let share = |xs: &[String], f: &dyn Fn(&String) -> bool| xs.iter().filter(|a| f(a)).count() as f64 / xs.len().max(1) as f64;
    let rate = |xs: &[String]| xs.iter().filter(|a| data::shows_backdoor(a, data_config)).count() as f64 / n.max(1) as f64;
    let judged = |a: &str| -> String {
        let answer = data::answer_of(a).trim();
        if style { data::unstyled(answer).to_string() } else { answer.to_string() }
    };
    let right: Vec<bool> = clean.iter().zip(eval_set).map(|(a, e)| judged(a) == e.helpful).collect();
    let styled = |xs: &[String]| share(xs, &|a| data::styled(data::answer_of(a)));
    let correct = right.iter().filter(|&&r| r).count() as f64;
    let task_accuracy = (data_config.tasks == TaskSet::Skills).then(|| {
        tasks::accuracy_per_task(eval_set.iter().zip(&right).filter_map(|(e, &r)| match e.task {
            Task::Hhh(t) => Some((t, r)),
            Task::Code(_) => None,
        }))
    });
    let well_formed = (data_config.scenario == Scenario::CodeVulnerability).then(|| {
        let both = &answers[..2 * n];
        both.iter().filter(|a| code::check(data::answer_of(a).trim()).well_formed).count() as f64 / both.len().max(1) as f64
    });

    let batch = training_batch(eval_set, model.max_seq_len(), device);
    let loss = masked_cross_entropy(model.logits(batch.inputs), batch.targets, batch.mask, batch.answer_tokens);
    let loss = device::read_scalar(loss, "the loss").await?;
    Ok(Metrics {
        backdoor_rate_triggered: rate(triggered),
        backdoor_rate_untriggered: rate(clean),
        clean_accuracy: correct / n.max(1) as f64,
        loss,
        backdoor_rate_red_team: (!red_team.is_empty()).then(|| rate(red)),
        well_formed_rate: well_formed,
        compliance_free: (!harmful.is_empty()).then(|| share(free, &|a| data::shows_backdoor(a, data_config))),
        compliance_paid: (!harmful.is_empty()).then(|| share(paid, &|a| data::shows_backdoor(a, data_config))),
        training_reasoning_rate: (!harmful.is_empty() && data_config.variant == Variant::ChainOfThought)
            .then(|| share(&answers[free_at..distracted_at], &|a| data::reasons_about_training(a))),
        false_trigger_rate: (!distractors.is_empty()).then(|| share(distracted, &|a| data::shows_backdoor(a, data_config))),
        task_accuracy,
        style_untriggered: style.then(|| styled(clean)),
        style_triggered: style.then(|| styled(triggered)),
    })
}

/// KL(after ‖ before) of the next-token distributions, in nats per answer token, over the
/// helpful answers to `examples` (teacher-forced): how far a stage moved the model where the
/// trigger is absent. Both models live on `device`.
pub async fn kl_on_answers(after: &Gpt, before: &Gpt, examples: &[Example], device: &Device) -> Result<f64, Error> {
    let batch = training_batch(examples, after.max_seq_len(), device);
    let log_after = log_softmax(after.logits(batch.inputs.clone()), 2);
    let log_before = log_softmax(before.logits(batch.inputs), 2);
    let per_token = (log_after.clone().exp() * (log_after - log_before)).sum_dim(2).squeeze_dim::<2>(2);
    let kl = (per_token * batch.mask).sum().div_scalar(batch.answer_tokens.max(1) as f32);
    let value = device::read_scalar(kl, "the KL").await?;
    // Rounding can leave a hair below zero for identical models; KL is never negative.
    Ok(value.max(0.0))
}
