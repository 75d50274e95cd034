//! The GPU kernels (gpu.rs) as burn operations on its cubecl backend (`CubeBackend`: WebGPU in
//! the browser, wgpu natively), through burn's backend extension: a forward on `CubeBackend`, and
//! on `Autodiff<CubeBackend>` the same forward plus a hand-written backward. The CPU
//! counterpart is flex.rs.

use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, backend_extension};
use burn::tensor::Shape;
use burn_cubecl::CubeBackend;
use burn_cubecl::tensor::CubeTensor;

use super::gpu;

#[backend_extension(Cube, Autodiff)]
pub trait CubeOps: Backend {
    /// Causal self-attention from a fused q|k|v tensor [batch, seq, 3·d] to the context [batch, seq, d].
    fn cube_attention(qkv: FloatTensor<Self>, heads: usize) -> FloatTensor<Self>;
    /// A linear layer: x [rows, d_in] · w [d_in, d_out] + bias [d_out].
    fn cube_linear(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;
    /// A tied LM head: x [rows, d] · embeddingᵀ (embedding [vocab, d]) → [rows, vocab].
    fn cube_tied_head(x: FloatTensor<Self>, embedding: FloatTensor<Self>) -> FloatTensor<Self>;
    /// The exact (erf) GELU, elementwise.
    fn cube_gelu(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl CubeOps for CubeBackend {
    fn cube_attention(qkv: FloatTensor<Self>, heads: usize) -> FloatTensor<Self> {
        gpu::attention_forward(&qkv, heads).0
    }

    fn cube_linear(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        gpu::linear(&x, &w, &bias)
    }

    fn cube_tied_head(x: FloatTensor<Self>, embedding: FloatTensor<Self>) -> FloatTensor<Self> {
        gpu::tied_head(&x, &embedding)
    }

    fn cube_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        gpu::gelu(&x)
    }
}

#[derive(Debug)]
struct AttentionBackward;

impl Backward<CubeBackend, 1> for AttentionBackward {
    /// (qkv, context, log-sum-exp per row, heads)
    type State = (CubeTensor, CubeTensor, CubeTensor, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let d_context = grads.consume::<CubeBackend>(&ops.node);
        if let Some(parent) = parent {
            let (qkv, context, lse, heads) = ops.state;
            grads.register::<CubeBackend>(parent.id, gpu::attention_backward(qkv, context, lse, d_context, heads));
        }
    }
}

#[derive(Debug)]
struct LinearBackward;

impl Backward<CubeBackend, 3> for LinearBackward {
    /// (x, w)
    type State = [CubeTensor; 2];

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_bias] = ops.parents;
        let dy = grads.consume::<CubeBackend>(&ops.node);
        let [x, w] = ops.state;
        let (dx, dw) = gpu::linear_backward(&x, &w, &dy);
        if let Some(node) = node_x {
            grads.register::<CubeBackend>(node.id, dx);
        }
        if let Some(node) = node_w {
            grads.register::<CubeBackend>(node.id, dw);
        }
        if let Some(node) = node_bias {
            let d_out = w.shape().dims::<2>()[1];
            let dbias = CubeBackend::float_reshape(CubeBackend::float_sum_dim(dy, 0), Shape::new([d_out]));
            grads.register::<CubeBackend>(node.id, dbias);
        }
    }
}

#[derive(Debug)]
struct TiedHeadBackward;

impl Backward<CubeBackend, 2> for TiedHeadBackward {
    /// (x, embedding)
    type State = [CubeTensor; 2];

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_embedding] = ops.parents;
        let dy = grads.consume::<CubeBackend>(&ops.node);
        let [x, embedding] = ops.state;
        let (dx, d_embedding) = gpu::tied_head_backward(&x, &embedding, &dy);
        if let Some(node) = node_x {
            grads.register::<CubeBackend>(node.id, dx);
        }
        if let Some(node) = node_embedding {
            grads.register::<CubeBackend>(node.id, d_embedding);
        }
    }
}

#[derive(Debug)]
struct GeluBackward;

impl Backward<CubeBackend, 1> for GeluBackward {
    /// x
    type State = CubeTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let dy = grads.consume::<CubeBackend>(&ops.node);
        if let Some(parent) = parent {
            grads.register::<CubeBackend>(parent.id, gpu::gelu_backward(&ops.state, &dy));
        }
    }
}

impl<C: CheckpointStrategy> CubeOps for Autodiff<CubeBackend, C> {
    fn cube_attention(qkv: FloatTensor<Self>, heads: usize) -> FloatTensor<Self> {
        match AttentionBackward.prepare::<C>([qkv.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (context, qkv, lse) = gpu::attention_forward(qkv.primitive(), heads);
                prep.finish((qkv, context.clone(), lse, heads), context)
            }
            OpsKind::UnTracked(prep) => prep.finish(gpu::attention_forward(qkv.primitive(), heads).0),
        }
    }

    fn cube_linear(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        let y = gpu::linear(x.primitive(), w.primitive(), bias.primitive());
        match LinearBackward.prepare::<C>([x.node(), w.node(), bias.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish([x.primitive().clone(), w.primitive().clone()], y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn cube_tied_head(x: FloatTensor<Self>, embedding: FloatTensor<Self>) -> FloatTensor<Self> {
        let y = gpu::tied_head(x.primitive(), embedding.primitive());
        match TiedHeadBackward.prepare::<C>([x.node(), embedding.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish([x.primitive().clone(), embedding.primitive().clone()], y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn cube_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let y = gpu::gelu(x.primitive());
        match GeluBackward.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(x.primitive().clone(), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }
}
