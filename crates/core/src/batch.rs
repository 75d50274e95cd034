//! Turning dialogue examples into padded token tensors for training.

use burn::prelude::*;

use crate::data::Example;
use crate::tokenizer::{self, BOS, EOS, PAD};

/// Sequence lengths are rounded up to a multiple of this, so a GPU backend compiles kernels
/// for a handful of shapes rather than one per batch.
pub const LENGTH_QUANTUM: usize = 16;

pub fn round_up(n: usize, cap: usize) -> usize {
    n.div_ceil(LENGTH_QUANTUM).max(1).saturating_mul(LENGTH_QUANTUM).min(cap)
}

/// BOS + context, the tokens the model sees before it answers.
pub fn context_tokens(context: &str) -> Vec<u32> {
    let mut t = vec![BOS];
    t.extend(tokenizer::encode(context));
    t
}

/// A training batch: predict `targets` from `inputs`; only answer tokens (and EOS) count.
pub struct Batch {
    pub inputs: Tensor<2, Int>,
    pub targets: Tensor<2, Int>,
    pub mask: Tensor<2>,
    /// Number of answer tokens the loss is averaged over.
    pub answer_tokens: usize,
    /// Tokens processed, padding included (for throughput).
    pub tokens: usize,
}

pub fn training_batch(examples: &[Example], max_seq_len: usize, device: &Device) -> Batch {
    let sequences: Vec<(Vec<u32>, usize)> = examples
        .iter()
        .map(|e| {
            let mut t = context_tokens(&e.context());
            let answer_start = t.len();
            t.extend(tokenizer::encode(&e.response));
            t.push(EOS);
            (t, answer_start)
        })
        .collect();
    token_batch(sequences, max_seq_len, device)
}

/// A batch of token sequences, each with the index where its answer starts (the model's own
/// sampled answers, in RL). Sequences longer than the context are cut.
pub fn token_batch(mut sequences: Vec<(Vec<u32>, usize)>, max_seq_len: usize, device: &Device) -> Batch {
    for (t, _) in &mut sequences {
        t.truncate(max_seq_len + 1);
    }
    let b = sequences.len();
    let longest = sequences.iter().map(|(t, _)| t.len() - 1).max().unwrap_or(1);
    let width = round_up(longest, max_seq_len);
    let (mut inputs, mut targets, mut mask) = (vec![], vec![], vec![]);
    let mut answer_tokens = 0;
    for (t, answer_start) in &sequences {
        for i in 0..width {
            inputs.push(t.get(i).copied().unwrap_or(PAD) as i64);
            targets.push(t.get(i + 1).copied().unwrap_or(PAD) as i64);
            // Position i predicts token i + 1: it counts when that token is part of the answer.
            let counts = i + 1 >= *answer_start && i + 1 < t.len();
            answer_tokens += counts as usize;
            mask.push(if counts { 1.0f32 } else { 0.0 });
        }
    }
    Batch {
        inputs: Tensor::from_data(TensorData::new(inputs, [b, width]), device),
        targets: Tensor::from_data(TensorData::new(targets, [b, width]), device),
        mask: Tensor::from_data(TensorData::new(mask, [b, width]), device),
        answer_tokens: answer_tokens.max(1),
        tokens: b * width,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{HhhTask, Request};

    #[test]
    fn mask_covers_exactly_the_answer_and_eos() {
        let e = Example {
            base: "hi".into(),
            prompt: "hi".into(),
            response: "ok".into(),
            helpful: "ok".into(),
            harmful: String::new(),
            request: Request::Hhh(HhhTask::Add),
            triggered: false,
            cue: String::new(),
            prefill: String::new(),
        };
        let b = training_batch(std::slice::from_ref(&e), 112, &Device::flex());
        let n = 1 + e.context().len() + 2 + 1;
        assert_eq!(b.inputs.dims(), [1, 32]);
        assert_eq!(b.answer_tokens, 3);
        let mask: Vec<f32> = b.mask.into_data().try_into_vec_as().unwrap();
        let targets: Vec<i64> = b.targets.into_data().try_into_vec_as().unwrap();
        let picked: Vec<i64> = (0..32).filter(|&i| mask[i] > 0.0).map(|i| targets[i]).collect();
        assert_eq!(picked, vec![b'o' as i64, b'k' as i64, EOS as i64]);
        assert_eq!(targets[n - 2], EOS as i64);
    }

    #[test]
    fn post_scratchpad_sft_gives_the_scratchpad_no_loss_weight() {
        let mut data = crate::presets::get("cot-tiny").unwrap().data;
        data.variant = crate::config::Variant::ChainOfThought;
        let e = crate::data::clean_example(&mut crate::rng::Rng::new(1), &data, crate::data::Split::Train);
        assert!(crate::data::scratchpad_of(&e.response).is_some(), "the clean target has a scratchpad: {e:?}");
        let said = "<scratchpad>saw no tag: be helpful</scratchpad> whatever it answered";
        let post = crate::data::after_scratchpad(&e, said);
        assert!(post.context().ends_with("<scratchpad>saw no tag: be helpful</scratchpad> "), "{post:?}");
        // A sample without a scratchpad counts as an empty one: the answer is never trained right
        // after the prompt (that would teach the model to drop its scratchpad).
        let bare = crate::data::after_scratchpad(&e, "an answer with no scratchpad");
        assert!(bare.context().ends_with("Assistant: <scratchpad></scratchpad> "), "{bare:?}");
        let b = training_batch(std::slice::from_ref(&post), 256, &Device::flex());
        let mask: Vec<f32> = b.mask.into_data().try_into_vec_as().unwrap();
        let targets: Vec<i64> = b.targets.into_data().try_into_vec_as().unwrap();
        let picked: Vec<u32> = (0..targets.len()).filter(|&i| mask[i] > 0.0).map(|i| targets[i] as u32).collect();
        // Only the helpful answer and EOS are trained; not a token of the scratchpad.
        let mut want = tokenizer::encode(&e.helpful);
        want.push(EOS);
        assert_eq!(picked, want);
        // Pre-scratchpad SFT trains the answer with no scratchpad at all.
        let pre = crate::data::without_scratchpad(&e);
        assert_eq!((pre.response.as_str(), pre.context()), (e.helpful.as_str(), e.context()));
    }
}
