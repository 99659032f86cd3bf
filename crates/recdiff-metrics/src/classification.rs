//! Classification metrics: AUC, UAUC and LogLoss, exact and O(n log n).
//!
//! AUC is the Mann-Whitney statistic: the share of (positive, negative) pairs ranked correctly, a tie
//! counting one half (the average-rank convention). It is computed from integer pair counts over
//! groups of equal scores, so it is exact up to the final division.

use crate::MetricError;

/// Checks that scores are finite and labels are 0/1 and both have length `n`.
fn validate<S: Copy + Into<f64>, L: Copy + Into<f64>>(scores: &[S], labels: &[L]) -> Result<(), MetricError> {
    if scores.len() != labels.len() {
        return Err(MetricError::LengthMismatch { what: "labels", got: labels.len(), expected: scores.len() });
    }
    if scores.is_empty() {
        return Err(MetricError::Empty);
    }
    for (index, &s) in scores.iter().enumerate() {
        let value = s.into();
        if !value.is_finite() {
            return Err(MetricError::NotFinite { what: "score", index, value });
        }
    }
    for (index, &l) in labels.iter().enumerate() {
        let value = l.into();
        if value != 0.0 && value != 1.0 {
            return Err(MetricError::BadLabel { index, value });
        }
    }
    Ok(())
}

/// Pair counts of one group of samples already sorted by score.
#[derive(Debug, Default, Clone, Copy)]
struct PairCounts {
    positives: u64,
    negatives: u64,
    /// Twice the number of correctly ordered pairs (ties count 1, i.e. one half doubled).
    doubled_correct: u128,
}

impl PairCounts {
    fn auc(&self) -> Option<f64> {
        if self.positives == 0 || self.negatives == 0 {
            return None;
        }
        let pairs = self.positives as f64 * self.negatives as f64;
        Some(self.doubled_correct as f64 / (2.0 * pairs))
    }
}

/// Counts pairs over `order`, a slice of sample indices sorted by ascending score.
fn count_pairs(order: &[u32], scores: &[f64], labels: &[bool]) -> PairCounts {
    let mut counts = PairCounts::default();
    let mut i = 0;
    while i < order.len() {
        let score = scores[order[i] as usize];
        let (mut pos, mut neg) = (0u64, 0u64);
        while i < order.len() && scores[order[i] as usize] == score {
            if labels[order[i] as usize] {
                pos += 1;
            } else {
                neg += 1;
            }
            i += 1;
        }
        counts.doubled_correct += 2 * pos as u128 * counts.negatives as u128 + pos as u128 * neg as u128;
        counts.positives += pos;
        counts.negatives += neg;
    }
    counts
}

fn to_f64<T: Copy + Into<f64>>(v: &[T]) -> Vec<f64> {
    v.iter().map(|&x| x.into()).collect()
}

fn to_bool<T: Copy + Into<f64>>(v: &[T]) -> Vec<bool> {
    v.iter().map(|&x| x.into() == 1.0).collect()
}

/// Area under the ROC curve; ties between a positive and a negative count one half.
pub fn auc<S: Copy + Into<f64>, L: Copy + Into<f64>>(scores: &[S], labels: &[L]) -> Result<f64, MetricError> {
    validate(scores, labels)?;
    let scores = to_f64(scores);
    let labels = to_bool(labels);
    let mut order: Vec<u32> = (0..scores.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| scores[a as usize].total_cmp(&scores[b as usize]));
    let counts = count_pairs(&order, &scores, &labels);
    counts
        .auc()
        .ok_or(MetricError::SingleClass { positives: counts.positives as usize, negatives: counts.negatives as usize })
}

/// Per-user AUC averaged with weights equal to each user's sample count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Uauc {
    pub value: f64,
    /// Users with both classes, whose AUC entered the average.
    pub users_used: usize,
    /// Users with a single class, skipped.
    pub users_skipped: usize,
    /// Samples belonging to the users used (the weights' sum).
    pub samples_used: usize,
}

/// UAUC: the AUC of each user having both classes, weighted by that user's number of samples.
pub fn uauc<S: Copy + Into<f64>, L: Copy + Into<f64>>(
    scores: &[S],
    labels: &[L],
    users: &[u32],
) -> Result<Uauc, MetricError> {
    validate(scores, labels)?;
    if users.len() != scores.len() {
        return Err(MetricError::LengthMismatch { what: "users", got: users.len(), expected: scores.len() });
    }
    let scores = to_f64(scores);
    let labels = to_bool(labels);
    let mut order: Vec<u32> = (0..scores.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        users[a].cmp(&users[b]).then(scores[a].total_cmp(&scores[b]))
    });
    let (mut weighted, mut samples_used, mut users_used, mut users_skipped) = (0.0, 0usize, 0, 0);
    for group in order.chunk_by(|&a, &b| users[a as usize] == users[b as usize]) {
        match count_pairs(group, &scores, &labels).auc() {
            Some(a) => {
                weighted += a * group.len() as f64;
                samples_used += group.len();
                users_used += 1;
            }
            None => users_skipped += 1,
        }
    }
    if users_used == 0 {
        return Err(MetricError::NoUsableUser { users: users_skipped });
    }
    Ok(Uauc { value: weighted / samples_used as f64, users_used, users_skipped, samples_used })
}

/// Probabilities are clipped to `[EPS, 1 - EPS]` before the logarithm.
pub const LOGLOSS_EPS: f64 = 1e-7;

/// Mean binary cross-entropy of probabilities `probs` against 0/1 `labels`.
pub fn logloss<S: Copy + Into<f64>, L: Copy + Into<f64>>(probs: &[S], labels: &[L]) -> Result<f64, MetricError> {
    validate(probs, labels)?;
    let mut total = 0.0;
    for (&p, &y) in probs.iter().zip(labels) {
        let p = p.into().clamp(LOGLOSS_EPS, 1.0 - LOGLOSS_EPS);
        total -= if y.into() == 1.0 { p.ln() } else { (1.0 - p).ln() };
    }
    Ok(total / probs.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// O(n^2) reference: every (positive, negative) pair, ties counting one half.
    fn naive_auc(scores: &[f64], labels: &[f64]) -> Option<f64> {
        let (mut correct, mut pairs) = (0.0, 0.0);
        for (i, &si) in scores.iter().enumerate() {
            for (j, &sj) in scores.iter().enumerate() {
                if labels[i] == 1.0 && labels[j] == 0.0 {
                    pairs += 1.0;
                    if si > sj {
                        correct += 1.0;
                    } else if si == sj {
                        correct += 0.5;
                    }
                }
            }
        }
        (pairs > 0.0).then(|| correct / pairs)
    }

    /// Scores drawn from a handful of values so that ties are frequent.
    fn tied_samples() -> impl Strategy<Value = Vec<(f64, f64, u32)>> {
        prop::collection::vec(
            ((0u8..6).prop_map(|v| v as f64 * 0.25), prop::bool::ANY, 0u32..8)
                .prop_map(|(s, l, u)| (s, l as u8 as f64, u)),
            1..120,
        )
    }

    proptest! {
        #[test]
        fn auc_matches_naive_pairwise_count_with_ties(samples in tied_samples()) {
            let scores: Vec<f64> = samples.iter().map(|s| s.0).collect();
            let labels: Vec<f64> = samples.iter().map(|s| s.1).collect();
            match naive_auc(&scores, &labels) {
                Some(expected) => prop_assert!((auc(&scores, &labels).unwrap() - expected).abs() < 1e-9),
                None => {
                    let single_class = matches!(auc(&scores, &labels), Err(MetricError::SingleClass { .. }));
                    prop_assert!(single_class);
                }
            }
        }

        #[test]
        fn auc_matches_naive_on_continuous_scores(samples in prop::collection::vec((-1e3f64..1e3, prop::bool::ANY), 2..200)) {
            let scores: Vec<f64> = samples.iter().map(|s| s.0).collect();
            let labels: Vec<f64> = samples.iter().map(|s| s.1 as u8 as f64).collect();
            if let Some(expected) = naive_auc(&scores, &labels) {
                prop_assert!((auc(&scores, &labels).unwrap() - expected).abs() < 1e-9);
            }
        }

        #[test]
        fn uauc_matches_naive_weighted_per_user_auc(samples in tied_samples()) {
            let (mut weighted, mut weight, mut used) = (0.0, 0.0, 0usize);
            for user in 0u32..8 {
                let s: Vec<f64> = samples.iter().filter(|x| x.2 == user).map(|x| x.0).collect();
                let l: Vec<f64> = samples.iter().filter(|x| x.2 == user).map(|x| x.1).collect();
                if let Some(a) = naive_auc(&s, &l) {
                    weighted += a * s.len() as f64;
                    weight += s.len() as f64;
                    used += 1;
                }
            }
            let scores: Vec<f64> = samples.iter().map(|s| s.0).collect();
            let labels: Vec<f64> = samples.iter().map(|s| s.1).collect();
            let users: Vec<u32> = samples.iter().map(|s| s.2).collect();
            match uauc(&scores, &labels, &users) {
                Ok(u) => {
                    prop_assert!((u.value - weighted / weight).abs() < 1e-9);
                    prop_assert_eq!(u.users_used, used);
                }
                Err(e) => prop_assert!(used == 0, "unexpected error {e}"),
            }
        }

        #[test]
        fn logloss_matches_definition(samples in prop::collection::vec((0.0f64..=1.0, prop::bool::ANY), 1..100)) {
            let p: Vec<f64> = samples.iter().map(|s| s.0).collect();
            let y: Vec<f64> = samples.iter().map(|s| s.1 as u8 as f64).collect();
            let expected: f64 = p.iter().zip(&y).map(|(&p, &y)| {
                let p = p.clamp(LOGLOSS_EPS, 1.0 - LOGLOSS_EPS);
                -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
            }).sum::<f64>() / p.len() as f64;
            prop_assert!((logloss(&p, &y).unwrap() - expected).abs() < 1e-9);
        }
    }

    #[test]
    fn auc_of_perfect_reversed_and_all_tied_rankings() {
        let labels = [0.0f32, 0.0, 1.0, 1.0];
        assert_eq!(auc(&[0.1f32, 0.2, 0.3, 0.4], &labels).unwrap(), 1.0);
        assert_eq!(auc(&[0.4f32, 0.3, 0.2, 0.1], &labels).unwrap(), 0.0);
        assert_eq!(auc(&[0.5f32; 4], &labels).unwrap(), 0.5);
    }

    #[test]
    fn auc_rejects_nan_scores_bad_labels_and_one_class() {
        assert!(matches!(auc(&[0.1f64, f64::NAN], &[0.0f64, 1.0]), Err(MetricError::NotFinite { index: 1, .. })));
        assert!(matches!(auc(&[0.1f64, 0.2], &[0.0f64, 2.0]), Err(MetricError::BadLabel { index: 1, .. })));
        assert!(matches!(auc(&[0.1f64, 0.2], &[1.0f64, 1.0]), Err(MetricError::SingleClass { positives: 2, .. })));
        assert!(matches!(auc(&[0.1f64], &[1.0f64, 0.0]), Err(MetricError::LengthMismatch { .. })));
    }

    #[test]
    fn uauc_skips_single_class_users_and_reports_counts() {
        // user 0: perfect (2 samples), user 1: reversed (4 samples), user 2: one class only.
        let scores = [0.1f64, 0.9, 0.9, 0.8, 0.2, 0.1, 0.5];
        let labels = [0.0f64, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let users = [0, 0, 1, 1, 1, 1, 2];
        let u = uauc(&scores, &labels, &users).unwrap();
        assert!((u.value - (1.0 * 2.0 + 0.0 * 4.0) / 6.0).abs() < 1e-12);
        assert_eq!((u.users_used, u.users_skipped, u.samples_used), (2, 1, 6));
    }
}
