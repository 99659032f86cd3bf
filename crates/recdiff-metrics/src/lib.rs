//! Exact metrics for recommendation experiments.
//!
//! * [`classification`]: AUC (Mann-Whitney with average ranks for ties), LogLoss, UAUC (per-user AUC
//!   weighted by the user's sample count), all sort-based and O(n log n).
//! * [`relaimpr`]: relative improvement as AsymDiffRec defines it (`metric/base - 1`) and the DIN variant.
//! * [`ranking`]: HR@K, NDCG@K, Recall@K and MRR for retrieval.
//! * [`diversity`]: intra-list distance over item attributes and catalogue coverage of top-K lists.
//! * [`names`]: one name per metric, with the former names read as aliases.
//! * [`stats`]: mean and 95% confidence interval (Student t) for multi-seed tables.
//!
//! Every metric returns a typed [`MetricError`] on input it cannot score (length mismatch, NaN, a
//! single class) instead of a silently wrong number.

pub mod classification;
pub mod diversity;
pub mod names;
pub mod ranking;
pub mod relaimpr;
pub mod stats;

pub use classification::{Uauc, auc, logloss, uauc};
pub use ranking::{RankingSummary, hit_rate_at, mrr, ndcg_at, recall_at};
pub use relaimpr::{rela_impr, rela_impr_din};
pub use stats::{MeanCi, PairedTest, mean_ci95, minimum_detectable_effect, paired_t_test, t_quantile};

/// Why a metric could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    #[error("length mismatch: {what} has {got} entries, expected {expected}")]
    LengthMismatch { what: &'static str, got: usize, expected: usize },
    #[error("{what} at index {index} is not finite ({value})")]
    NotFinite { what: &'static str, index: usize, value: f64 },
    #[error("label at index {index} is {value}; labels must be 0 or 1")]
    BadLabel { index: usize, value: f64 },
    #[error("AUC needs both classes; got {positives} positives and {negatives} negatives")]
    SingleClass { positives: usize, negatives: usize },
    #[error("no user has both classes, so UAUC is undefined ({users} users seen)")]
    NoUsableUser { users: usize },
    #[error("empty input")]
    Empty,
    #[error("base value {base} makes the relative improvement undefined")]
    BadBase { base: f64 },
}
