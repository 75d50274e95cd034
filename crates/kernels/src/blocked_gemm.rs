//! The wasm build's matrix product: a 4×8 register tile of 128-bit vectors that reads both
//! operands where they lie, packing only what its loads cannot reach.
//!
//! Why our own: gemm's wasm kernels ran [3584×128]·[128×512] at 12.7 GFLOP/s on one thread in
//! Chromium; this runs the model's products at 15–30 (measured shape by shape in one page; the
//! spread is this machine's noise), and the tiny shape's training went from 15.5k to 18.9k
//! tokens/s on two threads. Two things matter in V8. The tile: V8 keeps one of x86's sixteen vector
//! registers for itself, so eight accumulators, two vectors of B, one broadcast of A and one
//! product fit where gemm's twelve accumulators spill. And copies: the model's products are
//! thin (16 to 256 wide), so packing both operands, as gemm does, costs about as much as the
//! arithmetic. The kernel instead broadcasts A from any strides and loads B's rows in place
//! when their eight columns are contiguous and the rows close together; B is packed only when
//! they are not, or when a panel is reused by so many rows that a cache-friendly copy pays.
//!
//! Natively gemm's AVX2/FMA kernels are faster, so native builds compile this only for the
//! tests, which check it bit for bit against a plain triple loop (the arithmetic is the same
//! on both: no fused multiply-add).
//!
//! Every element's sum runs over k in order, in blocks of [`KC`] added to the destination one
//! after another, whatever the shape's other sizes: a product split into row blocks (threads)
//! gives the same bits as the whole.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

/// Rows of a register tile (broadcasts of A).
const MR: usize = 4;
/// Columns of a register tile: two vectors of four lanes (of B).
const NR: usize = 8;
/// Depth of one pass over k.
const KC: usize = 256;
/// Rows of A per block: the block's rows (MC×KC floats, 128 KiB) stay in L2 while every
/// panel of B passes over them.
const MC: usize = 128;
/// Above this many rows B's panels are packed (see the module comment).
const PACK_B_ROWS: usize = 4 * MC;
/// B's rows further apart than this (in floats) are packed: read in place, a panel's rows
/// would fall into a few cache sets (strides of 2 KiB and more alias), and the medium shape's
/// products (rows 1,024 or 4,096 floats apart) ran slower in place than gemm's packed ones.
const IN_PLACE_STRIDE: usize = 256;

/// A matrix given by (pointer, row stride, column stride), in floats.
pub type Strided<P> = (P, usize, usize);

/// `dst[m×n] = scale · a[m×k] · b[k×n]`, or `dst += …` with `accumulate` (otherwise dst is
/// only written, never read, so it may start uninitialised).
///
/// # Safety
/// The pointers must be valid for the shapes and strides given, and `dst` must not overlap
/// `a` or `b`.
pub unsafe fn gemm((m, n, k): (usize, usize, usize), dst: Strided<*mut f32>, a: Strided<*const f32>, b: Strided<*const f32>, scale: f32, accumulate: bool) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    // SAFETY: (i, j) is inside dst, which the caller vouched for.
                    unsafe { *dst.0.add(i * dst.1 + j * dst.2) = 0.0 };
                }
            }
        }
        return;
    }
    let pack_b = b.2 != 1 || b.1 > IN_PLACE_STRIDE || m > PACK_B_ROWS;
    let kc_max = KC.min(k);
    // Packed panels of B (all of a k block's, when packing), and zero-padded copies of a last,
    // narrower panel of B and a last, shorter tile of A, allocated only when the shape has one
    // (attention calls this thousands of times a step).
    let buffer = |needed: bool, len: usize| if needed { vec![0f32; len] } else { Vec::new() };
    let mut packed_b = buffer(pack_b, kc_max * n.next_multiple_of(NR));
    let mut edge_b = buffer(!pack_b && n % NR != 0, kc_max * NR);
    let mut edge_a = buffer(m % MR != 0, kc_max * MR);
    for pc in (0..k).step_by(KC) {
        let kc = KC.min(k - pc);
        // SAFETY (for every pointer formed below): rows pc..pc + kc of b and columns of a, and
        // the tiles' rows and columns, are inside the matrices the caller vouched for.
        let b_block = unsafe { (b.0.add(pc * b.1), b.1, b.2) };
        if pack_b {
            for (q, j0) in (0..n).step_by(NR).enumerate() {
                unsafe { pack_panel_b(&mut packed_b[q * kc * NR..(q + 1) * kc * NR], b_block, j0, NR.min(n - j0)) };
            }
        }
        // The first block of k writes dst (unless accumulating); later ones add to it.
        let add_to_dst = accumulate || pc > 0;
        for ic in (0..m).step_by(MC) {
            let rows_end = (ic + MC).min(m);
            for (q, j0) in (0..n).step_by(NR).enumerate() {
                let cols = NR.min(n - j0);
                // The panel's rows: packed, read in place, or (a last, narrower panel) padded.
                let (panel, panel_stride) = if pack_b {
                    (packed_b[q * kc * NR..].as_ptr(), NR)
                } else if cols == NR {
                    (unsafe { b_block.0.add(j0) }, b.1)
                } else {
                    unsafe { pack_panel_b(&mut edge_b[..kc * NR], b_block, j0, cols) };
                    (edge_b.as_ptr(), NR)
                };
                for i0 in (ic..rows_end).step_by(MR) {
                    let rows = MR.min(rows_end - i0);
                    let tile = unsafe {
                        let a_at = a.0.add(i0 * a.1 + pc * a.2);
                        if rows == MR {
                            kernel(kc, (a_at, a.1, a.2), (panel, panel_stride))
                        } else {
                            // A last, shorter tile: its rows padded with zeros.
                            for (kk, x) in edge_a[..kc * MR].iter_mut().enumerate() {
                                let (kk, i) = (kk / MR, kk % MR);
                                *x = if i < rows { *a_at.add(i * a.1 + kk * a.2) } else { 0.0 };
                            }
                            kernel(kc, (edge_a.as_ptr(), 1, MR), (panel, panel_stride))
                        }
                    };
                    unsafe {
                        let at = dst.0.add(i0 * dst.1 + j0 * dst.2);
                        write_tile(&tile, (at, dst.1, dst.2), rows, cols, scale, add_to_dst)
                    };
                }
            }
        }
    }
}

/// Columns j0..j0 + cols of the kc rows at `b` into `out`, k-major (kc rows of NR), padded
/// with zeros to NR columns.
unsafe fn pack_panel_b(out: &mut [f32], b: Strided<*const f32>, j0: usize, cols: usize) {
    for (kk, row) in out.chunks_exact_mut(NR).enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            // SAFETY: (kk, j0 + j) is inside b for j < cols (the caller's block).
            *x = if j < cols { unsafe { *b.0.add(kk * b.1 + (j0 + j) * b.2) } } else { 0.0 };
        }
    }
}

/// The register tile: Σ over kc of (column of A) ⊗ (row of B), in k order. A's MR rows are
/// read at (row stride, k stride); B's rows of NR contiguous floats at (k stride).
///
/// # Safety
/// The MR × kc elements of A and the kc rows of NR floats of B must be readable.
#[inline(always)]
unsafe fn kernel(kc: usize, a: Strided<*const f32>, b: (*const f32, usize)) -> [[V4; 2]; MR] {
    let mut acc = [[V4::zero(); 2]; MR];
    // SAFETY: every pointer stays within the extents the caller vouched for.
    unsafe {
        let mut rows: [*const f32; MR] = std::array::from_fn(|i| a.0.add(i * a.1));
        let mut panel = b.0;
        for _ in 0..kc {
            let b0 = V4::load(panel);
            let b1 = V4::load(panel.add(4));
            for (row, p) in acc.iter_mut().zip(rows.iter_mut()) {
                let x = V4::splat_load(*p);
                row[0] = row[0].add(x.mul(b0));
                row[1] = row[1].add(x.mul(b1));
                *p = p.add(a.2);
            }
            panel = panel.add(b.1);
        }
    }
    acc
}

/// `dst = scale · tile` (or `dst += scale · tile`) on its first rows × cols.
unsafe fn write_tile(tile: &[[V4; 2]; MR], dst: Strided<*mut f32>, rows: usize, cols: usize, scale: f32, add_to_dst: bool) {
    let s = V4::splat(scale);
    if cols == NR && dst.2 == 1 {
        for (i, row) in tile.iter().enumerate().take(rows) {
            for (v, &x) in row.iter().enumerate() {
                // SAFETY: the caller vouched for rows × NR contiguous columns.
                unsafe {
                    let at = dst.0.add(i * dst.1 + 4 * v);
                    let y = x.mul(s);
                    let y = if add_to_dst { V4::load(at).add(y) } else { y };
                    y.store(at);
                }
            }
        }
        return;
    }
    for (i, row) in tile.iter().enumerate().take(rows) {
        let lanes: [f32; NR] = {
            let (lo, hi) = (row[0].to_array(), row[1].to_array());
            std::array::from_fn(|j| if j < 4 { lo[j] } else { hi[j - 4] })
        };
        for (j, &x) in lanes.iter().enumerate().take(cols) {
            // SAFETY: (i, j) is inside the tile's part of dst.
            unsafe {
                let at = dst.0.add(i * dst.1 + j * dst.2);
                let y = x * scale;
                *at = if add_to_dst { *at + y } else { y };
            }
        }
    }
}

/// Four f32 lanes: wasm's v128 in the wasm build, an array elsewhere (the same arithmetic,
/// lane by lane, so native tests check the wasm numbers).
#[derive(Clone, Copy)]
struct V4(#[cfg(target_arch = "wasm32")] core::arch::wasm32::v128, #[cfg(not(target_arch = "wasm32"))] [f32; 4]);

#[cfg(target_arch = "wasm32")]
impl V4 {
    #[inline(always)]
    fn zero() -> Self {
        Self::splat(0.0)
    }
    #[inline(always)]
    fn splat(x: f32) -> Self {
        V4(core::arch::wasm32::f32x4_splat(x))
    }
    /// # Safety: four floats readable at `p`.
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        V4(unsafe { core::arch::wasm32::v128_load(p as *const core::arch::wasm32::v128) })
    }
    /// # Safety: one float readable at `p`.
    #[inline(always)]
    unsafe fn splat_load(p: *const f32) -> Self {
        V4(unsafe { core::arch::wasm32::v128_load32_splat(p as *const u32) })
    }
    /// # Safety: four floats writable at `p`.
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { core::arch::wasm32::v128_store(p as *mut core::arch::wasm32::v128, self.0) }
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        V4(core::arch::wasm32::f32x4_add(self.0, o.0))
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        V4(core::arch::wasm32::f32x4_mul(self.0, o.0))
    }
    #[inline(always)]
    fn to_array(self) -> [f32; 4] {
        use core::arch::wasm32::f32x4_extract_lane as lane;
        [lane::<0>(self.0), lane::<1>(self.0), lane::<2>(self.0), lane::<3>(self.0)]
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl V4 {
    fn zero() -> Self {
        V4([0.0; 4])
    }
    fn splat(x: f32) -> Self {
        V4([x; 4])
    }
    unsafe fn load(p: *const f32) -> Self {
        V4(unsafe { std::array::from_fn(|i| *p.add(i)) })
    }
    unsafe fn splat_load(p: *const f32) -> Self {
        V4([unsafe { *p }; 4])
    }
    unsafe fn store(self, p: *mut f32) {
        for (i, x) in self.0.into_iter().enumerate() {
            unsafe { *p.add(i) = x };
        }
    }
    fn add(self, o: Self) -> Self {
        V4(std::array::from_fn(|i| self.0[i] + o.0[i]))
    }
    fn mul(self, o: Self) -> Self {
        V4(std::array::from_fn(|i| self.0[i] * o.0[i]))
    }
    fn to_array(self) -> [f32; 4] {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic spread of values in [-1, 1).
    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len).map(|i| ((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.5 - 1.0).collect()
    }

    /// The same product as a plain triple loop, with the same order of summation (k in order,
    /// in blocks of KC added to dst one after another), so the results must agree bit for bit.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        (m, n, k): (usize, usize, usize),
        dst: &mut [f32],
        dst_strides: (usize, usize),
        a: &[f32],
        a_strides: (usize, usize),
        b: &[f32],
        b_strides: (usize, usize),
        scale: f32,
        accumulate: bool,
    ) {
        for i in 0..m {
            for j in 0..n {
                let d = &mut dst[i * dst_strides.0 + j * dst_strides.1];
                if k == 0 && !accumulate {
                    *d = 0.0;
                }
                for (block, pc) in (0..k).step_by(KC).enumerate() {
                    let mut s = 0.0f32;
                    for kk in pc..(pc + KC).min(k) {
                        s += a[i * a_strides.0 + kk * a_strides.1] * b[kk * b_strides.0 + j * b_strides.1];
                    }
                    let y = s * scale;
                    *d = if accumulate || block > 0 { *d + y } else { y };
                }
            }
        }
    }

    /// Shapes at and around every block edge, all four combinations of transposed operands, a
    /// column-major destination, scaling and accumulation: the same bits as the reference.
    #[test]
    fn matches_the_triple_loop_bit_for_bit() {
        // (600, …): more rows than PACK_B_ROWS, and (9, 300, …): rows of B further apart than
        // IN_PLACE_STRIDE, so B is packed even when contiguous.
        let shapes = [(1, 1, 1), (3, 5, 7), (4, 8, 16), (5, 9, 17), (97, 13, 300), (33, 1030, 5), (8, 8, 0), (130, 17, 513), (600, 20, 3), (9, 300, 20)];
        for &(m, n, k) in &shapes {
            for (ta, tb, td) in [(false, false, false), (true, false, false), (false, true, false), (true, true, true)] {
                for (scale, accumulate) in [(1.0, false), (0.25, true)] {
                    let a = values(m * k, 1);
                    let b = values(k * n, 2);
                    let a_strides = if ta { (1, m) } else { (k, 1) };
                    let b_strides = if tb { (1, k) } else { (n, 1) };
                    let d_strides = if td { (1, m) } else { (n, 1) };
                    let start = values(m * n, 3);
                    let mut expected = start.clone();
                    reference((m, n, k), &mut expected, d_strides, &a, a_strides, &b, b_strides, scale, accumulate);
                    // Not accumulating, dst is write-only: start it with NaN to prove it is not read.
                    let mut got = if accumulate { start.clone() } else { vec![f32::NAN; m * n] };
                    unsafe {
                        gemm(
                            (m, n, k),
                            (got.as_mut_ptr(), d_strides.0, d_strides.1),
                            (a.as_ptr(), a_strides.0, a_strides.1),
                            (b.as_ptr(), b_strides.0, b_strides.1),
                            scale,
                            accumulate,
                        )
                    };
                    let same = got.iter().zip(&expected).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "{m}×{n}×{k}, transposed a {ta} b {tb} dst {td}, scale {scale}, accumulate {accumulate}");
                }
            }
        }
    }

    /// A product split into row blocks (as the threads split it) gives the same bits as the whole.
    #[test]
    fn row_blocks_give_the_same_bits() {
        let (m, n, k) = (70, 40, 600);
        let (a, b) = (values(m * k, 4), values(k * n, 5));
        let mut whole = vec![0.0; m * n];
        unsafe { gemm((m, n, k), (whole.as_mut_ptr(), n, 1), (a.as_ptr(), k, 1), (b.as_ptr(), n, 1), 1.0, false) };
        let mut split = vec![0.0; m * n];
        for r0 in (0..m).step_by(32) {
            let rows = 32.min(m - r0);
            unsafe { gemm((rows, n, k), (split.as_mut_ptr().add(r0 * n), n, 1), (a.as_ptr().add(r0 * k), k, 1), (b.as_ptr(), n, 1), 1.0, false) };
        }
        assert!(whole.iter().zip(&split).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}
