//! The sequential-retrieval family on the experiment layer: configs with `[model] kind = "sasrec"
//! | "dreamrec" | "dimerec" | "preferdiff"`, trained by this crate's loop on leave-one-out
//! histories, reporting HR/NDCG/Recall/coverage/ILD at each cut-off and MRR.

use crate::SeqExperimentConfig;
use crate::eval::registry;
use recdiff_experiment::{BoxError, Experiment, Family, MetricSpec, RunPlan, RunRecord};
use std::path::Path;

/// The family's name in `results.json`.
pub const FAMILY: &str = "seq";

/// Table columns, in order, where the config's cut-offs include them.
const COLUMNS: [&str; 9] =
    ["hr@10", "hr@50", "ndcg@10", "ndcg@50", "recall@20", "mrr", "coverage@10", "coverage@50", "ild@10"];

/// The sequential family.
pub struct Seq;

impl Family for Seq {
    fn name(&self) -> &'static str {
        FAMILY
    }

    fn kinds(&self) -> &'static [&'static str] {
        &recdiff_model::seq::KINDS
    }

    fn load(&self, cfg: toml::Table, dir: &Path, origin: &Path) -> Result<Box<dyn Experiment>, BoxError> {
        Ok(Box::new(SeqExperiment(SeqExperimentConfig::from_table(cfg, dir, origin)?)))
    }
}

/// A checked sequential experiment config.
pub struct SeqExperiment(pub SeqExperimentConfig);

impl Experiment for SeqExperiment {
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
        registry(&self.0.train.ks)
    }

    fn columns(&self) -> Vec<String> {
        let known = self.metrics();
        COLUMNS.iter().filter(|c| known.iter().any(|m| m.name == **c)).map(|c| c.to_string()).collect()
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
