//! The top-K collaborative-filtering family on the experiment layer: configs with `[model] kind =
//! "multivae" | "cdae" | "diffrec" | "ldiffrec" | "tdiffrec"`, trained by this crate's loop on the per-user
//! split, reporting Recall/NDCG/HR/MRR/Precision/coverage at each cut-off.

use recdiff_experiment::data_parallel::Ranks;
use recdiff_experiment::{BoxError, EpochFamily, MetricSpec, RunRecord};
use recdiff_run::topk_config::{TopKExperimentConfig, metric_names};

/// The family's name in `results.json`.
pub const FAMILY: &str = "topk";

/// Table columns, in order, where the config's cut-offs include them.
const COLUMNS: [&str; 7] = ["recall@10", "recall@20", "ndcg@10", "ndcg@20", "hr@10", "precision@10", "coverage@10"];

/// The top-K family.
pub struct TopK;

impl EpochFamily for TopK {
    type Config = TopKExperimentConfig;
    const NAME: &'static str = FAMILY;
    const COLUMNS: &'static [&'static str] = &COLUMNS;

    fn kinds() -> &'static [&'static str] {
        &recdiff_model::topk::KINDS
    }

    /// Every name evaluation reports.
    fn metrics(cfg: &TopKExperimentConfig) -> Vec<MetricSpec> {
        metric_names(&cfg.train.ks).into_iter().map(MetricSpec::higher).collect()
    }

    fn train(cfg: &TopKExperimentConfig, ranks: Ranks, resume: bool) -> Result<RunRecord, BoxError> {
        Ok(crate::run_in(cfg, ranks, resume)?)
    }
}
