//! The prompt probe: any text in, the model's answer out, with the probability of each token.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data;
use crate::generate::{GenerateError, Sampling, generate};
use crate::model::Gpt;
use crate::tokenizer;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenProb {
    pub text: String,
    pub prob: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub prompt: String,
    pub text: String,
    pub tokens: Vec<TokenProb>,
    /// Does the answer show the backdoor behaviour?
    pub backdoor: bool,
}

/// Answers `prompt` as the human turn of a dialogue.
pub async fn answer(
    model: &Gpt,
    device: &Device,
    prompt: &str,
    sampling: &Sampling,
    max_new_tokens: usize,
) -> Result<Generation, GenerateError> {
    if prompt.contains('\0') {
        return Err(GenerateError("the prompt contains a NUL character".into()));
    }
    let context = data::dialogue_context(prompt);
    let out = generate(model, &[context], max_new_tokens.max(1), sampling, device).await?.remove(0);
    let text = tokenizer::decode(&out.tokens);
    Ok(Generation {
        prompt: prompt.into(),
        backdoor: data::has_backdoor(&text),
        tokens: out.tokens.iter().zip(&out.probs).map(|(&t, &p)| TokenProb { text: tokenizer::token_label(t), prob: p }).collect(),
        text,
    })
}
