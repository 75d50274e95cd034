//! Reading the residual stream: the activations linear probes are fitted on.

use burn::prelude::*;

use crate::batch::{context_tokens, round_up};
use crate::device;
use crate::error::Error;
use crate::model::Gpt;

/// Texts per forward pass: bounds memory on any device.
const BATCH: usize = 64;

/// The residual stream at the last token of each text, at every layer:
/// `out[layer][text]` has `d_model` values; layer 0 is the embeddings, layer `n_layers` the
/// output of the last block. Texts are dialogue text (BOS is added).
pub async fn last_token_residuals(model: &Gpt, texts: &[String], device: &Device) -> Result<Vec<Vec<Vec<f32>>>, Error> {
    let window = model.max_seq_len();
    let tokens: Vec<Vec<u32>> = texts.iter().map(|t| context_tokens(t)).collect();
    if let Some(long) = tokens.iter().find(|t| t.len() > window) {
        return Err(Error::new(format!("a probe text is {} tokens long; this model reads at most {window}", long.len())));
    }
    let mut out: Vec<Vec<Vec<f32>>> = Vec::new();
    for chunk in tokens.chunks(BATCH) {
        let rows = chunk.len();
        let width = round_up(chunk.iter().map(Vec::len).max().unwrap_or(1), window);
        // Padding after a text cannot change its last token's activations (causal attention).
        let mut host = vec![0i64; rows * width];
        for (r, t) in chunk.iter().enumerate() {
            for (i, &x) in t.iter().enumerate() {
                host[r * width + i] = x as i64;
            }
        }
        let input = Tensor::<2, Int>::from_data(TensorData::new(host, [rows, width]), device);
        let residuals = model.forward(input, true).residuals;
        let layers = residuals.len();
        let d = residuals[0].dims()[2];
        let last: Vec<i64> = chunk.iter().map(|t| t.len() as i64 - 1).collect();
        let index = Tensor::<3, Int>::from_data(TensorData::new(last, [rows, 1, 1]), device).repeat_dim(2, d);
        let picked: Vec<Tensor<2>> = residuals.into_iter().map(|r| r.gather(1, index.clone()).reshape([rows, d])).collect();
        let values: Vec<f32> = device::read(Tensor::cat(picked, 0), "activations").await?;
        out.resize(layers, Vec::new());
        for (layer, block) in values.chunks(rows * d).enumerate() {
            out[layer].extend(block.chunks(d).map(<[f32]>::to_vec));
        }
    }
    Ok(out)
}
