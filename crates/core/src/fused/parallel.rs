//! Work split into numbered pieces, run on rayon's threads where there are threads (natively)
//! and one after another where there are none (the single-threaded wasm build).

#[cfg(not(target_arch = "wasm32"))]
pub fn for_each_piece(pieces: usize, f: impl Fn(usize) + Send + Sync) {
    use rayon::prelude::*;
    (0..pieces).into_par_iter().for_each(f);
}

#[cfg(target_arch = "wasm32")]
pub fn for_each_piece(pieces: usize, f: impl Fn(usize) + Send + Sync) {
    (0..pieces).for_each(f);
}

/// Each piece's result, in piece order (so reductions over them do not depend on scheduling).
#[cfg(not(target_arch = "wasm32"))]
pub fn map_pieces<T: Send>(pieces: usize, f: impl Fn(usize) -> T + Send + Sync) -> Vec<T> {
    use rayon::prelude::*;
    (0..pieces).into_par_iter().map(f).collect()
}

#[cfg(target_arch = "wasm32")]
pub fn map_pieces<T: Send>(pieces: usize, f: impl Fn(usize) -> T + Send + Sync) -> Vec<T> {
    (0..pieces).map(f).collect()
}
