//! The top-K collaborative-filtering family on the experiment layer: configs with `[model] kind =
//! "multivae" | "cdae" | "diffrec" | "ldiffrec" | "tdiffrec"`, trained by this crate's loop on the per-user
//! split, reporting Recall/NDCG/HR/MRR/Precision/coverage at each cut-off.

use recdiff_experiment::{BoxError, Experiment, Family, MetricSpec, RunPlan, RunRecord};
use recdiff_run::topk_config::{TopKExperimentConfig, metric_names};
use std::path::Path;

/// The family's name in `results.json`.
pub const FAMILY: &str = "topk";

/// Table columns, in order, where the config's cut-offs include them.
const COLUMNS: [&str; 7] = ["recall@10", "recall@20", "ndcg@10", "ndcg@20", "hr@10", "precision@10", "coverage@10"];

pub struct TopK;

impl Family for TopK {
    fn name(&self) -> &'static str {
        FAMILY
    }

    fn kinds(&self) -> &'static [&'static str] {
        &recdiff_model::topk::KINDS
    }

    fn load(&self, cfg: toml::Table, dir: &Path, origin: &Path) -> Result<Box<dyn Experiment>, BoxError> {
        Ok(Box::new(TopKExperiment(TopKExperimentConfig::from_table(cfg, dir, origin)?)))
    }
}

pub struct TopKExperiment(pub TopKExperimentConfig);

impl Experiment for TopKExperiment {
    fn family(&self) -> &'static str {
        FAMILY
    }

    fn name(&self) -> &str {
        &self.0.name
    }

    fn model(&self) -> String {
        self.0.model.name().into()
    }

    fn resolved(&self) -> Result<toml::Table, BoxError> {
        Ok(toml::Table::try_from(&self.0)?)
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        metric_names(&self.0.train.ks).into_iter().map(MetricSpec::higher).collect()
    }

    fn columns(&self) -> Vec<String> {
        let known = metric_names(&self.0.train.ks);
        COLUMNS.iter().filter(|c| known.iter().any(|m| m == *c)).map(|c| c.to_string()).collect()
    }

    fn stopping_metric(&self) -> String {
        self.0.train.metric.clone()
    }

    fn seed(&self) -> u64 {
        self.0.seed
    }

    fn output_dir(&self) -> std::path::PathBuf {
        self.0.output_dir()
    }

    fn run(&self, plan: &RunPlan<'_>) -> Result<RunRecord, BoxError> {
        let mut cfg = self.0.clone();
        cfg.seed = plan.seed;
        cfg.output = Some(plan.out.to_path_buf());
        let ranks = recdiff_experiment::data_parallel::Ranks::new(plan.world(), cfg.seed);
        Ok(crate::run_in(&cfg, ranks, plan.resume)?)
    }
}
