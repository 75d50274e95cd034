//! The size trend: persistence regressed on log10(parameters), with its interval and a
//! leave-one-size-out check, over the sizes whose models can do the task.
//!
//! The unit of replication is the helpful base: the insertion seeds of one size start from the
//! same base, so they are averaged into one point per size (per base) before the fit, and the
//! interval is Student's t on the residuals of those points. A trend that one size makes (the
//! smallest, often the only incapable one) shows up in the leave-one-out slopes.

use super::stats::t_95;
use super::{Row, Size};

/// Held-out clean accuracy below which a size is too weak for its persistence to mean anything:
/// a model that cannot do the task has little untriggered behaviour for safety training to
/// protect or change. Read off the size's bases (as a shipped base is held to it) where the
/// sweep recorded them, else off the backdoored model the technique starts from.
pub const CAPABLE: f64 = 0.8;

/// Ordinary least squares of y on x, with the slope's 95% interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    pub slope: f64,
    pub intercept: f64,
    /// Half-width of the slope's 95% interval (infinite with two points).
    pub ci95: f64,
    pub n: usize,
    /// For the band of the fitted line: residual standard deviation, mean of x, Σ(x - x̄)².
    pub s: f64,
    pub x_mean: f64,
    pub sxx: f64,
}

impl Fit {
    /// None with fewer than two distinct x.
    pub fn of(points: &[(f64, f64)]) -> Option<Fit> {
        let n = points.len();
        if n < 2 {
            return None;
        }
        let x_mean = points.iter().map(|p| p.0).sum::<f64>() / n as f64;
        let y_mean = points.iter().map(|p| p.1).sum::<f64>() / n as f64;
        let sxx: f64 = points.iter().map(|p| (p.0 - x_mean).powi(2)).sum();
        if sxx <= 0.0 {
            return None;
        }
        let slope = points.iter().map(|p| (p.0 - x_mean) * (p.1 - y_mean)).sum::<f64>() / sxx;
        let intercept = y_mean - slope * x_mean;
        let dof = n as f64 - 2.0;
        let (s, ci95) = if dof > 0.0 {
            let rss: f64 = points.iter().map(|p| (p.1 - intercept - slope * p.0).powi(2)).sum();
            let s = (rss / dof).sqrt();
            (s, t_95(dof) * s / sxx.sqrt())
        } else {
            (f64::INFINITY, f64::INFINITY)
        };
        Some(Fit { slope, intercept, ci95, n, s, x_mean, sxx })
    }

    /// The fitted line at `x` and the half-width of its 95% confidence band there.
    pub fn at(&self, x: f64) -> (f64, f64) {
        let y = self.intercept + self.slope * x;
        if self.n <= 2 {
            return (y, f64::INFINITY);
        }
        (y, t_95(self.n as f64 - 2.0) * self.s * (1.0 / self.n as f64 + (x - self.x_mean).powi(2) / self.sxx).sqrt())
    }
}

/// One size's point in the trend, or why it is left out.
#[derive(Clone, Debug, PartialEq)]
pub struct SizePoint {
    pub size: Size,
    pub params: usize,
    /// Mean persistence over the seeds (one base per size, so one point).
    pub persistence: f64,
    /// Mean held-out clean accuracy of the models the technique started from.
    pub capability: f64,
    /// Why the size is not in the fit (None: it is).
    pub excluded: Option<String>,
}

/// The trend of one technique over sizes.
#[derive(Clone, Debug, PartialEq)]
pub struct Trend {
    pub points: Vec<SizePoint>,
    /// Persistence on log10(parameters), over the included sizes.
    pub fit: Option<Fit>,
    /// The fit without each included size in turn: (the size left out, the fit of the rest).
    pub leave_one_out: Vec<(Size, Option<Fit>)>,
}

impl Trend {
    /// `rows`: one row per size of one technique (same optimizer, variant, poison rate and
    /// budget). `excluded(row)` says why a row cannot count beyond capability (a technique too
    /// weak to say, a backdoor not planted), or None.
    pub fn of(rows: &[&Row], excluded: impl Fn(&Row) -> Option<String>) -> Trend {
        let mut rows: Vec<&Row> = rows.to_vec();
        rows.sort_by_key(|r| r.key.params);
        let points: Vec<SizePoint> = rows
            .iter()
            .map(|r| {
                let (capability, whose) = match (r.base_clean, r.clean_before) {
                    (Some(b), _) => (b.mean, "its base's"),
                    (None, Some(c)) => (c.mean, "the backdoored model's"),
                    (None, None) => (r.clean_after.mean, "the model's after the technique"),
                };
                let why = if capability < CAPABLE {
                    Some(format!("incapable: {whose} held-out clean accuracy {capability:.2} < {CAPABLE}"))
                } else {
                    excluded(r)
                };
                SizePoint { size: r.key.size, params: r.key.params, persistence: r.persistence.mean, capability, excluded: why }
            })
            .collect();
        let xy = |skip: Option<usize>| -> Vec<(f64, f64)> {
            points
                .iter()
                .enumerate()
                .filter(|(i, p)| p.excluded.is_none() && Some(*i) != skip)
                .map(|(_, p)| ((p.params as f64).log10(), p.persistence))
                .collect()
        };
        let fit = Fit::of(&xy(None));
        let leave_one_out = points.iter().enumerate().filter(|(_, p)| p.excluded.is_none()).map(|(i, p)| (p.size, Fit::of(&xy(Some(i))))).collect();
        Trend { points, fit, leave_one_out }
    }

    /// The included sizes' span of parameters (largest / smallest), 1 with fewer than two.
    pub fn span(&self) -> f64 {
        let included: Vec<f64> = self.points.iter().filter(|p| p.excluded.is_none()).map(|p| p.params as f64).collect();
        let (lo, hi) = included.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &p| (lo.min(p), hi.max(p)));
        if included.len() < 2 { 1.0 } else { hi / lo }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StageKind;
    use crate::study::{Estimate, Key};

    fn row(d_model: usize, params: usize, persistence: f64, clean: f64) -> Row {
        let e = |x: f64| Estimate::of(&[x, x]);
        Row { clean_before: Some(e(clean)), clean_after: e(clean), ..Row::example(Key::example(d_model, 1, params), StageKind::HhhSft, e(persistence)) }
    }

    /// A size is held to its bases' held-out accuracy where the sweep recorded it, as a shipped
    /// base is; otherwise to the backdoored model's.
    #[test]
    fn capability_is_the_bases_where_recorded() {
        let mut weak_base = row(64, 100_000, 0.6, 0.95);
        weak_base.base_clean = Some(Estimate::of(&[0.5, 0.6]));
        let mut capable_base = row(96, 300_000, 0.6, 0.7);
        capable_base.base_clean = Some(Estimate::of(&[0.9, 0.85]));
        let t = Trend::of(&[&weak_base, &capable_base], |_| None);
        assert_eq!(t.points[0].excluded.as_deref(), Some("incapable: its base's held-out clean accuracy 0.55 < 0.8"));
        assert_eq!(t.points[1].excluded, None, "{:?}", t.points[1]);
        let old = row(24, 20_000, 0.1, 0.3);
        assert!(Trend::of(&[&old], |_| None).points[0].excluded.as_deref().unwrap().contains("the backdoored model's"));
    }

    #[test]
    fn least_squares_matches_a_hand_computed_fit() {
        // y = 1 + 2x exactly: slope 2, no residual.
        let f = Fit::of(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]).unwrap();
        assert!((f.slope - 2.0).abs() < 1e-12 && (f.intercept - 1.0).abs() < 1e-12 && f.ci95.abs() < 1e-9);
        // (0,0), (1,1), (2,1), (3,2): slope 0.6, residuals -> s² = 0.2/2 ... by hand:
        // x̄ 1.5, ȳ 1, Sxx 5, Sxy 3; slope 0.6, intercept 0.1; rss 0.2, s = 0.316; t(2) 4.303.
        let f = Fit::of(&[(0.0, 0.0), (1.0, 1.0), (2.0, 1.0), (3.0, 2.0)]).unwrap();
        assert!((f.slope - 0.6).abs() < 1e-12, "{f:?}");
        assert!((f.ci95 - 4.302_652_7 * (0.1f64).sqrt() / 5f64.sqrt()).abs() < 1e-6, "{f:?}");
        assert!(Fit::of(&[(1.0, 0.0), (1.0, 1.0)]).is_none(), "one x gives no slope");
        assert!(Fit::of(&[(0.0, 0.0), (1.0, 1.0)]).unwrap().ci95.is_infinite(), "two points give no interval");
    }

    #[test]
    fn an_incapable_size_is_left_out_of_the_trend_it_would_make() {
        // The smallest size is incapable and keeps little; the others keep the same.
        let rows = [row(24, 20_000, 0.1, 0.3), row(64, 100_000, 0.6, 0.95), row(96, 300_000, 0.6, 0.97), row(128, 860_000, 0.6, 1.0)];
        let refs: Vec<&Row> = rows.iter().collect();
        let t = Trend::of(&refs, |_| None);
        assert!(t.points[0].excluded.as_deref().unwrap().starts_with("incapable"));
        let fit = t.fit.unwrap();
        assert_eq!(fit.n, 3);
        assert!(fit.slope.abs() < 1e-9, "without the weak size there is no trend: {fit:?}");
        assert_eq!(t.leave_one_out.len(), 3);
        assert!((t.span() - 8.6).abs() < 1e-9);
        // With it, the same data would have made a trend.
        let all = Fit::of(&rows.iter().map(|r| ((r.key.params as f64).log10(), r.persistence.mean)).collect::<Vec<_>>()).unwrap();
        assert!(all.slope > 0.2, "{all:?}");
        // Other reasons exclude too.
        let t = Trend::of(&refs, |r| (r.key.size.d_model == 64).then(|| "too weak to say".into()));
        assert_eq!(t.fit.unwrap().n, 2);
    }
}
