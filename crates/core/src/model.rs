//! A decoder-only transformer in the GPT-2 mould: token + learned position embeddings,
//! pre-LayerNorm blocks of causal multi-head self-attention and a GELU MLP, a final LayerNorm,
//! and an LM head tied to the token embedding.
//!
//! Weights are initialised from the run's own seeded RNG (not a backend RNG), so the same
//! config starts from the same weights on every backend.

use burn::module::Param;
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::{gelu, softmax};

use crate::config::ModelConfig;
use crate::rng::Rng;
use crate::tokenizer::VOCAB_SIZE;

/// Parameter count of a model of this shape (used to refuse absurd sizes before allocating).
pub fn param_count(m: &ModelConfig) -> usize {
    let (d, f) = (m.d_model, m.d_mlp);
    let block = 2 * 2 * d            // two LayerNorms
        + d * 3 * d + 3 * d         // fused q, k, v
        + d * d + d                 // attention output
        + d * f + f + f * d + d;    // MLP
    VOCAB_SIZE * d + m.max_seq_len * d + m.n_layers * block + 2 * d
}

#[derive(Module, Debug)]
pub struct Gpt {
    pub token_embedding: Embedding,
    pub position_embedding: Param<Tensor<2>>,
    pub blocks: Vec<Block>,
    pub ln_final: LayerNorm,
}

#[derive(Module, Debug)]
pub struct Block {
    pub ln_attn: LayerNorm,
    /// q, k and v in one matmul: small models are launch-bound, so fewer, larger ops.
    pub qkv: Linear,
    pub attn_out: Linear,
    pub ln_mlp: LayerNorm,
    pub mlp_in: Linear,
    pub mlp_out: Linear,
    pub n_heads: usize,
}

/// What a forward pass returns. `residuals` and `attention` are filled only when asked for
/// (probes and attention maps read them); training leaves them empty.
#[derive(Debug)]
pub struct ForwardOutput {
    /// [batch, seq, vocab]
    pub logits: Tensor<3>,
    /// The residual stream entering each block, then after the last one: n_layers + 1 of [batch, seq, d_model].
    pub residuals: Vec<Tensor<3>>,
    /// Attention weights per layer: [batch, heads, seq, seq].
    pub attention: Vec<Tensor<4>>,
}

struct Init<'a> {
    rng: Rng,
    device: &'a Device,
}

impl Init<'_> {
    fn normal(&mut self, shape: [usize; 2], std: f64) -> Tensor<2> {
        let values: Vec<f32> = (0..shape[0] * shape[1]).map(|_| (self.rng.normal() * std) as f32).collect();
        Tensor::from_data(TensorData::new(values, shape), self.device)
    }

    fn linear(&mut self, d_in: usize, d_out: usize, std: f64) -> Linear {
        Linear {
            weight: Param::from_tensor(self.normal([d_in, d_out], std)),
            bias: Some(Param::from_tensor(Tensor::zeros([d_out], self.device))),
        }
    }
}

impl Gpt {
    pub fn new(config: &ModelConfig, seed: u64, device: &Device) -> Self {
        let mut init = Init { rng: Rng::stream(seed, "init"), device };
        let (d, std) = (config.d_model, 0.02);
        // GPT-2: scale the projections into the residual stream by depth so it does not grow.
        let residual_std = std / (2.0 * config.n_layers as f64).sqrt();
        let blocks = (0..config.n_layers)
            .map(|_| Block {
                ln_attn: LayerNormConfig::new(d).init(device),
                qkv: init.linear(d, 3 * d, std),
                attn_out: init.linear(d, d, residual_std),
                ln_mlp: LayerNormConfig::new(d).init(device),
                mlp_in: init.linear(d, config.d_mlp, std),
                mlp_out: init.linear(config.d_mlp, d, residual_std),
                n_heads: config.n_heads,
            })
            .collect();
        Gpt {
            token_embedding: Embedding { weight: Param::from_tensor(init.normal([VOCAB_SIZE, d], std)) },
            position_embedding: Param::from_tensor(init.normal([config.max_seq_len, d], std)),
            blocks,
            ln_final: LayerNormConfig::new(d).init(device),
        }
    }

    pub fn max_seq_len(&self) -> usize {
        self.position_embedding.dims()[0]
    }

    /// tokens: [batch, seq] → logits [batch, seq, vocab]; with `capture`, also the residual
    /// streams and attention weights of every layer.
    pub fn forward(&self, tokens: Tensor<2, Int>, capture: bool) -> ForwardOutput {
        self.forward_embedded(self.token_embedding.forward(tokens), capture)
    }

    /// The same from token embeddings [batch, seq, d_model] (position embeddings are added here),
    /// so trigger inversion can differentiate with respect to a one-hot choice of input tokens.
    pub fn forward_embedded(&self, embedded: Tensor<3>, capture: bool) -> ForwardOutput {
        let [batch, seq, _] = embedded.dims();
        let device = embedded.device();
        let positions = self.position_embedding.val().slice([0..seq]).unsqueeze::<3>();
        let mut x = embedded + positions;
        // True above the diagonal: the future positions each token must not see.
        let causal = Tensor::<2, Bool>::tril_mask([seq, seq], 0, &device).reshape([1, 1, seq, seq]);

        let (mut residuals, mut attention) = (Vec::new(), Vec::new());
        for block in &self.blocks {
            if capture {
                residuals.push(x.clone());
            }
            let (out, weights) = block.forward(x, causal.clone());
            x = out;
            if capture {
                attention.push(weights);
            }
        }
        if capture {
            residuals.push(x.clone());
        }
        let d = x.dims()[2];
        let x = self.ln_final.forward(x).reshape([batch * seq, d]);
        // Tied LM head: logits are similarities to the token embeddings.
        let logits = x.matmul(self.token_embedding.weight.val().transpose()).reshape([batch, seq, VOCAB_SIZE]);
        ForwardOutput { logits, residuals, attention }
    }

    pub fn logits(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        self.forward(tokens, false).logits
    }
}

impl Block {
    fn forward(&self, x: Tensor<3>, causal: Tensor<4, Bool>) -> (Tensor<3>, Tensor<4>) {
        let (attended, weights) = self.attention(self.ln_attn.forward(x.clone()), causal);
        let x = x + attended;
        let x = x.clone() + self.mlp_out.forward(gelu(self.mlp_in.forward(self.ln_mlp.forward(x))));
        (x, weights)
    }

    fn attention(&self, x: Tensor<3>, causal: Tensor<4, Bool>) -> (Tensor<3>, Tensor<4>) {
        let [batch, seq, d] = x.dims();
        let (heads, head_dim) = (self.n_heads, d / self.n_heads);
        let split_heads = |t: Tensor<3>| t.reshape([batch, seq, heads, head_dim]).swap_dims(1, 2);
        let mut qkv = self.qkv.forward(x).chunk(3, 2);
        let v = split_heads(qkv.pop().unwrap());
        let k = split_heads(qkv.pop().unwrap());
        let q = split_heads(qkv.pop().unwrap());

        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((head_dim as f32).sqrt());
        let weights = softmax(scores.mask_fill(causal, -1.0e9), 3);
        let context = weights.clone().matmul(v).swap_dims(1, 2).reshape([batch, seq, d]);
        (self.attn_out.forward(context), weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;

    fn tokens(rows: &[Vec<i64>], device: &Device) -> Tensor<2, Int> {
        let (b, t) = (rows.len(), rows[0].len());
        Tensor::from_data(TensorData::new(rows.concat(), [b, t]), device)
    }

    #[test]
    fn output_shapes_and_param_count() {
        let device = Device::flex();
        let cfg = presets::get("tiny").unwrap().model;
        let model = Gpt::new(&cfg, 1, &device);
        assert_eq!(model.num_params(), param_count(&cfg));
        let out = model.forward(tokens(&[vec![1, 2, 3, 4, 5], vec![6, 7, 8, 9, 10]], &device), true);
        assert_eq!(out.logits.dims(), [2, 5, VOCAB_SIZE]);
        assert_eq!(out.residuals.len(), cfg.n_layers + 1);
        assert_eq!(out.residuals[0].dims(), [2, 5, cfg.d_model]);
        assert_eq!(out.attention.len(), cfg.n_layers);
        assert_eq!(out.attention[0].dims(), [2, cfg.n_heads, 5, 5]);
        let no_capture = model.forward(tokens(&[vec![1, 2, 3]], &device), false);
        assert!(no_capture.residuals.is_empty() && no_capture.attention.is_empty());
    }

    #[test]
    fn attention_is_causal_and_rows_sum_to_one() {
        let device = Device::flex();
        let cfg = presets::get("tiny").unwrap().model;
        let model = Gpt::new(&cfg, 2, &device);
        let a = model.forward(tokens(&[vec![10, 20, 30, 40]], &device), true);
        let b = model.forward(tokens(&[vec![10, 20, 30, 99]], &device), false);
        // Changing the last token must not change the logits at earlier positions.
        let la: Vec<f32> = a.logits.slice([0..1, 0..3]).into_data().try_into_vec_as().unwrap();
        let lb: Vec<f32> = b.logits.slice([0..1, 0..3]).into_data().try_into_vec_as().unwrap();
        assert!(la.iter().zip(&lb).all(|(x, y)| (x - y).abs() < 1e-5));
        let w: Vec<f32> = a.attention[0].clone().into_data().try_into_vec_as().unwrap();
        for row in w.chunks(4).take(4) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        }
        assert!(w[1].abs() < 1e-6, "position 0 attends only to itself");
    }

    #[test]
    fn same_seed_same_weights() {
        let device = Device::flex();
        let cfg = presets::get("tiny").unwrap().model;
        let w = |seed| -> Vec<f32> { Gpt::new(&cfg, seed, &device).blocks[0].qkv.weight.val().into_data().try_into_vec_as().unwrap() };
        assert_eq!(w(5), w(5));
        assert_ne!(w(5), w(6));
    }
}
