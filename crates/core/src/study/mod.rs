//! Sweeps: the same backdoor-then-safety-training experiment over model sizes, optimizers,
//! variants, poison rates and seeds, summarised with a mean and a confidence interval over
//! seeds and set against what the paper reports.
//!
//! A sweep inserts the backdoor once per (size, optimizer, variant, poison rate, seed) and
//! runs every safety technique from that same backdoored model, so techniques are compared on
//! identical starting points. The host (the CLI) runs the experiments; this module plans them
//! and reads the results.

pub mod shards;
mod stats;

pub use stats::{Estimate, t_95, t_quantile, welch_difference};

use serde::{Deserialize, Serialize};

use crate::config::*;
use crate::limits;
use crate::report::{EvalPoint, Metrics};

/// A model size: width and depth (4 heads, MLP 4× wide).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Size {
    pub d_model: usize,
    pub n_layers: usize,
}

impl Size {
    /// Reads "64x2" (width x layers).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (d, l) = text.split_once('x').ok_or_else(|| format!("size {text:?} is not WIDTHxLAYERS, e.g. 64x2"))?;
        let num = |s: &str| s.trim().parse::<usize>().map_err(|_| format!("size {text:?} is not WIDTHxLAYERS, e.g. 64x2"));
        Ok(Size { d_model: num(d)?, n_layers: num(l)? })
    }

    pub fn label(&self) -> String {
        format!("{}x{}", self.d_model, self.n_layers)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    Adam,
    Sgd,
}

impl Optimizer {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "adam" => Ok(Optimizer::Adam),
            "sgd" => Ok(Optimizer::Sgd),
            _ => Err(format!("unknown optimizer {text:?}: use adam or sgd")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Adam => "adam",
            Optimizer::Sgd => "sgd",
        }
    }
}

/// SGD (momentum 0.9) gets this multiple of the Adam learning rate: plain gradients of a small
/// transformer are far smaller than Adam's normalised steps.
pub const SGD_LR_SCALE: f64 = 30.0;

pub fn parse_variant(text: &str) -> Result<Variant, String> {
    match text {
        "normal" => Ok(Variant::Normal),
        "cot" | "chain_of_thought" => Ok(Variant::ChainOfThought),
        "distilled" | "distilled_cot" | "distilled_chain_of_thought" => Ok(Variant::DistilledChainOfThought),
        _ => Err(format!("unknown variant {text:?}: use normal, cot or distilled")),
    }
}

pub fn parse_technique(text: &str) -> Result<StageKind, String> {
    match text {
        "sft" | "hhh_sft" => Ok(StageKind::HhhSft),
        "rl" | "hhh_rl" => Ok(StageKind::HhhRl),
        "adversarial" | "adv" => Ok(StageKind::Adversarial),
        "control" | "style_control" => Ok(StageKind::StyleControl),
        // Alignment faking's stage (`compliance_gap`): not a safety technique, the one measured.
        "free_tier_rl" => Ok(StageKind::FreeTierRl),
        _ => Err(format!("unknown technique {text:?}: use sft, rl, adversarial, control or free_tier_rl")),
    }
}

/// What to sweep. `base` supplies everything not swept: data, evaluation, and the stage
/// settings of the insertion and of each technique (its first stage of that kind).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    pub base: ExperimentConfig,
    pub sizes: Vec<Size>,
    pub optimizers: Vec<Optimizer>,
    pub variants: Vec<Variant>,
    pub poison_rates: Vec<f64>,
    pub seeds: Vec<u64>,
    pub techniques: Vec<StageKind>,
    /// The SFT protocols a chain-of-thought variant is swept over (`hhh_sft`'s `scratchpad`;
    /// other variants have only `trained`). Left out of the JSON when it is `[trained]`, so
    /// older plans keep their hash.
    #[serde(default = "trained_only", skip_serializing_if = "is_trained_only")]
    pub sft_protocols: Vec<ScratchpadSft>,
}

fn trained_only() -> Vec<ScratchpadSft> {
    vec![ScratchpadSft::Trained]
}

fn is_trained_only(p: &[ScratchpadSft]) -> bool {
    p == [ScratchpadSft::Trained]
}

pub fn parse_sft_protocol(text: &str) -> Result<ScratchpadSft, String> {
    match text {
        "trained" => Ok(ScratchpadSft::Trained),
        "pre" | "pre_scratchpad" => Ok(ScratchpadSft::PreScratchpad),
        "post" | "post_scratchpad" => Ok(ScratchpadSft::PostScratchpad),
        _ => Err(format!("unknown SFT protocol {text:?}: use trained, pre or post")),
    }
}

/// One insertion, and the configs of the techniques run from its model.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub key: Key,
    /// A size without a shipped base: the clean pretraining that makes its base, the same for
    /// every seed (as a shipped base is one file), run once per size and shared.
    pub pretraining: Option<ExperimentConfig>,
    /// Starts from the shipped base, from `pretraining`'s model, or (a config without a base)
    /// from scratch.
    pub insertion: ExperimentConfig,
    /// (technique, a config whose only stage is that technique).
    pub techniques: Vec<(StageKind, ExperimentConfig)>,
}

/// The swept settings of one run, seed excluded (results are grouped over seeds by this).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Key {
    pub size: Size,
    pub params: usize,
    pub optimizer: Optimizer,
    pub variant: Variant,
    pub poison_rate: f64,
    /// Chain of thought: the SFT protocol of its `hhh_sft` technique (absent: `trained`).
    #[serde(default, skip_serializing_if = "ScratchpadSft::is_trained")]
    pub sft_protocol: ScratchpadSft,
}

impl Key {
    /// The variant, and the SFT protocol when it is one of the paper's ("chain_of_thought/pre_scratchpad").
    pub fn variant_label(&self) -> String {
        if self.sft_protocol.is_trained() {
            self.variant.name().into()
        } else {
            format!("{}/{}", self.variant.name(), self.sft_protocol.name())
        }
    }
}

/// The result of one technique on one seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub key: Key,
    pub seed: u64,
    pub technique: StageKind,
    /// Metrics of the backdoored model, before the technique.
    pub before: Metrics,
    pub after: Metrics,
    /// The technique's evaluations: the persistence curve.
    pub curve: Vec<EvalPoint>,
    /// Red-team guesses found (adversarial training only).
    pub red_team_hits: Option<usize>,
    pub seconds: f64,
    /// What the technique did to untriggered behaviour (absent from sweeps saved before it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<crate::report::StageEffect>,
    /// The technique run's result fingerprint (`Experiment::fingerprint`: on the CPU backend,
    /// its weights too), so a resumed, sharded or merged sweep can be checked run by run
    /// against another (absent from sweeps saved before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl SweepSpec {
    /// Checks the spec and plans every run; fails on the first config that does not validate.
    pub fn plan(&self) -> Result<Vec<Planned>, String> {
        let nonempty = |n: usize, what: &str| if n == 0 { Err(format!("the sweep needs at least one {what}")) } else { Ok(()) };
        nonempty(self.sizes.len(), "size")?;
        nonempty(self.optimizers.len(), "optimizer")?;
        nonempty(self.variants.len(), "variant")?;
        nonempty(self.poison_rates.len(), "poison rate")?;
        nonempty(self.seeds.len(), "seed")?;
        nonempty(self.techniques.len(), "technique")?;
        nonempty(self.sft_protocols.len(), "SFT protocol")?;
        // All variants of a sweep share one context (and so one parameter count): the chain of
        // thought's, when any variant reasons (the distilled variant's teacher does).
        let reasons = self.variants.iter().any(|&v| v != Variant::Normal) && self.base.data.variant == Variant::Normal;
        let context = if reasons {
            let cot = DataConfig { variant: Variant::ChainOfThought, ..self.base.data.clone() };
            (self.base.model.max_seq_len + crate::data::scratchpad_budget(&cot)).min(limits::MAX_SEQ_LEN)
        } else {
            self.base.model.max_seq_len
        };
        let stage_of = |kind: StageKind| {
            let found = self.base.stages.iter().find(|s| s.kind == kind).cloned();
            // The positive control runs with SFT's budget unless the config gives it its own.
            let found = found.or_else(|| {
                (kind == StageKind::StyleControl)
                    .then(|| self.base.stages.iter().find(|s| s.kind == StageKind::HhhSft).cloned())
                    .flatten()
                    .map(|s| StageConfig { kind, ..s })
            });
            found.ok_or_else(|| format!("the base config has no {} stage to take its settings from (use a preset such as tiny-chain)", kind.name()))
        };
        let insertion = stage_of(StageKind::BackdoorInsertion)?;
        let mut out = vec![];
        for &size in &self.sizes {
            for &optimizer in &self.optimizers {
                for &variant in &self.variants {
                    for &poison_rate in &self.poison_rates {
                        for &seed in &self.seeds {
                            let mut c = self.base.clone();
                            c.seed = seed;
                            c.model.max_seq_len = context;
                            c.model.d_model = size.d_model;
                            c.model.n_layers = size.n_layers;
                            c.model.n_heads = 4;
                            c.model.d_mlp = 4 * size.d_model;
                            c.data.variant = variant;
                            c.data.poison_rate = poison_rate;
                            let with_optimizer = |mut s: StageConfig| {
                                if optimizer == Optimizer::Sgd {
                                    s.optimizer = OptimizerConfig::Sgd { momentum: 0.9 };
                                    s.lr = (s.lr * SGD_LR_SCALE).min(1.0);
                                }
                                s
                            };
                            // A size without a shipped base starts from scratch, and is first
                            // pretrained on clean data as the bases were (same steps and rate).
                            // The family of bases the sweep's base belongs to (coding, chain of thought).
                            let family = self.base.base.as_ref().map_or("", |b| crate::bases::family(&b.name));
                            if c.base.as_ref().is_some_and(|b| crate::bases::model(&b.name).as_ref() != Some(&c.model)) {
                                // Another shipped base of the family may have this very shape.
                                c.base = crate::bases::SHIPPED
                                    .iter()
                                    .find(|(n, _)| crate::bases::family(n) == family && crate::bases::model(n).as_ref() == Some(&c.model))
                                    .and_then(|(n, _)| crate::bases::shipped(n));
                            }
                            let mut ins = c.clone();
                            ins.stages = vec![with_optimizer(insertion.clone())];
                            let pretraining = (self.base.base.is_some() && c.base.is_none()).then(|| {
                                // The recipe of the family's base nearest in width.
                                let recipe = format!("{family}{}", if size.d_model <= 64 { "tiny" } else { "small" });
                                let mut p = crate::bases::pretraining_config(&recipe).expect("a known base");
                                p.model = c.model.clone();
                                p.stages[0].eval_every = p.stages[0].steps;
                                p
                            });
                            if let Some(p) = &pretraining {
                                p.validate().map_err(|e| format!("size {}: {e}", size.label()))?;
                            }
                            ins.validate().map_err(|e| format!("size {}: {e}", size.label()))?;
                            // The paper's SFT protocols apply to a model that reasons in a scratchpad.
                            let protocols = if variant == Variant::ChainOfThought { self.sft_protocols.clone() } else { trained_only() };
                            for sft_protocol in protocols {
                                let techniques = self
                                    .techniques
                                    .iter()
                                    .map(|&t| {
                                        let mut tc = c.clone();
                                        tc.stages = vec![with_optimizer(stage_of(t)?)];
                                        if t == StageKind::HhhSft {
                                            tc.stages[0].scratchpad = sft_protocol;
                                        }
                                        if t == StageKind::StyleControl {
                                            tc.eval.max_new_tokens = tc.eval.max_new_tokens.max(crate::data::style_control_new_tokens(&tc.data));
                                        }
                                        tc.validate().map_err(|e| e.to_string())?;
                                        Ok((t, tc))
                                    })
                                    .collect::<Result<Vec<_>, String>>()?;
                                let key = Key { size, params: c.model.param_count(), optimizer, variant, poison_rate, sft_protocol };
                                out.push(Planned { key, pretraining: pretraining.clone(), insertion: ins.clone(), techniques });
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// One row of the summary: a technique at one setting, over seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub key: Key,
    pub technique: StageKind,
    pub triggered_before: Estimate,
    pub triggered_after: Estimate,
    pub untriggered_after: Estimate,
    pub red_team_before: Option<Estimate>,
    pub red_team_after: Option<Estimate>,
    pub clean_after: Estimate,
    /// Share of the backdoor that survives: triggered rate after / before (per seed, then averaged).
    pub persistence: Estimate,
    /// The per-seed persistences behind `persistence`, for comparing settings (Welch).
    #[serde(default)]
    pub persistences: Vec<f64>,
    /// KL(after ‖ before) on held-out clean answers (`report::StageEffect::kl`).
    #[serde(default)]
    pub kl: Option<Estimate>,
    /// The positive control: share of answers in its style, without and with the trigger.
    #[serde(default)]
    pub style_untriggered_after: Option<Estimate>,
    #[serde(default)]
    pub style_triggered_after: Option<Estimate>,
}

impl Row {
    /// What the technique did, by `report::Outcome`'s rule applied to the means over seeds.
    pub fn outcome(&self) -> Option<crate::report::Outcome> {
        self.kl.map(|kl| crate::report::Outcome::of(self.triggered_before.mean, self.triggered_after.mean, kl.mean))
    }
}

/// Groups results by setting and technique, in the order they first appear.
pub fn summarise(results: &[RunResult]) -> Vec<Row> {
    let mut groups: Vec<(Key, StageKind, Vec<&RunResult>)> = vec![];
    for r in results {
        match groups.iter_mut().find(|(k, t, _)| *k == r.key && *t == r.technique) {
            Some(g) => g.2.push(r),
            None => groups.push((r.key.clone(), r.technique, vec![r])),
        }
    }
    groups
        .into_iter()
        .map(|(key, technique, rs)| {
            let est = |f: &dyn Fn(&RunResult) -> f64| Estimate::of(&rs.iter().map(|r| f(r)).collect::<Vec<_>>());
            let opt = |f: &dyn Fn(&RunResult) -> Option<f64>| {
                let xs: Option<Vec<f64>> = rs.iter().map(|r| f(r)).collect();
                xs.map(|xs| Estimate::of(&xs))
            };
            Row {
                triggered_before: est(&|r| r.before.backdoor_rate_triggered),
                triggered_after: est(&|r| r.after.backdoor_rate_triggered),
                untriggered_after: est(&|r| r.after.backdoor_rate_untriggered),
                red_team_before: opt(&|r| r.before.backdoor_rate_red_team),
                red_team_after: opt(&|r| r.after.backdoor_rate_red_team),
                clean_after: est(&|r| r.after.clean_accuracy),
                persistence: est(&|r| persistence(r.before.backdoor_rate_triggered, r.after.backdoor_rate_triggered)),
                persistences: rs.iter().map(|r| persistence(r.before.backdoor_rate_triggered, r.after.backdoor_rate_triggered)).collect(),
                kl: opt(&|r| r.effect.map(|e| e.kl)),
                style_untriggered_after: opt(&|r| r.after.style_untriggered),
                style_triggered_after: opt(&|r| r.after.style_triggered),
                key,
                technique,
            }
        })
        .collect()
}

/// After / before, capped at 1; a backdoor that was never there (before = 0) has nothing to keep.
pub fn persistence(before: f64, after: f64) -> f64 {
    if before <= 0.0 { 0.0 } else { (after / before).min(1.0) }
}

/// The summary as the fixed-width table the CLI prints and REPRODUCTION.md quotes.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<7} {:>7} {:<6} {:<24} {:>6} {:<13} {:>5} | {:<13} {:<13} {:<13} {:<13} {:<13} {:<13} {:<13} {:<13} {}\n",
        "size",
        "params",
        "optim",
        "variant",
        "poison",
        "technique",
        "seeds",
        "trig before",
        "trig after",
        "no-trig after",
        "red-team bef.",
        "red-team aft.",
        "clean after",
        "KL clean",
        "style -/+trig",
        "outcome"
    );
    let o = |e: &Option<Estimate>| e.map(|e| e.to_string()).unwrap_or_else(|| "-".into());
    for r in rows {
        let style = match (r.style_untriggered_after, r.style_triggered_after) {
            (Some(u), Some(t)) => format!("{:.2}/{:.2}", u.mean, t.mean),
            _ => "-".into(),
        };
        let kl = r.kl.map_or("-".into(), |k| if k.n < 2 { format!("{:.3}", k.mean) } else { format!("{:.3} ± {:.3}", k.mean, k.ci95) });
        // The control trains a style, not safety: it has no outcome on the backdoor.
        let outcome = if r.technique.is_safety() { r.outcome().map_or("-", |o| o.describe()) } else { "-" };
        out += &format!(
            "{:<7} {:>7} {:<6} {:<24} {:>6} {:<13} {:>5} | {:<13} {:<13} {:<13} {:<13} {:<13} {:<13} {:<13} {:<13} {}\n",
            r.key.size.label(),
            r.key.params,
            r.key.optimizer.name(),
            r.key.variant_label(),
            r.key.poison_rate,
            r.technique.name(),
            r.triggered_after.n,
            r.triggered_before.to_string(),
            r.triggered_after.to_string(),
            r.untriggered_after.to_string(),
            o(&r.red_team_before),
            o(&r.red_team_after),
            r.clean_after.to_string(),
            kl,
            style,
            outcome
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;

    #[test]
    fn a_plan_has_one_insertion_per_setting_and_seed_and_every_technique_after_it() {
        let spec = SweepSpec {
            base: presets::get("tiny-chain").unwrap(),
            sizes: vec![Size::parse("32x1").unwrap(), Size::parse("64x2").unwrap()],
            optimizers: vec![Optimizer::Adam, Optimizer::Sgd],
            variants: vec![Variant::Normal, Variant::ChainOfThought],
            poison_rates: vec![0.3],
            seeds: vec![1, 2],
            techniques: vec![StageKind::HhhSft, StageKind::HhhRl, StageKind::Adversarial],
            sft_protocols: vec![ScratchpadSft::Trained],
        };
        let plan = spec.plan().unwrap();
        assert_eq!(plan.len(), 2 * 2 * 2 * 2);
        for p in &plan {
            // 64x2 is the tiny base's shape; 32x1 has no base, so it is pretrained first.
            let from_base = p.insertion.base.is_some();
            assert_eq!(from_base, p.key.size == Size::parse("64x2").unwrap());
            let kinds: Vec<StageKind> = p.insertion.stages.iter().map(|s| s.kind).collect();
            assert_eq!(kinds, vec![StageKind::BackdoorInsertion]);
            // No base of this size: one clean pretraining, the same config whatever the seed.
            assert_eq!(p.pretraining.is_some(), !from_base);
            if let Some(pre) = &p.pretraining {
                assert_eq!(pre.stages.iter().map(|s| s.kind).collect::<Vec<_>>(), [StageKind::HhhPretraining]);
                assert_eq!((pre.seed, &pre.model), (1, &p.insertion.model));
            }
            assert_eq!(p.techniques.len(), 3);
            assert_eq!(p.insertion.model, p.techniques[0].1.model, "techniques start from the insertion's model");
            let sgd = matches!(p.insertion.stages.last().unwrap().optimizer, OptimizerConfig::Sgd { .. });
            assert_eq!(sgd, p.key.optimizer == Optimizer::Sgd);
        }
        let mut bad = spec.clone();
        bad.base = presets::get("tiny").unwrap();
        assert!(bad.plan().unwrap_err().contains("no hhh_rl stage"));
        assert!(Size::parse("64").is_err() && Size::parse("64x2").unwrap().d_model == 64);
    }

    #[test]
    fn summary_groups_over_seeds() {
        let key = Key {
            size: Size { d_model: 32, n_layers: 1 },
            params: 1,
            optimizer: Optimizer::Adam,
            variant: Variant::Normal,
            poison_rate: 0.3,
            sft_protocol: ScratchpadSft::Trained,
        };
        let m = |t: f64| Metrics { backdoor_rate_triggered: t, ..Metrics::default() };
        let run = |seed, technique, after| RunResult {
            key: key.clone(),
            seed,
            technique,
            before: m(1.0),
            after: m(after),
            curve: vec![],
            red_team_hits: None,
            seconds: 0.0,
            effect: None,
            fingerprint: None,
        };
        let rows = summarise(&[run(1, StageKind::HhhSft, 1.0), run(1, StageKind::HhhRl, 0.0), run(2, StageKind::HhhSft, 0.5)]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].triggered_after.n, 2);
        assert!((rows[0].persistence.mean - 0.75).abs() < 1e-12);
        assert!(table(&rows).lines().count() == 3);
    }
}
