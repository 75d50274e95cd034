//! The fused kernels as burn operations on its CPU backend (burn-flex), through burn's backend
//! extension: a forward on `Flex`, and on `Autodiff<Flex>` the same forward plus a hand-written
//! backward, so training runs one kernel where the decomposed ops ran a dozen.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};
use burn::tensor::{DType, TensorData};

use super::cpu::{self, Heads};

#[backend_extension(Flex, Autodiff)]
pub trait FusedOps: Backend {
    /// Causal self-attention from a fused q|k|v tensor [batch, seq, 3·d] to the context [batch, seq, d].
    fn fused_attention(qkv: FloatTensor<Self>, heads: usize) -> FloatTensor<Self>;
    /// Per-row cross-entropy of logits [rows, vocab] against integer targets [rows]: [rows].
    fn fused_cross_entropy(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self>;
    /// A linear layer: x [rows, d_in] · w [d_in, d_out] + bias [d_out].
    fn fused_linear(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;
    /// A tied LM head: x [rows, d] · embeddingᵀ (embedding [vocab, d]) → [rows, vocab].
    fn fused_tied_head(x: FloatTensor<Self>, embedding: FloatTensor<Self>) -> FloatTensor<Self>;
    /// The exact (erf) GELU, elementwise.
    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// LayerNorm of x [rows, d] with scale gamma [d] and shift beta [d].
    fn fused_layer_norm(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, eps: f32) -> FloatTensor<Self>;
}

/// The f32 values of a tensor, contiguous (a copy only when the tensor is a strided view).
fn contiguous(t: &FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "the fused kernels are f32 kernels (callers check the dtype)");
    t.to_contiguous()
}

fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("a contiguous f32 tensor")
}

fn tensor(values: Vec<f32>, shape: &[usize]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.to_vec()))
}

fn indices(t: &FlexTensor) -> Vec<usize> {
    let t = t.to_contiguous();
    match t.dtype() {
        DType::I64 => t.as_slice::<i64>().expect("contiguous").iter().map(|&i| i as usize).collect(),
        DType::I32 => t.as_slice::<i32>().expect("contiguous").iter().map(|&i| i as usize).collect(),
        other => panic!("integer targets, not {other:?}"),
    }
}

fn heads_of(qkv: &FlexTensor, heads: usize) -> Heads {
    let [batch, seq, three_d] = qkv.shape().dims::<3>();
    Heads { batch, seq, heads, head_dim: three_d / 3 / heads }
}

/// Forward of the attention: (context, the inputs it saves, the attention weights).
fn attention(qkv: &FlexTensor, heads: usize) -> (FlexTensor, FlexTensor, FlexTensor) {
    let qkv = contiguous(qkv);
    let l = heads_of(&qkv, heads);
    let (context, weights) = cpu::attention_forward(values(&qkv), l);
    let d = l.heads * l.head_dim;
    (tensor(context, &[l.batch, l.seq, d]), qkv, tensor(weights, &[l.batch, l.heads, l.seq, l.seq]))
}

/// Forward of the cross-entropy: (losses, logits, log-sum-exp per row, targets).
fn cross_entropy(logits: &FlexTensor, targets: &FlexTensor) -> (FlexTensor, FlexTensor, FlexTensor, Vec<usize>) {
    let logits = contiguous(logits);
    let [rows, vocab] = logits.shape().dims::<2>();
    let targets = indices(targets);
    assert!(targets.len() == rows && targets.iter().all(|&t| t < vocab), "one target in 0..vocab per row");
    let (loss, lse) = cpu::cross_entropy_forward(values(&logits), &targets, vocab);
    (tensor(loss, &[rows]), logits, tensor(lse, &[rows]), targets)
}

/// Forward of the LayerNorm: (y, x, gamma, mean, rstd).
fn layer_norm(x: &FlexTensor, gamma: &FlexTensor, beta: &FlexTensor, eps: f32) -> [FlexTensor; 5] {
    let (x, gamma, beta) = (contiguous(x), contiguous(gamma), contiguous(beta));
    let [rows, d] = x.shape().dims::<2>();
    let (y, mean, rstd) = cpu::layer_norm_forward(values(&x), values(&gamma), values(&beta), eps);
    [tensor(y, &[rows, d]), x, gamma, tensor(mean, &[rows]), tensor(rstd, &[rows])]
}

/// Forward of a linear layer: (y, x, w).
fn linear(x: &FlexTensor, w: &FlexTensor, bias: &FlexTensor) -> [FlexTensor; 3] {
    let (x, w, bias) = (contiguous(x), contiguous(w), contiguous(bias));
    let [rows, _] = x.shape().dims::<2>();
    let d_out = bias.shape().dims::<1>()[0];
    [tensor(cpu::linear_forward(values(&x), values(&w), values(&bias), rows), &[rows, d_out]), x, w]
}

/// Forward of the tied head: (logits, x, embedding).
fn tied_head(x: &FlexTensor, embedding: &FlexTensor) -> [FlexTensor; 3] {
    let (x, embedding) = (contiguous(x), contiguous(embedding));
    let [rows, _] = x.shape().dims::<2>();
    let vocab = embedding.shape().dims::<2>()[0];
    [tensor(cpu::tied_head_forward(values(&x), values(&embedding), rows), &[rows, vocab]), x, embedding]
}

fn gelu(x: &FlexTensor) -> (FlexTensor, FlexTensor) {
    let x = contiguous(x);
    (tensor(cpu::gelu_forward(values(&x)), &x.shape().to_vec()), x)
}

impl FusedOps for Flex {
    fn fused_linear(x: FlexTensor, w: FlexTensor, bias: FlexTensor) -> FlexTensor {
        let [y, ..] = linear(&x, &w, &bias);
        y
    }

    fn fused_tied_head(x: FlexTensor, embedding: FlexTensor) -> FlexTensor {
        let [y, ..] = tied_head(&x, &embedding);
        y
    }

    fn fused_gelu(x: FlexTensor) -> FlexTensor {
        gelu(&x).0
    }

    fn fused_attention(qkv: FlexTensor, heads: usize) -> FlexTensor {
        attention(&qkv, heads).0
    }

    fn fused_cross_entropy(logits: FlexTensor, targets: FlexTensor) -> FlexTensor {
        cross_entropy(&logits, &targets).0
    }

    fn fused_layer_norm(x: FlexTensor, gamma: FlexTensor, beta: FlexTensor, eps: f32) -> FlexTensor {
        let [y, ..] = layer_norm(&x, &gamma, &beta, eps);
        y
    }
}

#[derive(Debug)]
struct AttentionBackward;

impl Backward<Flex, 1> for AttentionBackward {
    /// (qkv, attention weights, heads)
    type State = (FlexTensor, FlexTensor, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let d_context = contiguous(&grads.consume::<Flex>(&ops.node));
        if let Some(parent) = parent {
            let (qkv, weights, heads) = ops.state;
            let d_qkv = cpu::attention_backward(values(&qkv), values(&weights), values(&d_context), heads_of(&qkv, heads));
            grads.register::<Flex>(parent.id, tensor(d_qkv, &qkv.shape().to_vec()));
        }
    }
}

#[derive(Debug)]
struct CrossEntropyBackward;

impl Backward<Flex, 1> for CrossEntropyBackward {
    /// (logits, log-sum-exp per row, targets)
    type State = (FlexTensor, FlexTensor, Vec<usize>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let d_loss = contiguous(&grads.consume::<Flex>(&ops.node));
        if let Some(parent) = parent {
            let (logits, lse, targets) = ops.state;
            let vocab = logits.shape().dims::<2>()[1];
            let d_logits = cpu::cross_entropy_backward(values(&logits), &targets, values(&lse), values(&d_loss), vocab);
            grads.register::<Flex>(parent.id, tensor(d_logits, &logits.shape().to_vec()));
        }
    }
}

#[derive(Debug)]
struct LinearBackward;

impl Backward<Flex, 3> for LinearBackward {
    /// (x, w)
    type State = [FlexTensor; 2];

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_bias] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let [x, w] = ops.state;
        let rows = x.shape().dims::<2>()[0];
        let (dx, dw, dbias) = cpu::linear_backward(values(&x), values(&w), values(&dy), rows);
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, tensor(dx, &x.shape().to_vec()));
        }
        if let Some(node) = node_w {
            grads.register::<Flex>(node.id, tensor(dw, &w.shape().to_vec()));
        }
        if let Some(node) = node_bias {
            let d_out = w.shape().dims::<2>()[1];
            grads.register::<Flex>(node.id, tensor(dbias, &[d_out]));
        }
    }
}

#[derive(Debug)]
struct TiedHeadBackward;

impl Backward<Flex, 2> for TiedHeadBackward {
    /// (x, embedding)
    type State = [FlexTensor; 2];

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_embedding] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let [x, embedding] = ops.state;
        let rows = x.shape().dims::<2>()[0];
        let (dx, d_embedding) = cpu::tied_head_backward(values(&x), values(&embedding), values(&dy), rows);
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, tensor(dx, &x.shape().to_vec()));
        }
        if let Some(node) = node_embedding {
            grads.register::<Flex>(node.id, tensor(d_embedding, &embedding.shape().to_vec()));
        }
    }
}

#[derive(Debug)]
struct GeluBackward;

impl Backward<Flex, 1> for GeluBackward {
    /// The input.
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        if let Some(parent) = parent {
            let x = ops.state;
            grads.register::<Flex>(parent.id, tensor(cpu::gelu_backward(values(&x), values(&dy)), &x.shape().to_vec()));
        }
    }
}

#[derive(Debug)]
struct LayerNormBackward;

impl Backward<Flex, 3> for LayerNormBackward {
    /// (x, gamma, mean, rstd)
    type State = [FlexTensor; 4];

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = contiguous(&grads.consume::<Flex>(&ops.node));
        let [x, gamma, mean, rstd] = ops.state;
        let (dx, dgamma, dbeta) = cpu::layer_norm_backward(values(&x), values(&gamma), values(&mean), values(&rstd), values(&dy));
        let d = gamma.shape().to_vec();
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, tensor(dx, &x.shape().to_vec()));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, tensor(dgamma, &d));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, tensor(dbeta, &d));
        }
    }
}

impl<C: CheckpointStrategy> FusedOps for Autodiff<Flex, C> {
    fn fused_linear(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        match LinearBackward.prepare::<C>([x.node(), w.node(), bias.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let [y, x, w] = linear(x.primitive(), w.primitive(), bias.primitive());
                prep.finish([x, w], y)
            }
            OpsKind::UnTracked(prep) => {
                let [y, ..] = linear(x.primitive(), w.primitive(), bias.primitive());
                prep.finish(y)
            }
        }
    }

    fn fused_tied_head(x: FloatTensor<Self>, embedding: FloatTensor<Self>) -> FloatTensor<Self> {
        match TiedHeadBackward.prepare::<C>([x.node(), embedding.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let [y, x, embedding] = tied_head(x.primitive(), embedding.primitive());
                prep.finish([x, embedding], y)
            }
            OpsKind::UnTracked(prep) => {
                let [y, ..] = tied_head(x.primitive(), embedding.primitive());
                prep.finish(y)
            }
        }
    }

    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match GeluBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (y, x) = gelu(x.primitive());
                prep.finish(x, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(gelu(x.primitive()).0),
        }
    }

    fn fused_attention(qkv: FloatTensor<Self>, heads: usize) -> FloatTensor<Self> {
        match AttentionBackward.prepare::<C>([qkv.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (context, qkv, weights) = attention(qkv.primitive(), heads);
                prep.finish((qkv, weights, heads), context)
            }
            OpsKind::UnTracked(prep) => prep.finish(attention(qkv.primitive(), heads).0),
        }
    }

    fn fused_cross_entropy(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self> {
        match CrossEntropyBackward.prepare::<C>([logits.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (loss, logits, lse, targets) = cross_entropy(logits.primitive(), &targets);
                prep.finish((logits, lse, targets), loss)
            }
            OpsKind::UnTracked(prep) => prep.finish(cross_entropy(logits.primitive(), &targets).0),
        }
    }

    fn fused_layer_norm(x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>, eps: f32) -> FloatTensor<Self> {
        match LayerNormBackward.prepare::<C>([x.node(), gamma.node(), beta.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let [y, x, gamma, mean, rstd] = layer_norm(x.primitive(), gamma.primitive(), beta.primitive(), eps);
                prep.finish([x, gamma, mean, rstd], y)
            }
            OpsKind::UnTracked(prep) => {
                let [y, ..] = layer_norm(x.primitive(), gamma.primitive(), beta.primitive(), eps);
                prep.finish(y)
            }
        }
    }
}
