//! The sequential-retrieval family on the experiment layer: configs with `[model] kind = "sasrec"
//! | "dreamrec" | "dimerec" | "preferdiff"`, trained by this crate's loop on leave-one-out
//! histories, reporting HR/NDCG/Recall/coverage/ILD at each cut-off and MRR.

use crate::SeqExperimentConfig;
use crate::eval::registry;
use recdiff_experiment::data_parallel::Ranks;
use recdiff_experiment::{BoxError, EpochFamily, MetricSpec, RunRecord};

/// The family's name in `results.json`.
pub const FAMILY: &str = "seq";

/// Table columns, in order, where the config's cut-offs include them.
const COLUMNS: [&str; 9] =
    ["hr@10", "hr@50", "ndcg@10", "ndcg@50", "recall@20", "mrr", "coverage@10", "coverage@50", "ild@10"];

/// The sequential family.
pub struct Seq;

impl EpochFamily for Seq {
    type Config = SeqExperimentConfig;
    const NAME: &'static str = FAMILY;
    const COLUMNS: &'static [&'static str] = &COLUMNS;

    fn kinds() -> &'static [&'static str] {
        &recdiff_model::seq::KINDS
    }

    fn metrics(cfg: &SeqExperimentConfig) -> Vec<MetricSpec> {
        registry(&cfg.train.ks)
    }

    fn train(cfg: &SeqExperimentConfig, ranks: Ranks, resume: bool) -> Result<RunRecord, BoxError> {
        Ok(crate::run_in(cfg, ranks, resume)?)
    }
}
