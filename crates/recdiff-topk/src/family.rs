//! The top-K collaborative-filtering family on the experiment layer: configs with `[model] kind =
//! "multivae" | "cdae" | "diffrec" | "ldiffrec" | "tdiffrec"`, trained by this crate's loop on the per-user
//! split, reporting Recall/NDCG/HR/MRR/Precision/coverage at each cut-off.

use recdiff_experiment::family::columns_of;
use recdiff_experiment::{BoxError, FamilyKind, Header, MetricSpec, RunPlan, RunRecord};
use recdiff_run::topk_config::{TopKExperimentConfig, metric_names};
use std::path::Path;

/// The family's name in `results.json`.
pub const FAMILY: &str = "topk";

/// Table columns, in order, where the config's cut-offs include them.
const COLUMNS: [&str; 7] = ["recall@10", "recall@20", "ndcg@10", "ndcg@20", "hr@10", "precision@10", "coverage@10"];

/// The top-K family.
pub struct TopK;

impl FamilyKind for TopK {
    type Config = TopKExperimentConfig;
    const NAME: &'static str = FAMILY;

    fn kinds() -> &'static [&'static str] {
        &recdiff_model::topk::KINDS
    }

    fn check(cfg: toml::Table, dir: &Path, origin: &Path) -> Result<TopKExperimentConfig, BoxError> {
        Ok(TopKExperimentConfig::from_table(cfg, dir, origin)?)
    }

    fn header(cfg: &TopKExperimentConfig) -> Header<'_> {
        Header { name: &cfg.name, seed: cfg.seed, output: cfg.output_dir() }
    }

    fn model(cfg: &TopKExperimentConfig) -> String {
        cfg.model.name().into()
    }

    /// The registry the config's `train.metric` is checked against: every name evaluation reports.
    fn metrics(cfg: &TopKExperimentConfig) -> Vec<MetricSpec> {
        metric_names(&cfg.train.ks).into_iter().map(MetricSpec::higher).collect()
    }

    fn columns(cfg: &TopKExperimentConfig) -> Vec<String> {
        columns_of(&COLUMNS, &Self::metrics(cfg))
    }

    fn stopping_metric(cfg: &TopKExperimentConfig) -> String {
        cfg.train.metric.clone()
    }

    fn place(cfg: &mut TopKExperimentConfig, plan: &RunPlan<'_>) {
        (cfg.seed, cfg.output) = (plan.seed, Some(plan.out.to_path_buf()));
    }

    fn train(cfg: &TopKExperimentConfig, plan: &RunPlan<'_>) -> Result<RunRecord, BoxError> {
        let ranks = recdiff_experiment::data_parallel::Ranks::new(plan.world(), cfg.seed);
        Ok(crate::run_in(cfg, ranks, plan.resume)?)
    }
}
