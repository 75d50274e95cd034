//! Batched autoregressive generation, greedy or sampled.
//!
//! The prompt runs once (prefill) and each new token is one position against a KV cache
//! (`model::KvCache`). Written for a GPU that must not wait on the page: the whole decode loop
//! stays on the device (each chosen token feeds the next step as a tensor, never read to the
//! host), and the tokens and their probabilities are read back once, asynchronously, at the end.
//! Sampling uses the Gumbel-max trick with noise from the run's own seeded RNG, so a
//! sampled generation is the same on every backend.

use burn::prelude::*;
use burn::tensor::activation::softmax;

use crate::batch::{context_tokens, round_up};
use crate::data::Example;
use crate::device;
use crate::error::Error;
use crate::model::Gpt;
use crate::rng::Rng;
use crate::tokenizer::{self, EOS, VOCAB_SIZE};

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

/// Prompts per generation batch: bounds memory ([batch, seq, vocab] logits) on any device.
pub const GENERATION_BATCH: usize = 128;

/// Generated answers to `examples` (decoded, cut at EOS), in order.
pub async fn answers(model: &Gpt, examples: &[Example], max_new: usize, sampling: &Sampling, device: &Device) -> Result<Vec<String>, Error> {
    let mut job = Answering::new(examples.to_vec(), max_new, sampling.clone());
    while !job.is_done() {
        job.step(model, device).await?;
    }
    Ok(job.into_answers())
}

/// `answers`, one generation batch per `step`, so a host can yield between batches (an
/// evaluation inside `Experiment::step` is many steps). Batch `i` samples with `seed + i`,
/// whether it runs alone or in one call.
#[derive(Clone, Debug)]
pub struct Answering {
    examples: Vec<Example>,
    max_new: usize,
    sampling: Sampling,
    said: Vec<String>,
}

impl Answering {
    pub fn new(examples: Vec<Example>, max_new: usize, sampling: Sampling) -> Self {
        Self { said: Vec::with_capacity(examples.len()), examples, max_new, sampling }
    }

    pub fn is_done(&self) -> bool {
        self.said.len() == self.examples.len()
    }

    /// Batches done, and in all.
    pub fn batches(&self) -> (usize, usize) {
        (self.said.len().div_ceil(GENERATION_BATCH), self.examples.len().div_ceil(GENERATION_BATCH))
    }

    /// Answers the next batch (nothing once done).
    pub async fn step(&mut self, model: &Gpt, device: &Device) -> Result<(), Error> {
        let start = self.said.len();
        let chunk = &self.examples[start..(start + GENERATION_BATCH).min(self.examples.len())];
        if chunk.is_empty() {
            return Ok(());
        }
        let contexts: Vec<String> = chunk.iter().map(Example::context).collect();
        let batch = (start / GENERATION_BATCH) as u64;
        let sampling = Sampling { temperature: self.sampling.temperature, seed: self.sampling.seed.wrapping_add(batch) };
        for c in generate(model, &contexts, self.max_new, &sampling, device).await? {
            self.said.push(tokenizer::decode(&c.tokens));
        }
        Ok(())
    }

    /// The answers, in the order of the examples.
    pub fn into_answers(self) -> Vec<String> {
        debug_assert!(self.is_done());
        self.said
    }
}

/// Continues each context (dialogue text, BOS is added) by up to `max_new` tokens.
pub async fn generate(model: &Gpt, contexts: &[String], max_new: usize, sampling: &Sampling, device: &Device) -> Result<Vec<Continuation>, Error> {
    let window = model.max_seq_len();
    let contexts: Vec<Vec<u32>> = contexts.iter().map(|c| context_tokens(c)).collect();
    let longest = contexts.iter().map(Vec::len).max().unwrap_or(0);
    if longest >= window {
        return Err(Error::new(format!("the prompt is {longest} tokens long; this model reads at most {} (each byte is a token)", window - 1)));
    }
    let max_new = max_new.min(window - longest);
    let batch = contexts.len();
    let mut rng = Rng::stream(sampling.seed, "sampling");
    if max_new == 0 {
        return Ok(contexts.iter().map(|_| Continuation { tokens: vec![], probs: vec![] }).collect());
    }

    // Prefill: the prompts once, right-padded with 0 (causal attention keeps padding from
    // influencing the real positions before it).
    let mut host = vec![0i64; batch * longest];
    for (row, ctx) in contexts.iter().enumerate() {
        for (i, &t) in ctx.iter().enumerate() {
            host[row * longest + i] = t as i64;
        }
    }
    let prompt = Tensor::<2, Int>::from_data(TensorData::new(host, [batch, longest]), device);
    let last: Vec<usize> = contexts.iter().map(|c| c.len() - 1).collect();
    // A cache width from a handful of values, so a GPU compiles its kernels for few shapes.
    let width = round_up(longest + max_new, window);
    let (mut cache, mut logits) = model.prefill(prompt, &last, width);

    let (mut chosen, mut probs) = (Vec::with_capacity(max_new), Vec::with_capacity(max_new));
    for step in 0..max_new {
        if step > 0 {
            let positions: Vec<usize> = contexts.iter().map(|c| c.len() + step - 1).collect();
            let previous: Tensor<2, Int> = chosen.last().cloned().expect("a token per step");
            logits = model.decode(&mut cache, previous.reshape([batch]), &positions);
        }
        let p = softmax(logits.clone(), 1);
        let next = if sampling.temperature > 0.0 {
            let gumbel: Vec<f32> = (0..batch * VOCAB_SIZE).map(|_| -(-(rng.unit().max(1e-12)).ln()).ln() as f32).collect();
            let noise = Tensor::<2>::from_data(TensorData::new(gumbel, [batch, VOCAB_SIZE]), device);
            (logits.clone().div_scalar(sampling.temperature as f32) + noise).argmax(1)
        } else {
            logits.clone().argmax(1)
        };
        probs.push(p.gather(1, next.clone()));
        chosen.push(next);
    }

    let tokens: Vec<i64> = device::read(Tensor::cat(chosen, 1), "generated tokens").await?;
    let probs: Vec<f32> = device::read(Tensor::cat(probs, 1), "token probabilities").await?;

    Ok(contexts
        .iter()
        .enumerate()
        .map(|(row, _)| {
            let mut out = Continuation { tokens: vec![], probs: vec![] };
            for step in 0..max_new {
                let t = tokens[row * max_new + step] as u32;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;

    /// Greedy decoding by rerunning the whole prefix for every token: what the KV cache must equal.
    fn without_cache(model: &Gpt, context: &str, max_new: usize, device: &Device) -> (Vec<u32>, Vec<f32>) {
        let mut tokens = context_tokens(context);
        let (mut out, mut probs) = (vec![], vec![]);
        for _ in 0..max_new {
            let n = tokens.len();
            let input = Tensor::<2, Int>::from_data(TensorData::new(tokens.iter().map(|&t| t as i64).collect::<Vec<_>>(), [1, n]), device);
            let logits = model.logits(input).slice([0..1, n - 1..n]).reshape([1, VOCAB_SIZE]);
            let p: Vec<f32> = softmax(logits, 1).into_data().iter::<f32>().collect();
            let best = (0..VOCAB_SIZE).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            out.push(best as u32);
            probs.push(p[best]);
            tokens.push(best as u32);
        }
        (out, probs)
    }

    #[test]
    fn cached_generation_equals_rerunning_the_prefix() {
        let device = Device::flex();
        let config = presets::get("tiny").unwrap().model;
        let model = Gpt::new(&config, 3, &device);
        // Different lengths in one batch: each sequence writes and reads its own cache slots.
        let contexts = ["Human: hi\n\nAssistant:", "Human: What is 12 + 30?\n\nAssistant:", "Human: x"].map(String::from);
        let greedy = Sampling { temperature: 0.0, seed: 1 };
        let cached = pollster::block_on(generate(&model, &contexts, 12, &greedy, &device)).unwrap();
        for (context, got) in contexts.iter().zip(&cached) {
            let (tokens, probs) = without_cache(&model, context, 12, &device);
            let n = got.tokens.len();
            assert_eq!(got.tokens, tokens[..n], "{context:?}");
            for (a, b) in got.probs.iter().zip(&probs) {
                assert!((a - b).abs() < 1e-5, "{context:?}: probability {a} vs {b}");
            }
        }
    }
}
