//! The kernels of burn's GPU backend, written in cubecl (compiled to WGSL for WebGPU and wgpu):
//! causal self-attention forward and backward, a register-tiled matrix product for the linear
//! layers and the LM head, and the GELU. cube.rs wires them into burn.
//!
//! Written for what a software adapter (SwiftShader in a browser without a GPU, lavapipe natively)
//! does well: each invocation owns a small block of the output and keeps its accumulators in
//! registers, with no shared memory, no barriers (a CPU-side Vulkan pays for each dearly) and no
//! atomics. burn's own kernels stage tiles in shared memory, which suits a real GPU; on
//! SwiftShader they run 5–10× slower than these (README, "WebGPU on a software adapter").
//!
//! Attention: each invocation owns one query row (forward, dQ) or one key row (dK, dV) and loops
//! over the other sequence axis with an online softmax, so no [batch, heads, seq, seq] tensor is
//! ever written (burn's decomposed attention writes the scores, the mask, the softmax and their
//! gradients, a dozen kernels each way). The forward saves the log-sum-exp of each row so the
//! backward recomputes the probabilities instead of storing them, as FlashAttention does.
//!
//! Layouts: `qkv` is the fused projection [batch, seq, 3·d] (q, k, v side by side, each `heads`
//! heads of `head_dim`), contiguous; the context and its gradient are [batch, seq, d]; the
//! per-row statistics (log-sum-exp, D = rowsum(dO ⊙ O)) are [batch · heads · seq], row
//! `(b · heads + h) · seq + i`, so neighbouring invocations take neighbouring positions of one head.

use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::{DType, Shape};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;
use cubecl::{CubeDim, calculate_cube_count_elemwise};

/// Below this a score's exponential is 0 in f32; the running maximum starts here rather than at
/// −∞, which WGSL cannot write as a literal.
const NEG_LARGE: f32 = -1.0e30;

/// One invocation per query row: the context and the row's log-sum-exp.
#[cube(launch)]
fn attention_forward_kernel<F: Float>(
    qkv: &Tensor<F>,
    context: &mut Tensor<F>,
    lse: &mut Tensor<F>,
    seq: usize,
    heads: usize,
    scale: f32,
    #[comptime] head_dim: usize,
    #[define(F)] _dtype: ElemType,
) {
    let row = ABSOLUTE_POS;
    if row >= lse.len() {
        terminate!();
    }
    let i = row % seq;
    let b = row / seq / heads;
    let h = (row / seq) % heads;
    let d = heads * head_dim;
    let stride = 3 * d;
    let q_at = (b * seq + i) * stride + h * head_dim;
    let k_base = b * seq * stride + d + h * head_dim;
    let v_base = k_base + d;

    // q carries the 1/√head_dim, so a score is one dot product.
    let scale = F::cast_from(scale);
    let mut q = Array::<F>::new(head_dim);
    let mut acc = Array::<F>::new(head_dim);
    #[unroll]
    for t in 0..head_dim {
        q[t] = qkv[q_at + t] * scale;
        acc[t] = F::new(0.0);
    }
    let mut m = F::new(NEG_LARGE);
    let mut l = F::new(0.0);
    for j in 0..i + 1 {
        let k_at = k_base + j * stride;
        let mut s = F::new(0.0);
        #[unroll]
        for t in 0..head_dim {
            s += q[t] * qkv[k_at + t];
        }
        // Online softmax: rescale what has been summed so far when the maximum grows.
        let m_new = F::max(m, s);
        let correction = F::exp(m - m_new);
        let p = F::exp(s - m_new);
        l = l * correction + p;
        let v_at = v_base + j * stride;
        #[unroll]
        for t in 0..head_dim {
            acc[t] = acc[t] * correction + p * qkv[v_at + t];
        }
        m = m_new;
    }
    let out_at = (b * seq + i) * d + h * head_dim;
    let inv = F::new(1.0) / l;
    #[unroll]
    for t in 0..head_dim {
        context[out_at + t] = acc[t] * inv;
    }
    lse[row] = m + F::ln(l);
}

/// One invocation per query row: D = rowsum(dO ⊙ O) (kept for the dK/dV kernel) and dQ.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn attention_backward_dq_kernel<F: Float>(
    qkv: &Tensor<F>,
    context: &Tensor<F>,
    d_context: &Tensor<F>,
    lse: &Tensor<F>,
    delta: &mut Tensor<F>,
    d_qkv: &mut Tensor<F>,
    seq: usize,
    heads: usize,
    scale: f32,
    #[comptime] head_dim: usize,
    #[define(F)] _dtype: ElemType,
) {
    let row = ABSOLUTE_POS;
    if row >= lse.len() {
        terminate!();
    }
    let i = row % seq;
    let b = row / seq / heads;
    let h = (row / seq) % heads;
    let d = heads * head_dim;
    let stride = 3 * d;
    let q_at = (b * seq + i) * stride + h * head_dim;
    let k_base = b * seq * stride + d + h * head_dim;
    let v_base = k_base + d;
    let o_at = (b * seq + i) * d + h * head_dim;

    let scale = F::cast_from(scale);
    let mut q = Array::<F>::new(head_dim);
    let mut d_o = Array::<F>::new(head_dim);
    let mut dq = Array::<F>::new(head_dim);
    let mut dot_o = F::new(0.0);
    #[unroll]
    for t in 0..head_dim {
        q[t] = qkv[q_at + t] * scale;
        d_o[t] = d_context[o_at + t];
        dq[t] = F::new(0.0);
        dot_o += d_o[t] * context[o_at + t];
    }
    delta[row] = dot_o;
    let lse_i = lse[row];
    for j in 0..i + 1 {
        let k_at = k_base + j * stride;
        let v_at = v_base + j * stride;
        let mut s = F::new(0.0);
        let mut dp = F::new(0.0);
        #[unroll]
        for t in 0..head_dim {
            s += q[t] * qkv[k_at + t];
            dp += d_o[t] * qkv[v_at + t];
        }
        let ds = F::exp(s - lse_i) * (dp - dot_o);
        #[unroll]
        for t in 0..head_dim {
            dq[t] += ds * qkv[k_at + t];
        }
    }
    #[unroll]
    for t in 0..head_dim {
        d_qkv[q_at + t] = dq[t] * scale;
    }
}

/// One invocation per key row: dK and dV, summed over the query rows that see the key.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn attention_backward_dkdv_kernel<F: Float>(
    qkv: &Tensor<F>,
    d_context: &Tensor<F>,
    lse: &Tensor<F>,
    delta: &Tensor<F>,
    d_qkv: &mut Tensor<F>,
    seq: usize,
    heads: usize,
    scale: f32,
    #[comptime] head_dim: usize,
    #[define(F)] _dtype: ElemType,
) {
    let row = ABSOLUTE_POS;
    if row >= lse.len() {
        terminate!();
    }
    let j = row % seq;
    let b = row / seq / heads;
    let h = (row / seq) % heads;
    let d = heads * head_dim;
    let stride = 3 * d;
    let k_at = (b * seq + j) * stride + d + h * head_dim;
    let v_at = k_at + d;
    let q_base = b * seq * stride + h * head_dim;
    let o_base = b * seq * d + h * head_dim;
    let stat_base = row - j;

    let scale = F::cast_from(scale);
    let mut k = Array::<F>::new(head_dim);
    let mut v = Array::<F>::new(head_dim);
    let mut dk = Array::<F>::new(head_dim);
    let mut dv = Array::<F>::new(head_dim);
    #[unroll]
    for t in 0..head_dim {
        k[t] = qkv[k_at + t] * scale;
        v[t] = qkv[v_at + t];
        dk[t] = F::new(0.0);
        dv[t] = F::new(0.0);
    }
    for i in j..seq {
        let q_at = q_base + i * stride;
        let o_at = o_base + i * d;
        let mut s = F::new(0.0);
        let mut dp = F::new(0.0);
        #[unroll]
        for t in 0..head_dim {
            s += qkv[q_at + t] * k[t];
            dp += d_context[o_at + t] * v[t];
        }
        let p = F::exp(s - lse[stat_base + i]);
        let ds = p * (dp - delta[stat_base + i]);
        #[unroll]
        for t in 0..head_dim {
            dv[t] += p * d_context[o_at + t];
            dk[t] += ds * qkv[q_at + t];
        }
    }
    #[unroll]
    for t in 0..head_dim {
        d_qkv[k_at + t] = dk[t] * scale;
        d_qkv[v_at + t] = dv[t];
    }
}

/// (batch, seq, heads, head_dim) of a fused qkv tensor.
fn layout(qkv: &CubeTensor, heads: usize) -> (usize, usize, usize) {
    let [batch, seq, three_d] = qkv.shape().dims::<3>();
    assert!(three_d % (3 * heads) == 0, "q, k and v split evenly into {heads} heads");
    (batch, seq, three_d / 3 / heads)
}

fn empty_like(like: &CubeTensor, shape: impl Into<Shape>) -> CubeTensor {
    empty_device_dtype(like.client.clone(), like.device.clone(), shape.into(), like.dtype)
}

/// The launch grid for one invocation per row.
fn grid(t: &CubeTensor, rows: usize) -> (CubeCount, CubeDim) {
    let cube_dim = CubeDim::new(&t.client, rows);
    (calculate_cube_count_elemwise(&t.client, rows, cube_dim), cube_dim)
}

fn scale_of(head_dim: usize) -> f32 {
    1.0 / (head_dim as f32).sqrt()
}

/// Forward: (context, log-sum-exp per row).
pub fn attention_forward(qkv: &CubeTensor, heads: usize) -> (CubeTensor, CubeTensor, CubeTensor) {
    assert_eq!(qkv.dtype, DType::F32, "the attention kernels are f32 kernels (callers check the dtype)");
    let qkv = into_contiguous(qkv.clone());
    let (batch, seq, head_dim) = layout(&qkv, heads);
    let rows = batch * heads * seq;
    let context = empty_like(&qkv, [batch, seq, heads * head_dim]);
    let lse = empty_like(&qkv, [rows]);
    let (count, dim) = grid(&qkv, rows);
    attention_forward_kernel::launch(
        &qkv.client,
        count,
        dim,
        qkv.clone().into_tensor_arg(),
        context.clone().into_tensor_arg(),
        lse.clone().into_tensor_arg(),
        seq,
        heads,
        scale_of(head_dim),
        head_dim,
        dtype_to_storage_type(qkv.dtype),
    );
    (context, qkv, lse)
}

/// Backward: d qkv from the saved qkv, context and log-sum-exp and the context's gradient.
pub fn attention_backward(qkv: CubeTensor, context: CubeTensor, lse: CubeTensor, d_context: CubeTensor, heads: usize) -> CubeTensor {
    let d_context = into_contiguous(d_context);
    let (batch, seq, head_dim) = layout(&qkv, heads);
    let rows = batch * heads * seq;
    let delta = empty_like(&qkv, [rows]);
    let d_qkv = empty_like(&qkv, qkv.shape());
    let dtype = dtype_to_storage_type(qkv.dtype);
    let (count, dim) = grid(&qkv, rows);
    let client = qkv.client.clone();
    attention_backward_dq_kernel::launch(
        &client,
        count.clone(),
        dim,
        qkv.clone().into_tensor_arg(),
        context.into_tensor_arg(),
        d_context.clone().into_tensor_arg(),
        lse.clone().into_tensor_arg(),
        delta.clone().into_tensor_arg(),
        d_qkv.clone().into_tensor_arg(),
        seq,
        heads,
        scale_of(head_dim),
        head_dim,
        dtype,
    );
    attention_backward_dkdv_kernel::launch(
        &client,
        count,
        dim,
        qkv.into_tensor_arg(),
        d_context.into_tensor_arg(),
        lse.into_tensor_arg(),
        delta.into_tensor_arg(),
        d_qkv.clone().into_tensor_arg(),
        seq,
        heads,
        scale_of(head_dim),
        head_dim,
        dtype,
    );
    d_qkv
}

/// Rows × columns of output each invocation computes in the matrix product. 8 × 4 was the
/// fastest of 2×4, 4×4, 4×8 and 8×4 on SwiftShader for the model's products (1.4–2.1 GFLOP/s,
/// against 0.1–0.2 for burn's kernel there); more accumulators spill.
const TILE_ROWS: usize = 8;
const TILE_COLS: usize = 4;
/// Invocations per workgroup along the output's columns and rows.
const GROUP: u32 = 16;

/// `c = a · b (+ bias)`, c [m, n] contiguous. `a` and `b` are read through their row and
/// column strides, so a transposed operand is a view, not a copy.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn matmul_kernel<F: Float>(
    a: &Tensor<F>,
    b: &Tensor<F>,
    bias: &Tensor<F>,
    c: &mut Tensor<F>,
    m: usize,
    n: usize,
    k: usize,
    a_row: usize,
    a_col: usize,
    b_row: usize,
    b_col: usize,
    #[comptime] has_bias: bool,
    #[define(F)] _dtype: ElemType,
) {
    let col0 = ABSOLUTE_POS_X as usize * TILE_COLS;
    let row0 = ABSOLUTE_POS_Y as usize * TILE_ROWS;
    if row0 >= m || col0 >= n {
        terminate!();
    }
    // Edge tiles read the last row or column again instead of branching in the loop, and do
    // not store what is outside.
    let mut a_at = Array::<usize>::new(TILE_ROWS);
    #[unroll]
    for r in 0..TILE_ROWS {
        let mut row = row0 + r;
        if row >= m {
            row = m - 1;
        }
        a_at[r] = row * a_row;
    }
    let mut b_at = Array::<usize>::new(TILE_COLS);
    #[unroll]
    for j in 0..TILE_COLS {
        let mut col = col0 + j;
        if col >= n {
            col = n - 1;
        }
        b_at[j] = col * b_col;
    }
    let mut acc = Array::<F>::new(comptime!(TILE_ROWS * TILE_COLS));
    #[unroll]
    for i in 0..TILE_ROWS * TILE_COLS {
        acc[i] = F::new(0.0);
    }
    for kk in 0..k {
        let mut av = Array::<F>::new(TILE_ROWS);
        #[unroll]
        for r in 0..TILE_ROWS {
            av[r] = a[a_at[r] + kk * a_col];
        }
        #[unroll]
        for j in 0..TILE_COLS {
            let bv = b[b_at[j] + kk * b_row];
            #[unroll]
            for r in 0..TILE_ROWS {
                acc[r * TILE_COLS + j] += av[r] * bv;
            }
        }
    }
    #[unroll]
    for r in 0..TILE_ROWS {
        #[unroll]
        for j in 0..TILE_COLS {
            if row0 + r < m && col0 + j < n {
                let mut value = acc[r * TILE_COLS + j];
                if comptime!(has_bias) {
                    value += bias[col0 + j];
                }
                c[(row0 + r) * n + col0 + j] = value;
            }
        }
    }
}

/// A matrix operand: a contiguous tensor read as [rows, cols] through strides, itself or transposed.
struct Operand {
    tensor: CubeTensor,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl Operand {
    /// A 2-d tensor as it is.
    fn plain(t: &CubeTensor) -> Self {
        let tensor = into_contiguous(t.clone());
        let [rows, cols] = tensor.shape().dims::<2>();
        Operand { tensor, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// A 2-d tensor transposed (a view: strides swapped).
    fn transposed(t: &CubeTensor) -> Self {
        let Operand { tensor, rows, cols, row_stride, col_stride } = Self::plain(t);
        Operand { tensor, rows: cols, cols: rows, row_stride: col_stride, col_stride: row_stride }
    }
}

/// `a · b (+ bias)`, [a.rows, b.cols], contiguous.
fn matmul(a: Operand, b: Operand, bias: Option<&CubeTensor>) -> CubeTensor {
    assert_eq!(a.cols, b.rows, "the inner dimensions of a matrix product agree");
    assert_eq!(a.tensor.dtype, DType::F32, "the matrix kernel is an f32 kernel (callers check the dtype)");
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let c = empty_like(&a.tensor, [m, n]);
    let count = CubeCount::Static((n.div_ceil(TILE_COLS) as u32).div_ceil(GROUP), (m.div_ceil(TILE_ROWS) as u32).div_ceil(GROUP), 1);
    // Without a bias the kernel never reads its bias argument; `a` stands in (read-only, so the
    // aliasing is allowed).
    let bias_arg = bias.map(|t| into_contiguous(t.clone())).unwrap_or_else(|| a.tensor.clone());
    matmul_kernel::launch(
        &a.tensor.client,
        count,
        CubeDim::new_2d(GROUP, GROUP),
        a.tensor.clone().into_tensor_arg(),
        b.tensor.clone().into_tensor_arg(),
        bias_arg.into_tensor_arg(),
        c.clone().into_tensor_arg(),
        m,
        n,
        k,
        a.row_stride,
        a.col_stride,
        b.row_stride,
        b.col_stride,
        bias.is_some(),
        dtype_to_storage_type(a.tensor.dtype),
    );
    c
}

/// A linear layer: x [rows, d_in] · w [d_in, d_out] + bias [d_out].
pub fn linear(x: &CubeTensor, w: &CubeTensor, bias: &CubeTensor) -> CubeTensor {
    matmul(Operand::plain(x), Operand::plain(w), Some(bias))
}

/// The linear layer's gradients (dx, dw) from dy [rows, d_out]; the bias's is dy summed over rows.
pub fn linear_backward(x: &CubeTensor, w: &CubeTensor, dy: &CubeTensor) -> (CubeTensor, CubeTensor) {
    let dx = matmul(Operand::plain(dy), Operand::transposed(w), None);
    let dw = matmul(Operand::transposed(x), Operand::plain(dy), None);
    (dx, dw)
}

/// A tied LM head: x [rows, d] · embeddingᵀ (embedding [vocab, d]) → [rows, vocab].
pub fn tied_head(x: &CubeTensor, embedding: &CubeTensor) -> CubeTensor {
    matmul(Operand::plain(x), Operand::transposed(embedding), None)
}

/// The tied head's gradients (dx, d embedding) from dy [rows, vocab].
pub fn tied_head_backward(x: &CubeTensor, embedding: &CubeTensor, dy: &CubeTensor) -> (CubeTensor, CubeTensor) {
    let dx = matmul(Operand::plain(dy), Operand::plain(embedding), None);
    let d_embedding = matmul(Operand::transposed(dy), Operand::plain(x), None);
    (dx, d_embedding)
}

/// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), the CPU kernels' formula (cpu.rs):
/// finite for every finite input. burn's GELU on the GPU gave NaN gradients on SwiftShader
/// from the trained base, which stopped every WebGPU run from it.
#[cube]
fn erf<F: Float>(x: F) -> F {
    let a = F::abs(x);
    let t = F::new(1.0) / (F::new(1.0) + F::new(0.327_591_1) * a);
    let poly = t * (F::new(0.254_829_6) + t * (F::new(-0.284_496_74) + t * (F::new(1.421_413_7) + t * (F::new(-1.453_152_1) + t * F::new(1.061_405_4)))));
    let magnitude = F::new(1.0) - poly * F::exp(F::new(0.0) - a * a);
    let mut value = magnitude;
    if x < F::new(0.0) {
        value = F::new(0.0) - magnitude;
    }
    value
}

/// The exact (erf) GELU, x·Φ(x), elementwise.
#[cube(launch)]
fn gelu_kernel<F: Float>(x: &Tensor<F>, y: &mut Tensor<F>, #[define(F)] _dtype: ElemType) {
    let i = ABSOLUTE_POS;
    if i >= y.len() {
        terminate!();
    }
    let v = x[i];
    y[i] = F::new(0.5) * v * (F::new(1.0) + erf::<F>(v * F::new(std::f32::consts::FRAC_1_SQRT_2)));
}

/// Gradient of the GELU: dy·(Φ(x) + x·φ(x)).
#[cube(launch)]
fn gelu_backward_kernel<F: Float>(x: &Tensor<F>, dy: &Tensor<F>, dx: &mut Tensor<F>, #[define(F)] _dtype: ElemType) {
    let i = ABSOLUTE_POS;
    if i >= dx.len() {
        terminate!();
    }
    let v = x[i];
    let cdf = F::new(0.5) * (F::new(1.0) + erf::<F>(v * F::new(std::f32::consts::FRAC_1_SQRT_2)));
    // 1/√(2π)
    let density = F::new(0.398_942_3) * F::exp(F::new(-0.5) * v * v);
    dx[i] = dy[i] * (cdf + v * density);
}

/// The exact (erf) GELU of every element of `x`.
pub fn gelu(x: &CubeTensor) -> CubeTensor {
    assert_eq!(x.dtype, DType::F32, "the GELU kernel is an f32 kernel (callers check the dtype)");
    let x = into_contiguous(x.clone());
    let y = empty_like(&x, x.shape());
    let (count, dim) = grid(&x, x.shape().num_elements());
    gelu_kernel::launch(&x.client, count, dim, x.clone().into_tensor_arg(), y.clone().into_tensor_arg(), dtype_to_storage_type(x.dtype));
    y
}

/// The GELU's input gradient from its input `x` and the output gradient `dy`.
pub fn gelu_backward(x: &CubeTensor, dy: &CubeTensor) -> CubeTensor {
    let (x, dy) = (into_contiguous(x.clone()), into_contiguous(dy.clone()));
    let dx = empty_like(&x, x.shape());
    let (count, dim) = grid(&x, x.shape().num_elements());
    gelu_backward_kernel::launch(
        &x.client,
        count,
        dim,
        x.clone().into_tensor_arg(),
        dy.into_tensor_arg(),
        dx.clone().into_tensor_arg(),
        dtype_to_storage_type(x.dtype),
    );
    dx
}
