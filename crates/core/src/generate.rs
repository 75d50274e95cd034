//! Batched autoregressive generation, greedy or sampled.
//!
//! Written for a GPU that must not wait on the page: the whole decode loop stays on the
//! device (the chosen token is written back with a mask, not read to the host), and the
//! tokens and their probabilities are read back once, asynchronously, at the end.
//! Sampling uses the Gumbel-max trick with noise from the run's own seeded RNG, so a
//! sampled generation is the same on every backend.

use burn::prelude::*;
use burn::tensor::activation::softmax;

use crate::batch::{context_tokens, round_up};
use crate::model::Gpt;
use crate::rng::Rng;
use crate::tokenizer::{EOS, VOCAB_SIZE};

#[derive(Clone, Debug)]
pub struct Sampling {
    /// 0 = greedy.
    pub temperature: f64,
    pub seed: u64,
}

/// One generated continuation: its tokens (cut after EOS) and the probability of each.
#[derive(Clone, Debug, PartialEq)]
pub struct Continuation {
    pub tokens: Vec<u32>,
    pub probs: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GenerateError(pub String);

impl std::fmt::Display for GenerateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Continues each context (dialogue text, BOS is added) by up to `max_new` tokens.
pub async fn generate(
    model: &Gpt,
    contexts: &[String],
    max_new: usize,
    sampling: &Sampling,
    device: &Device,
) -> Result<Vec<Continuation>, GenerateError> {
    let window = model.max_seq_len();
    let contexts: Vec<Vec<u32>> = contexts.iter().map(|c| context_tokens(c)).collect();
    let longest = contexts.iter().map(Vec::len).max().unwrap_or(0);
    if longest >= window {
        return Err(GenerateError(format!(
            "the prompt is {longest} tokens long; this model reads at most {} (each byte is a token)",
            window - 1
        )));
    }
    let max_new = max_new.min(window - longest);
    let batch = contexts.len();
    let width = round_up(longest + max_new, window);

    // Unwritten positions hold 0: under causal attention they never influence earlier ones.
    let mut host = vec![0i64; batch * width];
    for (row, ctx) in contexts.iter().enumerate() {
        for (i, &t) in ctx.iter().enumerate() {
            host[row * width + i] = t as i64;
        }
    }
    let mut tokens = Tensor::<2, Int>::from_data(TensorData::new(host, [batch, width]), device);
    let mut rng = Rng::stream(sampling.seed, "sampling");
    let mut probs = Vec::with_capacity(max_new);

    for step in 0..max_new {
        // Only the prefix that can matter yet: a few distinct shapes, less work early on.
        let seen = round_up(longest + step, window);
        let logits = model.logits(tokens.clone().slice([0..batch, 0..seen]));
        let last: Vec<i64> = contexts.iter().map(|c| (c.len() + step - 1) as i64).collect();
        let index = Tensor::<3, Int>::from_data(TensorData::new(last, [batch, 1, 1]), device)
            .repeat_dim(2, VOCAB_SIZE);
        let logits = logits.gather(1, index).reshape([batch, VOCAB_SIZE]);
        let p = softmax(logits.clone(), 1);
        let next = if sampling.temperature > 0.0 {
            let gumbel: Vec<f32> = (0..batch * VOCAB_SIZE).map(|_| -(-(rng.unit().max(1e-12)).ln()).ln() as f32).collect();
            let noise = Tensor::<2>::from_data(TensorData::new(gumbel, [batch, VOCAB_SIZE]), device);
            (logits.div_scalar(sampling.temperature as f32) + noise).argmax(1)
        } else {
            logits.argmax(1)
        };
        probs.push(p.gather(1, next.clone()));
        let mut write = vec![false; batch * width];
        for (row, ctx) in contexts.iter().enumerate() {
            write[row * width + ctx.len() + step] = true;
        }
        let write = Tensor::<2, Bool>::from_data(TensorData::new(write, [batch, width]), device);
        tokens = tokens.mask_where(write, next.expand([batch, width]));
    }

    let read = |e: burn::tensor::ExecutionError| GenerateError(format!("reading results from the device failed: {e:?}"));
    let tokens: Vec<i64> = tokens.into_data_async().await.map_err(read)?.try_into_vec_as::<i64>().unwrap();
    let probs: Vec<f32> = if probs.is_empty() {
        vec![]
    } else {
        Tensor::cat(probs, 1).into_data_async().await.map_err(read)?.try_into_vec_as::<f32>().unwrap()
    };

    Ok(contexts
        .iter()
        .enumerate()
        .map(|(row, ctx)| {
            let mut out = Continuation { tokens: vec![], probs: vec![] };
            for step in 0..max_new {
                let t = tokens[row * width + ctx.len() + step] as u32;
                out.tokens.push(t);
                out.probs.push(probs[row * max_new + step]);
                if t == EOS {
                    break;
                }
            }
            out
        })
        .collect())
}
