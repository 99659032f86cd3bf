//! The sequential-retrieval family on the experiment layer: configs with `[model] kind = "sasrec"
//! | "dreamrec" | "dimerec" | "preferdiff"`, trained by this crate's loop on leave-one-out
//! histories, reporting HR/NDCG/Recall/coverage/ILD at each cut-off and MRR.

use crate::SeqExperimentConfig;
use crate::eval::registry;
use recdiff_experiment::family::columns_of;
use recdiff_experiment::{BoxError, FamilyKind, Header, MetricSpec, RunPlan, RunRecord};
use std::path::Path;

/// The family's name in `results.json`.
pub const FAMILY: &str = "seq";

/// Table columns, in order, where the config's cut-offs include them.
const COLUMNS: [&str; 9] =
    ["hr@10", "hr@50", "ndcg@10", "ndcg@50", "recall@20", "mrr", "coverage@10", "coverage@50", "ild@10"];

/// The sequential family.
pub struct Seq;

impl FamilyKind for Seq {
    type Config = SeqExperimentConfig;
    const NAME: &'static str = FAMILY;

    fn kinds() -> &'static [&'static str] {
        &recdiff_model::seq::KINDS
    }

    fn check(cfg: toml::Table, dir: &Path, origin: &Path) -> Result<SeqExperimentConfig, BoxError> {
        Ok(SeqExperimentConfig::from_table(cfg, dir, origin)?)
    }

    fn header(cfg: &SeqExperimentConfig) -> Header<'_> {
        Header { name: &cfg.name, seed: cfg.seed, output: cfg.output_dir() }
    }

    fn model(cfg: &SeqExperimentConfig) -> String {
        cfg.model.name().into()
    }

    fn metrics(cfg: &SeqExperimentConfig) -> Vec<MetricSpec> {
        registry(&cfg.train.ks)
    }

    fn columns(cfg: &SeqExperimentConfig) -> Vec<String> {
        columns_of(&COLUMNS, &Self::metrics(cfg))
    }

    fn stopping_metric(cfg: &SeqExperimentConfig) -> String {
        cfg.train.metric.clone()
    }

    fn place(cfg: &mut SeqExperimentConfig, plan: &RunPlan<'_>) {
        (cfg.seed, cfg.output) = (plan.seed, Some(plan.out.to_path_buf()));
    }

    fn train(cfg: &SeqExperimentConfig, plan: &RunPlan<'_>) -> Result<RunRecord, BoxError> {
        let ranks = recdiff_experiment::data_parallel::Ranks::new(plan.world(), cfg.seed);
        Ok(crate::run_in(cfg, ranks, plan.resume)?)
    }
}
