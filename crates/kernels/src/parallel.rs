//! Work split into numbered pieces, and run where there are threads:
//! - natively, on rayon's pool;
//! - in the threaded wasm build (feature `threads`), on [`pool::Pool`] (see pool.rs for why
//!   not rayon there), whose helpers are Web Workers that call [`serve`];
//! - in the default wasm build (which carries WebGPU, and no threads), one after another.
//!
//! The pieces are fixed by the problem size, never by the number of threads, so a result does
//! not depend on how many threads computed it.

use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(all(target_arch = "wasm32", feature = "threads"))]
static POOL: super::pool::Pool = super::pool::Pool::new();

/// In the threaded wasm build: counts the calling thread (a Web Worker on this module's shared
/// memory) as a helper of the pool; it must then call [`serve`].
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
pub fn join() {
    POOL.join()
}

/// In the threaded wasm build: runs pieces for the pool, for ever.
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
pub fn serve() -> ! {
    POOL.serve()
}

/// One bit per thread that has run a piece.
static THREADS_SEEN: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's bit in THREADS_SEEN: the order in which threads first ran a piece.
    static THREAD_BIT: u64 = {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        1 << NEXT.fetch_add(1, Ordering::Relaxed).min(63)
    };
}

fn note_thread() {
    // Relaxed: a tally for reporting, ordered with nothing.
    THREAD_BIT.with(|bit| THREADS_SEEN.fetch_or(*bit, Ordering::Relaxed));
}

/// The CPU backend's threads, as the page's worker reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct CpuThreads {
    /// Threads that can run kernel pieces (1 in the default wasm build).
    pub pool: usize,
    /// Distinct threads that have run pieces of the fused kernels so far: the evidence that the
    /// work really was shared.
    pub used: usize,
}

/// How many threads can run pieces, and how many distinct threads have run some so far.
pub fn threads() -> CpuThreads {
    #[cfg(not(target_arch = "wasm32"))]
    let pool = rayon::current_num_threads();
    #[cfg(all(target_arch = "wasm32", feature = "threads"))]
    let pool = POOL.threads();
    #[cfg(all(target_arch = "wasm32", not(feature = "threads")))]
    let pool = 1;
    CpuThreads { pool, used: THREADS_SEEN.load(Ordering::Relaxed).count_ones() as usize }
}

/// Runs `f` compiled for AVX2 where the CPU has it (x86_64 only).
///
/// A native build targets baseline x86_64 (SSE2, 4 lanes), so the kernels' vectorised loops
/// ran at half width; gemm and burn pick their instruction set at run time, and this does the
/// same for the pieces of our kernels. The kernels' closures are `#[inline(always)]`, so their
/// loops are compiled inside the AVX2 function (a closure LLVM declines to inline would run
/// baseline code). Rust never fuses a multiply and an add, so wider lanes compute the same IEEE
/// operations: the same bits.
#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked above; the check is cached by std).
            return unsafe { avx2(f) };
        }
    }
    f()
}

pub fn for_each_piece(pieces: usize, f: impl Fn(usize) + Send + Sync) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        (0..pieces).into_par_iter().for_each(|i| {
            note_thread();
            wide(
                #[inline(always)]
                || f(i),
            )
        });
    }
    #[cfg(all(target_arch = "wasm32", feature = "threads"))]
    POOL.run(pieces, &|i| {
        note_thread();
        f(i)
    });
    #[cfg(all(target_arch = "wasm32", not(feature = "threads")))]
    {
        note_thread();
        (0..pieces).for_each(f);
    }
}

/// Each piece's result, in piece order (so reductions over them do not depend on scheduling).
pub fn map_pieces<T: Send>(pieces: usize, f: impl Fn(usize) -> T + Send + Sync) -> Vec<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        (0..pieces)
            .into_par_iter()
            .map(|i| {
                note_thread();
                wide(
                    #[inline(always)]
                    || f(i),
                )
            })
            .collect()
    }
    #[cfg(all(target_arch = "wasm32", feature = "threads"))]
    {
        // A Mutex per slot, not a OnceLock: results need only be Send, and a OnceLock shared
        // between threads needs its value to be Sync.
        let slots: Vec<std::sync::Mutex<Option<T>>> = (0..pieces).map(|_| std::sync::Mutex::new(None)).collect();
        for_each_piece(pieces, |i| *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(f(i)));
        slots.into_iter().map(|s| s.into_inner().unwrap_or_else(|e| e.into_inner()).expect("every piece ran")).collect()
    }
    #[cfg(all(target_arch = "wasm32", not(feature = "threads")))]
    {
        note_thread();
        (0..pieces).map(f).collect()
    }
}

/// Products at least this large (multiply-adds) are shared between threads (burn's CPU
/// backend's threshold).
#[cfg(any(not(target_arch = "wasm32"), feature = "threads"))]
const THREADED_GEMM_FLOPS: usize = 192 * 192 * 192;

/// How gemm itself should run a product of `flops` multiply-adds: natively on rayon's threads
/// when it is large (gemm splits the output, never the sum, so the result is the same either
/// way); in wasm on this thread ([`gemm_row_pieces`] shares it out there).
pub fn gemm_parallelism(flops: usize) -> gemm::Parallelism {
    #[cfg(not(target_arch = "wasm32"))]
    if flops >= THREADED_GEMM_FLOPS {
        return gemm::Parallelism::Rayon(0);
    }
    let _ = flops;
    gemm::Parallelism::None
}

/// In the threaded wasm build, how many row blocks to split a large product of `m` rows into,
/// so that [`for_each_piece`] shares it out; 1 elsewhere. Splitting rows changes no sum.
pub fn gemm_row_pieces(m: usize, flops: usize) -> usize {
    #[cfg(all(target_arch = "wasm32", feature = "threads"))]
    if flops >= THREADED_GEMM_FLOPS && POOL.threads() > 1 {
        // Fixed by the size, a few per thread of any likely count: 32-row blocks, at most 16.
        return m.div_ceil(32).clamp(1, 16);
    }
    let _ = (m, flops);
    1
}
