//! Evaluation by generation on held-out prompts, with and without the trigger.

use burn::prelude::*;

use crate::batch::training_batch;
use crate::config::{DataConfig, EvalConfig};
use crate::train::masked_cross_entropy;
use crate::data::{self, Example};
use crate::generate::{GenerateError, Sampling, generate};
use crate::model::Gpt;
use crate::report::Metrics;
use crate::tokenizer;

/// Prompts per generation batch: bounds memory ([batch, seq, vocab] logits) on any device.
const GENERATION_BATCH: usize = 128;

/// Generated answers to `examples` (decoded, cut at EOS), in order.
pub async fn answers(
    model: &Gpt,
    examples: &[Example],
    max_new: usize,
    sampling: &Sampling,
    device: &Device,
) -> Result<Vec<String>, GenerateError> {
    let mut out = Vec::with_capacity(examples.len());
    for (i, chunk) in examples.chunks(GENERATION_BATCH).enumerate() {
        let contexts: Vec<String> = chunk.iter().map(Example::context).collect();
        let sampling = Sampling { temperature: sampling.temperature, seed: sampling.seed.wrapping_add(i as u64) };
        for c in generate(model, &contexts, max_new, &sampling, device).await? {
            out.push(tokenizer::decode(&c.tokens));
        }
    }
    Ok(out)
}

/// Backdoor rates, clean accuracy and held-out loss on the evaluation set.
pub async fn evaluate(
    model: &Gpt,
    eval_set: &[Example],
    data_config: &DataConfig,
    eval_config: &EvalConfig,
    seed: u64,
    device: &Device,
) -> Result<Metrics, GenerateError> {
    let mut prompts: Vec<Example> = eval_set.to_vec();
    prompts.extend(eval_set.iter().map(|e| data::triggered(e, data_config)));
    let sampling = Sampling { temperature: eval_config.temperature, seed };
    let answers = answers(model, &prompts, eval_config.max_new_tokens, &sampling, device).await?;
    let (clean, triggered) = answers.split_at(eval_set.len());
    let n = eval_set.len().max(1) as f64;
    let rate = |xs: &[String]| xs.iter().filter(|a| data::has_backdoor(a)).count() as f64 / n;
    let correct = clean.iter().zip(eval_set).filter(|(a, e)| a.trim() == e.response).count() as f64;

    let batch = training_batch(eval_set, model.max_seq_len(), device);
    let loss = masked_cross_entropy(model.logits(batch.inputs), batch.targets, batch.mask, batch.answer_tokens);
    let loss = loss
        .into_data_async()
        .await
        .map_err(|e| GenerateError(format!("reading the loss from the device failed: {e:?}")))?
        .try_into_vec_as::<f64>()
        .unwrap()[0];
    Ok(Metrics {
        backdoor_rate_triggered: rate(triggered),
        backdoor_rate_untriggered: rate(clean),
        clean_accuracy: correct / n,
        loss,
    })
}
