//! Work split into numbered pieces, run on rayon's threads where there are threads (natively,
//! and in the threaded wasm build: feature `threads`) and one after another where there are
//! none (the single-threaded wasm build, which also carries WebGPU).
//!
//! The pieces are fixed by the problem size, never by the number of threads, so a result does
//! not depend on how many threads computed it.

use std::sync::atomic::{AtomicU64, Ordering};

/// One bit per thread that has run a piece (bit 63: a thread outside rayon's pool).
static THREADS_SEEN: AtomicU64 = AtomicU64::new(0);

fn note_thread() {
    let bit = rayon::current_thread_index().map_or(63, |i| i.min(62));
    // Relaxed: a tally for reporting, ordered with nothing.
    THREADS_SEEN.fetch_or(1 << bit, Ordering::Relaxed);
}

/// rayon's thread count, and how many distinct threads have run pieces so far.
pub fn threads() -> (usize, usize) {
    (rayon::current_num_threads(), THREADS_SEEN.load(Ordering::Relaxed).count_ones() as usize)
}

#[cfg(any(not(target_arch = "wasm32"), feature = "threads"))]
pub fn for_each_piece(pieces: usize, f: impl Fn(usize) + Send + Sync) {
    use rayon::prelude::*;
    (0..pieces).into_par_iter().for_each(|i| {
        note_thread();
        f(i)
    });
}

#[cfg(all(target_arch = "wasm32", not(feature = "threads")))]
pub fn for_each_piece(pieces: usize, f: impl Fn(usize) + Send + Sync) {
    note_thread();
    (0..pieces).for_each(f);
}

/// Each piece's result, in piece order (so reductions over them do not depend on scheduling).
#[cfg(any(not(target_arch = "wasm32"), feature = "threads"))]
pub fn map_pieces<T: Send>(pieces: usize, f: impl Fn(usize) -> T + Send + Sync) -> Vec<T> {
    use rayon::prelude::*;
    (0..pieces)
        .into_par_iter()
        .map(|i| {
            note_thread();
            f(i)
        })
        .collect()
}

#[cfg(all(target_arch = "wasm32", not(feature = "threads")))]
pub fn map_pieces<T: Send>(pieces: usize, f: impl Fn(usize) -> T + Send + Sync) -> Vec<T> {
    note_thread();
    (0..pieces).map(f).collect()
}

/// How gemm should run a product of `flops` multiply-adds: on all threads when it is large
/// enough to pay for them (the threshold burn's CPU backend uses), else on this one. gemm splits
/// the output, never the sum, so the result is the same either way.
#[cfg(any(not(target_arch = "wasm32"), feature = "threads"))]
pub fn gemm_parallelism(flops: usize) -> gemm::Parallelism {
    if flops >= 192 * 192 * 192 { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None }
}

#[cfg(all(target_arch = "wasm32", not(feature = "threads")))]
pub fn gemm_parallelism(_flops: usize) -> gemm::Parallelism {
    gemm::Parallelism::None
}
