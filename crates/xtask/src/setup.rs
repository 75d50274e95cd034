//! `cargo xtask setup`: idempotent installs of what a fresh machine lacks.
//!
//! Each check prints what it found; an install runs only when the check says it is needed.

use std::{fs, path::Path, time::SystemTime};

use crate::{Result, bail, cargo, cmd, section};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The wasm-pack release checked on these machines (see TOOLCHAIN notes): builds offline when the
/// matching wasm-bindgen is on PATH.
const WASM_PACK_VERSION: &str = "0.15.1";
pub const CHROMIUM: &str = "/usr/bin/chromium";

pub fn run(root: &Path) -> Result<()> {
    section("setup");
    wasm_target()?;
    rustfmt()?;
    threads_toolchain()?;
    wasm_pack()?;
    wasm_bindgen(root)?;
    for dir in ["www", "tests/e2e"] {
        npm_packages(root, dir)?;
    }
    browser()?;
    Ok(())
}

fn wasm_target() -> Result<()> {
    let Some(installed) = cmd("rustup", ["target", "list", "--installed"]).probe() else {
        bail!("rustup not found: install the {WASM_TARGET} target for your Rust toolchain by hand");
    };
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        println!("ok: rust target {WASM_TARGET} is installed");
        return Ok(());
    }
    cmd("rustup", ["target", "add", WASM_TARGET]).run()
}

/// rustfmt checks the Rust code's format (`cargo xtask test`); a minimal toolchain lacks it.
fn rustfmt() -> Result<()> {
    if let Some(version) = cargo(["fmt", "--version"]).probe() {
        println!("ok: {version}");
        return Ok(());
    }
    cmd("rustup", ["component", "add", "rustfmt"]).run()
}

/// The pinned nightly (with rust-src, for build-std) that builds the threaded wasm.
fn threads_toolchain() -> Result<()> {
    let toolchain = crate::wasm::THREADS_TOOLCHAIN;
    let installed = cmd("rustup", ["component", "list", "--installed", "--toolchain", toolchain]).probe().unwrap_or_default();
    if installed.lines().any(|l| l.trim().starts_with("rust-src")) {
        println!("ok: rust toolchain {toolchain} with rust-src is installed");
        return Ok(());
    }
    cmd("rustup", ["toolchain", "install", toolchain, "--profile", "minimal", "--component", "rust-src", "--target", WASM_TARGET]).run()
}

fn wasm_pack() -> Result<()> {
    if let Some(version) = cmd("wasm-pack", ["--version"]).probe() {
        println!("ok: {version}");
        return Ok(());
    }
    cargo_install("wasm-pack", WASM_PACK_VERSION)
}

/// wasm-bindgen-cli must be exactly the version of the wasm-bindgen crate in Cargo.lock, or
/// wasm-pack tries to download one (which fails on machines without general internet access).
fn wasm_bindgen(root: &Path) -> Result<()> {
    let lock_path = root.join("Cargo.lock");
    if !lock_path.is_file() {
        cargo(["generate-lockfile"]).dir(root).run()?;
    }
    let lock = fs::read_to_string(&lock_path).map_err(|e| format!("cannot read {}: {e}", lock_path.display()))?;
    let Some(wanted) = locked_version(&lock, "wasm-bindgen") else {
        bail!("Cargo.lock has no wasm-bindgen package: is crates/wasm a workspace member?");
    };
    let have = cmd("wasm-bindgen", ["--version"]).probe();
    // `wasm-bindgen --version` prints "wasm-bindgen 0.2.130".
    if have.as_deref().and_then(|v| v.split_whitespace().nth(1)) == Some(wanted.as_str()) {
        println!("ok: wasm-bindgen {wanted} matches Cargo.lock");
        return Ok(());
    }
    println!("wasm-bindgen-cli: Cargo.lock wants {wanted}, found {}", have.as_deref().unwrap_or("none"));
    cargo_install("wasm-bindgen-cli", &wanted)
}

/// `cargo install --locked` (the versions its authors tested), or without `--locked` when that
/// fails: a release's lock file can name a dependency version that was yanked since
/// (wasm-bindgen-cli 0.2.130's does), and then only a fresh resolution works.
fn cargo_install(krate: &str, version: &str) -> Result<()> {
    match cargo(["install", krate, "--version", version, "--locked"]).run() {
        Ok(()) => Ok(()),
        Err(e) => {
            println!("{e}; retrying without --locked");
            cargo(["install", krate, "--version", version]).run()
        }
    }
}

/// The version of `name` recorded in a Cargo.lock (the first entry, if there are several).
pub fn locked_version(lock: &str, name: &str) -> Option<String> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line != wanted {
            continue;
        }
        for line in lines.by_ref() {
            if let Some(v) = line.strip_prefix("version = \"") {
                return Some(v.trim_end_matches('"').to_string());
            }
            if line.is_empty() || line.starts_with('[') {
                break;
            }
        }
    }
    None
}

/// `npm ci` when node_modules is missing or older than package-lock.json.
fn npm_packages(root: &Path, name: &str) -> Result<()> {
    let dir = root.join(name);
    if !dir.join("package.json").is_file() {
        println!("ok: {name}/ has no package.json, no npm packages to install");
        return Ok(());
    }
    if cmd("npm", ["--version"]).probe().is_none() {
        bail!("npm not found: install Node.js 20 or newer (with npm) to build {name}");
    }
    let lock = dir.join("package-lock.json");
    // npm writes node_modules/.package-lock.json at the end of every install.
    let installed = dir.join("node_modules/.package-lock.json");
    if !lock.is_file() {
        println!("{name}: no package-lock.json, so `npm install` (commit the lock file it writes)");
        return cmd("npm", ["install", "--no-audit", "--no-fund"]).dir(&dir).run();
    }
    match (modified(&installed), modified(&lock)) {
        (Some(i), Some(l)) if i >= l => {
            println!("ok: {name}/node_modules is up to date with package-lock.json");
            Ok(())
        }
        _ => cmd("npm", ["ci", "--no-audit", "--no-fund"]).dir(&dir).run(),
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).ok()?.modified().ok()
}

/// Chromium for the browser tests, and lavapipe (mesa-vulkan-drivers) for native wgpu tests.
fn browser() -> Result<()> {
    if !cfg!(target_os = "linux") {
        println!("note: the browser tests expect Chromium at {CHROMIUM}; install it yourself here");
        return Ok(());
    }
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push("chromium");
    }
    let debian = cmd("dpkg-query", ["--version"]).probe().is_some();
    if debian && !deb_installed("mesa-vulkan-drivers") {
        missing.push("mesa-vulkan-drivers");
    }
    if missing.is_empty() {
        println!("ok: {CHROMIUM} is present{}", if debian { ", mesa-vulkan-drivers installed" } else { "" });
        return Ok(());
    }
    let list = missing.join(" ");
    let root_user = cmd("id", ["-u"]).probe().as_deref() == Some("0");
    if !(debian && root_user) {
        println!(
            "WARNING: missing {list}. Install it, e.g. `sudo apt-get install -y {list}` on \
             Debian/Ubuntu. Without chromium the browser tests fail; without \
             mesa-vulkan-drivers the native wgpu tests are skipped."
        );
        return Ok(());
    }
    cmd("apt-get", ["update"]).env("DEBIAN_FRONTEND", "noninteractive").run()?;
    let mut args = vec!["install", "-y"];
    args.extend(missing);
    cmd("apt-get", args).env("DEBIAN_FRONTEND", "noninteractive").run()
}

fn deb_installed(package: &str) -> bool {
    cmd("dpkg-query", ["-W", "-f=${Status}", package]).probe().is_some_and(|s| s == "install ok installed")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
[[package]]
name = "wasm-bindgen"
version = "0.2.130"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "wasm-bindgen-futures"
version = "0.4.53"
"#;

    #[test]
    fn reads_the_locked_wasm_bindgen_version() {
        assert_eq!(locked_version(LOCK, "wasm-bindgen").as_deref(), Some("0.2.130"));
        assert_eq!(locked_version(LOCK, "wasm-bindgen-futures").as_deref(), Some("0.4.53"));
        assert_eq!(locked_version(LOCK, "wasm"), None);
    }

    #[test]
    fn the_real_lock_file_names_wasm_bindgen() {
        let root = crate::project_root().unwrap();
        if let Ok(lock) = fs::read_to_string(root.join("Cargo.lock")) {
            let v = locked_version(&lock, "wasm-bindgen").expect("wasm-bindgen in Cargo.lock");
            assert!(v.starts_with("0.2."), "{v}");
        }
    }
}
