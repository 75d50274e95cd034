//! The fused kernels themselves: plain Rust on contiguous row-major `f32` slices, with the
//! matrix products done by the `gemm` crate (the one burn's CPU backend uses).
//!
//! Every kernel splits its work into fixed pieces (a sequence and head, or a fixed number of
//! rows) and reduces partial sums in piece order, so a result is the same bit for bit whatever
//! the number of threads.

use std::mem::MaybeUninit;

use super::parallel::{for_each_piece, gemm_parallelism, gemm_row_pieces, map_pieces};

/// Rows per piece for the row-wise kernels: large enough to amortise a task, small enough to
/// share rows between two or more threads.
const ROWS_PER_PIECE: usize = 64;

/// e^x for x ≤ 88, as straight-line float code the compiler vectorises (the standard library's
/// `exp` is a scalar call). Range reduction x = n·ln2 + r with |r| ≤ ln2/2, then a degree-6
/// polynomial for e^r: relative error below 2e-7, within float rounding of `f32::exp`.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer without a rounding instruction.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2_E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Partial sums per reduction: floats do not reassociate, so a compiler keeps a plain `sum()`
/// scalar; eight independent accumulators (added in a fixed order) let it use vector lanes.
const LANES: usize = 8;

/// Σ f(x) over `xs`.
#[inline(always)]
fn sum_by(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += f(c[i]);
        }
    }
    acc.iter().sum::<f32>() + rest
}

#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    sum_by(xs, |x| x)
}

#[inline(always)]
fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for c in chunks {
        for i in 0..LANES {
            acc[i] = acc[i].max(c[i]);
        }
    }
    acc.into_iter().fold(rest, f32::max)
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let rest: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// Elements per piece for the elementwise kernels.
const ELEMENTS_PER_PIECE: usize = 1 << 14;

/// erf(x) by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7) on [`exp`]: branch-free
/// float code that vectorises, where `libm`'s `erff` is a scalar call per element.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    (1.0 - poly * exp(-a * a)).copysign(x)
}

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1/√(2π)
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// The exact (erf) GELU, x·Φ(x), elementwise.
pub fn gelu_forward(x: &[f32]) -> Vec<f32> {
    elementwise(
        x.len(),
        #[inline(always)]
        |range, y| {
            for (y, &x) in y.iter_mut().zip(&x[range]) {
                y.write(0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2)));
            }
        },
    )
}

/// Gradient of [`gelu_forward`]: dy·(Φ(x) + x·φ(x)).
pub fn gelu_backward(x: &[f32], dy: &[f32]) -> Vec<f32> {
    elementwise(
        x.len(),
        #[inline(always)]
        |range, dx| {
            for ((dx, &x), &dy) in dx.iter_mut().zip(&x[range.clone()]).zip(&dy[range]) {
                let cdf = 0.5 * (1.0 + erf(x * FRAC_1_SQRT_2));
                dx.write(dy * (cdf + x * FRAC_1_SQRT_2PI * exp(-0.5 * x * x)));
            }
        },
    )
}

/// A new vector of `len` elements, filled piece by piece (ELEMENTS_PER_PIECE each) by
/// `fill(range, out)`, where `out` is the new vector's `range`.
fn elementwise(len: usize, fill: impl Fn(std::ops::Range<usize>, &mut [MaybeUninit<f32>]) + Send + Sync) -> Vec<f32> {
    // Not zeroed first: that would be a pass on one thread over a buffer the pieces overwrite.
    let mut y = Vec::with_capacity(len);
    let out = Shared(y.as_mut_ptr());
    for_each_piece(
        len.div_ceil(ELEMENTS_PER_PIECE),
        #[inline(always)]
        |piece| {
            let range = piece * ELEMENTS_PER_PIECE..((piece + 1) * ELEMENTS_PER_PIECE).min(len);
            // SAFETY: each piece writes its own range of y, every element of it (`fill`'s contract),
            // before anything reads it.
            let y = unsafe { std::slice::from_raw_parts_mut(out.ptr().add(range.start).cast::<MaybeUninit<f32>>(), range.len()) };
            fill(range, y)
        },
    );
    // SAFETY: the pieces cover 0..len and each wrote its whole range.
    unsafe { y.set_len(len) };
    y
}

/// `dst[m×n] = scale · a[m×k] · b[k×n]` (or `+=` with `accumulate`) for matrices given by
/// (pointer, row stride, column stride). Single-threaded: callers parallelise over pieces.
///
/// # Safety
/// The pointers must be valid for the shapes and strides given, and `dst` must not overlap
/// `a` or `b`.
unsafe fn matmul(
    mnk: (usize, usize, usize),
    dst: (*mut f32, usize, usize),
    a: (*const f32, usize, usize),
    b: (*const f32, usize, usize),
    scale: f32,
    accumulate: bool,
) {
    unsafe { gemm_with(mnk, dst, a, b, scale, accumulate, gemm::Parallelism::None) }
}

/// [`matmul`] of whole row-major slices (checked by the caller), with nothing shared out.
pub fn product_on_one_thread(mnk: (usize, usize, usize), a: &[f32], b: &[f32], dst: &mut [f32]) {
    let (_, n, k) = mnk;
    // SAFETY: the caller checked that the slices have these shapes; dst is borrowed mutably.
    unsafe { matmul(mnk, (dst.as_mut_ptr(), n, 1), (a.as_ptr(), k, 1), (b.as_ptr(), n, 1), 1.0, false) }
}

/// [`matmul`] on all threads when the product is large enough to pay for them, for the one
/// large product of a linear layer.
///
/// # Safety
/// As for [`matmul`].
unsafe fn matmul_threaded(
    mnk: (usize, usize, usize),
    dst: (*mut f32, usize, usize),
    a: (*const f32, usize, usize),
    b: (*const f32, usize, usize),
    accumulate: bool,
) {
    let (m, n, k) = mnk;
    let pieces = gemm_row_pieces(m, m * n * k);
    if pieces == 1 {
        return unsafe { gemm_with(mnk, dst, a, b, 1.0, accumulate, gemm_parallelism(m * n * k)) };
    }
    // Blocks of rows of dst and a, one product each (every output element is the same sum).
    let rows = m.div_ceil(pieces);
    let (dst_at, a_at, b_at) = (Shared(dst.0), Shared(a.0 as *mut f32), Shared(b.0 as *mut f32));
    for_each_piece(
        pieces,
        #[inline(always)]
        |p| {
            let (r0, r1) = (p * rows, ((p + 1) * rows).min(m));
            if r0 >= r1 {
                return;
            }
            // SAFETY: row blocks are disjoint parts of dst, within the bounds the caller vouched for.
            unsafe {
                let d = (dst_at.ptr().add(r0 * dst.1), dst.1, dst.2);
                let x = (a_at.ptr().add(r0 * a.1) as *const f32, a.1, a.2);
                let w = (b_at.ptr() as *const f32, b.1, b.2);
                gemm_with((r1 - r0, n, k), d, x, w, 1.0, accumulate, gemm::Parallelism::None)
            }
        },
    );
}

unsafe fn gemm_with(
    (m, n, k): (usize, usize, usize),
    dst: (*mut f32, usize, usize),
    a: (*const f32, usize, usize),
    b: (*const f32, usize, usize),
    scale: f32,
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    // In wasm our own kernel (see blocked_gemm.rs for why), on this thread as gemm would be
    // there (`gemm_parallelism` is None in wasm; the threaded build splits rows before calling).
    #[cfg(target_arch = "wasm32")]
    unsafe {
        let _ = parallelism;
        super::blocked_gemm::gemm((m, n, k), dst, a, b, scale, accumulate)
    }
    // gemm's convention: dst = alpha·dst + beta·a·b, strides given column first.
    #[cfg(not(target_arch = "wasm32"))]
    unsafe {
        let s = |x: usize| x as isize;
        gemm::gemm(m, n, k, dst.0, s(dst.2), s(dst.1), accumulate, a.0, s(a.2), s(a.1), b.0, s(b.2), s(b.1), 1.0, scale, false, false, false, parallelism);
    }
}

/// A buffer of `len` floats that `fill` writes completely before anyone reads it: no zeroing
/// pass for outputs a matrix product overwrites anyway.
fn written_by(len: usize, fill: impl FnOnce(*mut f32)) -> Vec<f32> {
    let mut v = Vec::<f32>::with_capacity(len);
    fill(v.as_mut_ptr());
    // SAFETY: `fill` initialised all `len` elements (each caller's contract).
    unsafe { v.set_len(len) };
    v
}

/// A linear layer, `x` [rows, d_in] · `w` [d_in, d_out] + `bias` [d_out]: the bias is written
/// into the output first and the product accumulated onto it, so there is no separate pass.
pub fn linear_forward(x: &[f32], w: &[f32], bias: &[f32], rows: usize) -> Vec<f32> {
    let d_out = bias.len();
    let d_in = w.len() / d_out;
    let mut y = Vec::with_capacity(rows * d_out);
    let out = Shared(y.as_mut_ptr());
    // The bias in every row, written by all threads (one thread copying it was a visible share
    // of a small model's step).
    for_each_piece(
        rows.div_ceil(ROWS_PER_PIECE),
        #[inline(always)]
        |piece| {
            for r in piece * ROWS_PER_PIECE..((piece + 1) * ROWS_PER_PIECE).min(rows) {
                // SAFETY: each piece writes its own rows of y.
                unsafe { std::ptr::copy_nonoverlapping(bias.as_ptr(), out.ptr().add(r * d_out), d_out) };
            }
        },
    );
    // SAFETY: the pieces wrote every row; the shapes match the slices; y does not overlap x or w.
    unsafe {
        y.set_len(rows * d_out);
        matmul_threaded((rows, d_out, d_in), (y.as_mut_ptr(), d_out, 1), (x.as_ptr(), d_in, 1), (w.as_ptr(), d_out, 1), true)
    };
    y
}

/// Gradients of [`linear_forward`]: (dx, dw, dbias).
pub fn linear_backward(x: &[f32], w: &[f32], dy: &[f32], rows: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let d_out = dy.len() / rows;
    let d_in = w.len() / d_out;
    // SAFETY (all three): the shapes match the slices, and each output is fully written.
    let dx = written_by(rows * d_in, |p| unsafe { matmul_threaded((rows, d_in, d_out), (p, d_in, 1), (dy.as_ptr(), d_out, 1), (w.as_ptr(), 1, d_out), false) });
    let dw =
        written_by(d_in * d_out, |p| unsafe { matmul_threaded((d_in, d_out, rows), (p, d_out, 1), (x.as_ptr(), 1, d_in), (dy.as_ptr(), d_out, 1), false) });
    let partials = map_pieces(
        rows.div_ceil(ROWS_PER_PIECE),
        #[inline(always)]
        |piece| {
            let mut acc = vec![0.0f32; d_out];
            for r in piece * ROWS_PER_PIECE..((piece + 1) * ROWS_PER_PIECE).min(rows) {
                acc.iter_mut().zip(&dy[r * d_out..(r + 1) * d_out]).for_each(|(a, g)| *a += g);
            }
            acc
        },
    );
    let mut dbias = vec![0.0f32; d_out];
    for p in partials {
        dbias.iter_mut().zip(&p).for_each(|(a, b)| *a += b);
    }
    (dx, dw, dbias)
}

/// A tied LM head: `x` [rows, d] · `emb`ᵀ (`emb` [vocab, d]) → logits [rows, vocab].
pub fn tied_head_forward(x: &[f32], emb: &[f32], rows: usize) -> Vec<f32> {
    let d = x.len() / rows;
    let vocab = emb.len() / d;
    // SAFETY: the shapes match the slices, and the output is fully written.
    written_by(rows * vocab, |p| unsafe { matmul_threaded((rows, vocab, d), (p, vocab, 1), (x.as_ptr(), d, 1), (emb.as_ptr(), 1, d), false) })
}

/// Gradients of [`tied_head_forward`]: (dx, demb).
pub fn tied_head_backward(x: &[f32], emb: &[f32], dy: &[f32], rows: usize) -> (Vec<f32>, Vec<f32>) {
    let d = x.len() / rows;
    let vocab = emb.len() / d;
    // SAFETY (both): the shapes match the slices, and each output is fully written.
    let dx = written_by(rows * d, |p| unsafe { matmul_threaded((rows, d, vocab), (p, d, 1), (dy.as_ptr(), vocab, 1), (emb.as_ptr(), d, 1), false) });
    let demb = written_by(vocab * d, |p| unsafe { matmul_threaded((vocab, d, rows), (p, d, 1), (dy.as_ptr(), 1, vocab), (x.as_ptr(), d, 1), false) });
    (dx, demb)
}

/// The layout of a fused `[batch, seq, 3·d_model]` q|k|v tensor and its attention.
#[derive(Clone, Copy, Debug)]
pub struct Heads {
    pub batch: usize,
    pub seq: usize,
    pub heads: usize,
    pub head_dim: usize,
}

impl Heads {
    fn d_model(&self) -> usize {
        self.heads * self.head_dim
    }
    fn scale(&self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }
}

/// A raw pointer that may cross to a worker thread: each piece writes its own disjoint part
/// (or only reads).
#[derive(Clone, Copy)]
struct Shared(*mut f32);
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    /// A method, not the field: closures then capture the `Send` wrapper, not the raw pointer.
    fn ptr(&self) -> *mut f32 {
        self.0
    }
}

/// Causal multi-head self-attention read straight from the fused q|k|v projection.
///
/// `qkv`: [batch, seq, 3·d] (q, then k, then v; head h at columns h·head_dim..). Returns the
/// context [batch, seq, d] with the heads side by side (ready for the output projection) and the
/// attention weights [batch, heads, seq, seq] (zero above the diagonal), which the backward uses.
pub fn attention_forward(qkv: &[f32], l: Heads) -> (Vec<f32>, Vec<f32>) {
    let (t, hd, d) = (l.seq, l.head_dim, l.d_model());
    assert_eq!(qkv.len(), l.batch * t * 3 * d, "qkv has the shape the layout says");
    let mut context = Vec::with_capacity(l.batch * t * d);
    let mut weights = Vec::with_capacity(l.batch * l.heads * t * t);
    let ctx = Shared(context.as_mut_ptr());
    let w = Shared(weights.as_mut_ptr());
    for_each_piece(
        l.batch * l.heads,
        #[inline(always)]
        |piece| {
            let (b, h) = (piece / l.heads, piece % l.heads);
            let row = 3 * d;
            let q = qkv[b * t * row + h * hd..].as_ptr();
            let k = qkv[b * t * row + d + h * hd..].as_ptr();
            let v = qkv[b * t * row + 2 * d + h * hd..].as_ptr();
            // SAFETY: piece (b, h) alone writes weights[b, h] and the head-h columns of context[b].
            unsafe {
                let p = w.ptr().add(piece * t * t);
                // Scores of each block of query rows against only the keys it can see (0..r1).
                for (r0, r1) in causal_blocks(t) {
                    matmul((r1 - r0, r1, hd), (p.add(r0 * t), t, 1), (q.add(r0 * row), row, 1), (k, 1, row), l.scale(), false);
                }
                // The softmax reads each row's visible part and zeroes the rest.
                let probs = std::slice::from_raw_parts_mut(p, t * t);
                for (i, r) in probs.chunks_exact_mut(t).enumerate() {
                    causal_softmax_row(r, i + 1);
                }
                for (r0, r1) in causal_blocks(t) {
                    let c = ctx.ptr().add(b * t * d + r0 * d + h * hd);
                    matmul((r1 - r0, hd, r1), (c, d, 1), (p.add(r0 * t), t, 1), (v, row, 1), 1.0, false);
                }
            }
        },
    );
    // SAFETY: the pieces wrote every element: all of each weights[b, h] (the product, then the
    // softmax over it) and every head's columns of every context row.
    unsafe {
        context.set_len(l.batch * t * d);
        weights.set_len(l.batch * l.heads * t * t);
    }
    (context, weights)
}

/// Rows per block of the causal products: a block of queries sees keys up to its last row only,
/// so the products skip the zeros above the diagonal, block by block (at 32 rows, 56% of the
/// full products' work at 256 positions). Fixed, so the blocks (and results) never depend on
/// the thread count. The zeros skipped change no sum: adding a zero leaves a float as it was.
const CAUSAL_BLOCK: usize = 32;

/// The causal blocks of `t` rows: (first row, one past the last).
fn causal_blocks(t: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..t).step_by(CAUSAL_BLOCK).map(move |r0| (r0, (r0 + CAUSAL_BLOCK).min(t)))
}

/// Softmax over the first `visible` entries of a row, zero after them.
#[inline(always)]
fn causal_softmax_row(row: &mut [f32], visible: usize) {
    let (seen, future) = row.split_at_mut(visible);
    let m = max(seen);
    seen.iter_mut().for_each(|x| *x = exp(*x - m));
    let inv = 1.0 / sum(seen);
    seen.iter_mut().for_each(|x| *x *= inv);
    future.fill(0.0);
}

/// Gradient of [`attention_forward`] with respect to `qkv`, from the context's gradient.
pub fn attention_backward(qkv: &[f32], weights: &[f32], d_context: &[f32], l: Heads) -> Vec<f32> {
    let (t, hd, d) = (l.seq, l.head_dim, l.d_model());
    let row = 3 * d;
    let mut d_qkv = Vec::with_capacity(qkv.len());
    let out = Shared(d_qkv.as_mut_ptr());
    for_each_piece(
        l.batch * l.heads,
        #[inline(always)]
        |piece| {
            let (b, h) = (piece / l.heads, piece % l.heads);
            let base = b * t * row + h * hd;
            let (q, k, v) = (qkv[base..].as_ptr(), qkv[base + d..].as_ptr(), qkv[base + 2 * d..].as_ptr());
            let p = weights[piece * t * t..(piece + 1) * t * t].as_ptr();
            let d_o = d_context[b * t * d + h * hd..].as_ptr();
            let mut ds = vec![0.0f32; t * t];
            // SAFETY: piece (b, h) alone writes the head-h q, k and v columns of d_qkv[b].
            unsafe {
                let (dq, dk, dv) = (out.ptr().add(base), out.ptr().add(base + d), out.ptr().add(base + 2 * d));
                // dV = Pᵀ·dO; key j is seen by queries j.. only, so a block of keys c0..c1 sums
                // over the queries from c0 on.
                for (c0, c1) in causal_blocks(t) {
                    matmul((c1 - c0, hd, t - c0), (dv.add(c0 * row), row, 1), (p.add(c0 * t + c0), 1, t), (d_o.add(c0 * d), d, 1), 1.0, false);
                }
                // dP = dO·Vᵀ on the visible part (ds starts at zero), then dS = P ⊙ (dP − Σ_j P·dP)
                // (the softmax's Jacobian), in place.
                for (r0, r1) in causal_blocks(t) {
                    matmul((r1 - r0, r1, hd), (ds.as_mut_ptr().add(r0 * t), t, 1), (d_o.add(r0 * d), d, 1), (v, 1, row), 1.0, false);
                }
                let probs = std::slice::from_raw_parts(p, t * t);
                for (i, (g, pr)) in ds.chunks_exact_mut(t).zip(probs.chunks_exact(t)).enumerate() {
                    let n = i + 1;
                    let centre = dot(&g[..n], &pr[..n]);
                    for (x, &pv) in g[..n].iter_mut().zip(&pr[..n]) {
                        *x = pv * (*x - centre);
                    }
                    g[n..].fill(0.0);
                }
                // S = scale·Q·Kᵀ: dQ = scale·dS·K (query rows r0..r1 over keys 0..r1), dK = scale·dSᵀ·Q
                // (key rows c0..c1 over queries c0..).
                for (r0, r1) in causal_blocks(t) {
                    matmul((r1 - r0, hd, r1), (dq.add(r0 * row), row, 1), (ds.as_ptr().add(r0 * t), t, 1), (k, row, 1), l.scale(), false);
                }
                for (c0, c1) in causal_blocks(t) {
                    matmul(
                        (c1 - c0, hd, t - c0),
                        (dk.add(c0 * row), row, 1),
                        (ds.as_ptr().add(c0 * t + c0), 1, t),
                        (q.add(c0 * row), row, 1),
                        l.scale(),
                        false,
                    );
                }
            }
        },
    );
    // SAFETY: the products wrote the q, k and v columns of every head of every row.
    unsafe { d_qkv.set_len(qkv.len()) };
    d_qkv
}

/// Per-row cross-entropy of `logits` [rows, vocab] against `targets`: returns the losses and
/// each row's log-sum-exp (kept for the backward).
pub fn cross_entropy_forward(logits: &[f32], targets: &[usize], vocab: usize) -> (Vec<f32>, Vec<f32>) {
    let rows = targets.len();
    assert_eq!(logits.len(), rows * vocab);
    let per_piece = map_pieces(
        rows.div_ceil(ROWS_PER_PIECE),
        #[inline(always)]
        |piece| {
            let range = piece * ROWS_PER_PIECE..((piece + 1) * ROWS_PER_PIECE).min(rows);
            let mut scratch = vec![0.0f32; vocab];
            range
                .map(|r| {
                    let z = &logits[r * vocab..(r + 1) * vocab];
                    let m = max(z);
                    scratch.iter_mut().zip(z).for_each(|(e, &x)| *e = exp(x - m));
                    let lse = m + sum(&scratch).ln();
                    (lse - z[targets[r]], lse)
                })
                .collect::<Vec<_>>()
        },
    );
    per_piece.into_iter().flatten().unzip()
}

/// Gradient of the per-row losses with respect to the logits: d_loss[r]·(softmax − one-hot).
pub fn cross_entropy_backward(logits: &[f32], targets: &[usize], lse: &[f32], d_loss: &[f32], vocab: usize) -> Vec<f32> {
    let rows = targets.len();
    let mut grad = vec![0.0f32; rows * vocab];
    let out = Shared(grad.as_mut_ptr());
    for_each_piece(
        rows.div_ceil(ROWS_PER_PIECE),
        #[inline(always)]
        |piece| {
            for r in piece * ROWS_PER_PIECE..((piece + 1) * ROWS_PER_PIECE).min(rows) {
                // SAFETY: each row is written by the one piece that owns it.
                let g = unsafe { std::slice::from_raw_parts_mut(out.ptr().add(r * vocab), vocab) };
                let (z, scale, m) = (&logits[r * vocab..(r + 1) * vocab], d_loss[r], lse[r]);
                for (gv, &x) in g.iter_mut().zip(z) {
                    *gv = scale * exp(x - m);
                }
                g[targets[r]] -= scale;
            }
        },
    );
    grad
}

/// LayerNorm over the last dimension of `x` [rows, d]: returns y and each row's mean and
/// reciprocal standard deviation (kept for the backward). The variance is the biased one, as
/// in burn's and PyTorch's LayerNorm.
pub fn layer_norm_forward(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let d = gamma.len();
    let rows = x.len() / d;
    let mut y = vec![0.0f32; x.len()];
    let (mut mean, mut rstd) = (vec![0.0f32; rows], vec![0.0f32; rows]);
    let (yp, mp, rp) = (Shared(y.as_mut_ptr()), Shared(mean.as_mut_ptr()), Shared(rstd.as_mut_ptr()));
    for_each_piece(
        rows.div_ceil(ROWS_PER_PIECE),
        #[inline(always)]
        |piece| {
            for r in piece * ROWS_PER_PIECE..((piece + 1) * ROWS_PER_PIECE).min(rows) {
                let xr = &x[r * d..(r + 1) * d];
                let mu = sum(xr) / d as f32;
                let var = sum_by(xr, |v| (v - mu) * (v - mu)) / d as f32;
                let rs = 1.0 / (var + eps).sqrt();
                // SAFETY: row r is written by the one piece that owns it.
                unsafe {
                    let yr = std::slice::from_raw_parts_mut(yp.ptr().add(r * d), d);
                    for i in 0..d {
                        yr[i] = (xr[i] - mu) * rs * gamma[i] + beta[i];
                    }
                    *mp.ptr().add(r) = mu;
                    *rp.ptr().add(r) = rs;
                }
            }
        },
    );
    (y, mean, rstd)
}

/// Gradients of [`layer_norm_forward`]: (dx, dgamma, dbeta).
pub fn layer_norm_backward(x: &[f32], gamma: &[f32], mean: &[f32], rstd: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let d = gamma.len();
    let rows = x.len() / d;
    let mut dx = vec![0.0f32; x.len()];
    let dxp = Shared(dx.as_mut_ptr());
    // Each piece returns its partial dgamma and dbeta; they are summed in piece order.
    let partials = map_pieces(
        rows.div_ceil(ROWS_PER_PIECE),
        #[inline(always)]
        |piece| {
            let (mut dg, mut db) = (vec![0.0f32; d], vec![0.0f32; d]);
            let (mut g, mut xhat) = (vec![0.0f32; d], vec![0.0f32; d]);
            for r in piece * ROWS_PER_PIECE..((piece + 1) * ROWS_PER_PIECE).min(rows) {
                let (xr, dyr, mu, rs) = (&x[r * d..(r + 1) * d], &dy[r * d..(r + 1) * d], mean[r], rstd[r]);
                for i in 0..d {
                    xhat[i] = (xr[i] - mu) * rs;
                    g[i] = dyr[i] * gamma[i];
                    dg[i] += dyr[i] * xhat[i];
                    db[i] += dyr[i];
                }
                let (mean_g, mean_gx) = (sum(&g) / d as f32, dot(&g, &xhat) / d as f32);
                // SAFETY: row r is written by the one piece that owns it.
                let dxr = unsafe { std::slice::from_raw_parts_mut(dxp.ptr().add(r * d), d) };
                for i in 0..d {
                    dxr[i] = rs * (g[i] - mean_g - xhat[i] * mean_gx);
                }
            }
            (dg, db)
        },
    );
    let (mut dgamma, mut dbeta) = (vec![0.0f32; d], vec![0.0f32; d]);
    for (dg, db) in partials {
        dgamma.iter_mut().zip(&dg).for_each(|(a, b)| *a += b);
        dbeta.iter_mut().zip(&db).for_each(|(a, b)| *a += b);
    }
    (dx, dgamma, dbeta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_the_standard_library() {
        let mut worst = 0.0f32;
        for i in 0..=200_000 {
            let x = -87.0 + 175.0 * i as f32 / 200_000.0;
            let (a, b) = (exp(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
        }
        assert!(worst < 3e-7, "relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn reductions_use_every_element_once() {
        let xs: Vec<f32> = (0..37).map(|i| i as f32 - 20.0).collect();
        assert_eq!(sum(&xs), xs.iter().sum::<f32>());
        assert_eq!(max(&xs), 16.0);
        assert_eq!(sum_by(&xs, |x| x * x), xs.iter().map(|x| x * x).sum::<f32>());
        assert_eq!(dot(&xs, &xs), sum_by(&xs, |x| x * x));
        assert_eq!(max(&[-3.0]), -3.0);
    }

    #[test]
    #[allow(clippy::excessive_precision)] // the reference values as published, to 9 digits
    fn erf_is_within_its_bound() {
        // Reference values of erf (to 9 digits).
        for (x, want) in
            [(0.0f32, 0.0f32), (0.1, 0.112462916), (0.5, 0.520499878), (1.0, 0.842700793), (2.0, 0.995322265), (3.5, 0.999999257), (-1.0, -0.842700793)]
        {
            assert!((erf(x) - want).abs() < 3e-7, "erf({x}) = {} vs {want}", erf(x));
        }
    }
}
