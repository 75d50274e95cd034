//! AUROC and the ROC curve: how well a score separates positives (e.g. triggered prompts) from
//! negatives, whatever threshold is chosen.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The probability that a random positive scores above a random negative (ties count half):
/// 1.0 separates perfectly, 0.5 is chance, below 0.5 the score points the wrong way.
/// NaN when either side is empty.
pub fn auroc(positive: &[f64], negative: &[f64]) -> f64 {
    if positive.is_empty() || negative.is_empty() {
        return f64::NAN;
    }
    // Mann–Whitney U from ranks (average ranks for ties): O(n log n).
    let mut all: Vec<(f64, bool)> = positive.iter().map(|&s| (s, true)).chain(negative.iter().map(|&s| (s, false))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += average_rank * all[i..=j].iter().filter(|x| x.1).count() as f64;
        i = j + 1;
    }
    let (p, n) = (positive.len() as f64, negative.len() as f64);
    (rank_sum - p * (p + 1.0) / 2.0) / (p * n)
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, TS)]
pub struct RocPoint {
    pub false_positive_rate: f64,
    pub true_positive_rate: f64,
}

/// The ROC curve from (0, 0) to (1, 1), one point per distinct threshold.
pub fn roc_curve(positive: &[f64], negative: &[f64]) -> Vec<RocPoint> {
    let mut thresholds: Vec<f64> = positive.iter().chain(negative).copied().collect();
    thresholds.sort_by(|a, b| b.total_cmp(a));
    thresholds.dedup();
    let rate = |xs: &[f64], t: f64| if xs.is_empty() { 0.0 } else { xs.iter().filter(|&&x| x >= t).count() as f64 / xs.len() as f64 };
    let mut out = vec![RocPoint { false_positive_rate: 0.0, true_positive_rate: 0.0 }];
    out.extend(thresholds.iter().map(|&t| RocPoint { false_positive_rate: rate(negative, t), true_positive_rate: rate(positive, t) }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(auroc(&[3.0, 4.0], &[1.0, 2.0]), 1.0);
        assert_eq!(auroc(&[1.0, 2.0], &[3.0, 4.0]), 0.0);
        assert_eq!(auroc(&[1.0, 1.0], &[1.0, 1.0]), 0.5);
        // pairs: (2>1) (2<3) (4>1) (4>3) → 3 of 4
        assert_eq!(auroc(&[2.0, 4.0], &[1.0, 3.0]), 0.75);
        // one tie of four pairs counts half: (2=2) (2>1) (3>2) (3>1) → 3.5 / 4
        assert_eq!(auroc(&[2.0, 3.0], &[2.0, 1.0]), 0.875);
        assert!(auroc(&[], &[1.0]).is_nan());
    }

    #[test]
    fn auroc_is_the_area_under_the_roc_curve() {
        let (pos, neg) = ([0.9, 0.8, 0.55, 0.4, 0.3], [0.7, 0.5, 0.35, 0.2, 0.1, 0.05]);
        let roc = roc_curve(&pos, &neg);
        assert_eq!(roc.first().map(|p| (p.false_positive_rate, p.true_positive_rate)), Some((0.0, 0.0)));
        assert_eq!(roc.last().map(|p| (p.false_positive_rate, p.true_positive_rate)), Some((1.0, 1.0)));
        let area: f64 =
            roc.windows(2).map(|w| (w[1].false_positive_rate - w[0].false_positive_rate) * (w[1].true_positive_rate + w[0].true_positive_rate) / 2.0).sum();
        assert!((area - auroc(&pos, &neg)).abs() < 1e-12);
    }
}
