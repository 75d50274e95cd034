//! Looking inside one forward pass: attention maps (does the answer look at the trigger?) and
//! the logit lens (what each layer's residual stream would predict if the model stopped there).

use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::batch::context_tokens;
use crate::data;
use crate::device;
use crate::error::Error;
use crate::model::Gpt;
use crate::tokenizer::{self, VOCAB_SIZE};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct TopToken {
    pub token: String,
    pub prob: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Inspection {
    /// Every token of BOS + dialogue context + answer, as printable labels.
    pub tokens: Vec<String>,
    /// Tokens before the answer (BOS and the dialogue context).
    pub prompt_tokens: usize,
    /// `attention[layer][head]`: a row-major T×T matrix; row i is what token i attends to.
    pub attention: Vec<Vec<Vec<f32>>>,
    /// `logit_lens[layer][position]`: the top tokens predicted for position + 1 from the residual
    /// stream at that layer (0 = embeddings, last = the model's own output).
    pub logit_lens: Vec<Vec<Vec<TopToken>>>,
}

/// Runs `prompt` (in the dialogue format) followed by `answer` through the model once.
pub async fn inspect(model: &Gpt, device: &Device, prompt: &str, answer: &str, top_k: usize) -> Result<Inspection, Error> {
    let mut tokens = context_tokens(&data::dialogue_context(prompt));
    let prompt_tokens = tokens.len();
    tokens.extend(tokenizer::encode(answer));
    let window = model.max_seq_len();
    if tokens.len() > window {
        return Err(Error::new(format!("prompt and answer are {} tokens long; this model reads at most {window}", tokens.len())));
    }
    let t = tokens.len();
    let input = Tensor::<2, Int>::from_data(TensorData::new(tokens.iter().map(|&x| x as i64).collect::<Vec<_>>(), [1, t]), device);
    let out = model.forward(input, true);
    let heads = out.attention[0].dims()[1];
    let layers = out.attention.len();
    let attention: Vec<f32> =
        device::read(Tensor::cat(out.attention.into_iter().map(|a| a.reshape([heads * t * t])).collect(), 0), "attention weights").await?;

    // Logit lens: each residual through the final LayerNorm and the tied unembedding.
    let d = out.residuals[0].dims()[2];
    let unembed = model.token_embedding.weight.val().transpose();
    let lens: Vec<Tensor<1>> = out
        .residuals
        .into_iter()
        .map(|r| {
            let logits = model.ln_final.forward(r).reshape([t, d]).matmul(unembed.clone());
            softmax(logits, 1).reshape([t * VOCAB_SIZE])
        })
        .collect();
    let probs: Vec<f32> = device::read(Tensor::cat(lens, 0), "the logit lens").await?;

    let attention = attention.chunks(heads * t * t).map(|layer| layer.chunks(t * t).map(<[f32]>::to_vec).collect()).collect::<Vec<Vec<_>>>();
    debug_assert_eq!(attention.len(), layers);
    let k = top_k.clamp(1, 20);
    let logit_lens = probs
        .chunks(t * VOCAB_SIZE)
        .map(|layer| {
            layer
                .chunks(VOCAB_SIZE)
                .map(|p| {
                    let mut idx: Vec<usize> = (0..VOCAB_SIZE).collect();
                    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
                    idx.iter().take(k).map(|&i| TopToken { token: tokenizer::token_label(i as u32), prob: p[i] }).collect()
                })
                .collect()
        })
        .collect();
    Ok(Inspection { tokens: tokens.iter().map(|&x| tokenizer::token_label(x)).collect(), prompt_tokens, attention, logit_lens })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;

    #[test]
    fn shapes_and_probabilities() {
        let device = Device::flex();
        let cfg = presets::get("tiny").unwrap();
        let model = Gpt::new(&cfg.model, 1, &device);
        let x = pollster::block_on(inspect(&model, &device, "What is 2 + 3?", "5", 3)).unwrap();
        let t = x.tokens.len();
        assert_eq!(x.tokens[0], "<bos>");
        assert_eq!(t, x.prompt_tokens + 1);
        assert_eq!(x.attention.len(), cfg.model.n_layers);
        assert_eq!(x.attention[0].len(), cfg.model.n_heads);
        for row in x.attention[1][2].chunks(t) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        }
        assert_eq!(x.logit_lens.len(), cfg.model.n_layers + 1);
        assert_eq!(x.logit_lens[0].len(), t);
        let top = &x.logit_lens[2][5];
        assert_eq!(top.len(), 3);
        assert!(top[0].prob >= top[1].prob && top[1].prob >= top[2].prob);
        let too_long = "x".repeat(cfg.model.max_seq_len + 10);
        assert!(pollster::block_on(inspect(&model, &device, &too_long, "", 3)).is_err());
    }
}
