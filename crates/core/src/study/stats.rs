//! The statistics of a sweep: means with 95% intervals over seeds (Student's t) and the
//! difference of two means (Welch). The t quantile is computed exactly (the regularised
//! incomplete beta function), not looked up, because Welch's degrees of freedom are fractional;
//! the tests hold it to the printed table at every whole degree of freedom up to 30.

use serde::{Deserialize, Serialize};

/// Mean and half-width of the 95% confidence interval (Student's t over seeds; 0 for one seed).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub mean: f64,
    pub ci95: f64,
    pub n: usize,
}

impl Estimate {
    pub fn of(xs: &[f64]) -> Self {
        let n = xs.len();
        let mean = xs.iter().sum::<f64>() / n.max(1) as f64;
        if n < 2 {
            return Estimate { mean, ci95: 0.0, n };
        }
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        Estimate { mean, ci95: t_95((n - 1) as f64) * (var / n as f64).sqrt(), n }
    }
}

impl std::fmt::Display for Estimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.n < 2 {
            write!(f, "{:.2}", self.mean)
        } else {
            write!(f, "{:.2} ± {:.2}", self.mean, self.ci95)
        }
    }
}

/// Two-sided 95% quantile of Student's t with `dof` degrees of freedom (exact, to 1e-9).
pub fn t_95(dof: f64) -> f64 {
    t_quantile(0.975, dof)
}

/// The `p` quantile (0.5 < p < 1) of Student's t with `dof` > 0 degrees of freedom, by
/// bisection on the distribution function.
pub fn t_quantile(p: f64, dof: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while t_cdf(hi, dof) < p {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, dof) < p { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

/// P(T ≤ t) for Student's t: 1 − I_x(ν/2, 1/2)/2 with x = ν/(ν + t²), for t ≥ 0.
fn t_cdf(t: f64, dof: f64) -> f64 {
    let tail = 0.5 * incomplete_beta(dof / 2.0, 0.5, dof / (dof + t * t));
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// The regularised incomplete beta function I_x(a, b), by its continued fraction (Lentz).
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - incomplete_beta(b, a, 1.0 - x);
    }
    let tiny = 1e-300;
    let (mut c, mut d) = (1.0, 1.0 - (a + b) * x / (a + 1.0));
    d = 1.0 / if d.abs() < tiny { tiny } else { d };
    let mut f = d;
    for m in 1..500 {
        let m = m as f64;
        for numerator in [m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m)), -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))] {
            d = 1.0 + numerator * d;
            d = 1.0 / if d.abs() < tiny { tiny } else { d };
            c = 1.0 + numerator / c;
            c = if c.abs() < tiny { tiny } else { c };
            f *= c * d;
        }
        if (c * d - 1.0).abs() < 1e-15 {
            break;
        }
    }
    front * f / a
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = G[0] + G[1..].iter().enumerate().map(|(i, g)| g / (x + i as f64 + 1.0)).sum::<f64>();
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The difference of two means (b − a) with its 95% interval (Welch: unequal variances, the
/// Welch–Satterthwaite degrees of freedom). None with fewer than two samples on a side.
pub fn welch_difference(a: &[f64], b: &[f64]) -> Option<(f64, f64)> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let stats = |xs: &[f64]| {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        (mean, xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) / n)
    };
    let ((ma, va), (mb, vb)) = (stats(a), stats(b));
    let se2 = va + vb;
    if se2 == 0.0 {
        return Some((mb - ma, 0.0));
    }
    let dof = se2 * se2 / (va * va / (a.len() as f64 - 1.0) + vb * vb / (b.len() as f64 - 1.0));
    Some((mb - ma, t_95(dof) * se2.sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_are_exact() {
        // Tabulated two-sided 95% quantiles to six places (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
        for (dof, t) in [
            (1.0, 12.706_205),
            (2.0, 4.302_653),
            (4.0, 2.776_445),
            (9.0, 2.262_157),
            (15.0, 2.131_450),
            (30.0, 2.042_272),
            (100.0, 1.983_972),
            (1e6, 1.959_966),
        ] {
            assert!((t_95(dof) - t).abs() < 1e-5, "dof {dof}: {} vs {t}", t_95(dof));
        }
        assert!((t_quantile(0.95, 10.0) - 1.812_461).abs() < 1e-5);
        // Welch: equal spreads and sizes give the pooled interval.
        let (d, half) = welch_difference(&[0.0, 1.0, 2.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((d - 1.0).abs() < 1e-12 && (half - t_95(4.0) * (2.0f64 / 3.0).sqrt()).abs() < 1e-9, "{d} {half}");
        assert!(welch_difference(&[1.0], &[1.0, 2.0]).is_none());
    }

    #[test]
    fn estimates_use_students_t() {
        let e = Estimate::of(&[1.0, 0.0, 0.5]);
        assert!((e.mean - 0.5).abs() < 1e-12);
        // sd 0.5, n 3: 4.303 * 0.5 / sqrt(3)
        assert!((e.ci95 - 4.302_653 * 0.5 / 3f64.sqrt()).abs() < 1e-5, "{e:?}");
        assert_eq!(Estimate::of(&[0.7]).ci95, 0.0);
        assert_eq!(Estimate::of(&[0.25, 0.25]).to_string(), "0.25 ± 0.00");
    }

    #[test]
    fn t_quantiles_match_the_printed_table_at_every_degree_of_freedom() {
        // The two-sided 95% column of the usual t table (three decimals), dof 1–30, 40, 60, 120.
        let table = [
            12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
            2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
        ];
        for (i, t) in table.iter().enumerate() {
            let dof = (i + 1) as f64;
            assert!((t_95(dof) - t).abs() < 5e-4, "dof {dof}: {} vs {t}", t_95(dof));
        }
        for (dof, t) in [(40.0, 2.021), (60.0, 2.000), (120.0, 1.980)] {
            assert!((t_95(dof) - t).abs() < 5e-4, "dof {dof}: {} vs {t}", t_95(dof));
        }
        // One-sided 95% (the table's 0.95 column) at a few, and monotone between whole dofs (Welch's are fractional).
        for (dof, t) in [(1.0, 6.314), (5.0, 2.015), (10.0, 1.812), (30.0, 1.697)] {
            assert!((t_quantile(0.95, dof) - t).abs() < 5e-4, "dof {dof}: {} vs {t}", t_quantile(0.95, dof));
        }
        assert!(t_95(4.0) > t_95(4.5) && t_95(4.5) > t_95(5.0));
    }
}
