//! The CTR ranking family on the experiment layer: configs with `[model] kind = "ctr"`, trained by
//! this crate's loop, reporting `auc`, `uauc` (absent without a user key) and `logloss`.

use crate::ExperimentConfig;
use crate::config::Metric;
use recdiff_experiment::{BoxError, FamilyKind, Header, MetricSpec, RunPlan, RunRecord};
use std::path::Path;

/// The family's name in `results.json`.
pub const FAMILY: &str = "ctr";

/// Every metric the CTR family reports.
pub fn registry() -> Vec<MetricSpec> {
    [Metric::Auc, Metric::Uauc, Metric::Logloss]
        .map(|m| MetricSpec { name: m.name().into(), higher_is_better: m.higher_is_better() })
        .to_vec()
}

/// The CTR family.
pub struct Ctr;

impl FamilyKind for Ctr {
    type Config = ExperimentConfig;
    const NAME: &'static str = FAMILY;

    fn kinds() -> &'static [&'static str] {
        &["ctr"]
    }

    fn check(cfg: toml::Table, dir: &Path, origin: &Path) -> Result<ExperimentConfig, BoxError> {
        Ok(ExperimentConfig::from_table(cfg, dir, origin)?)
    }

    fn header(cfg: &ExperimentConfig) -> Header<'_> {
        Header { name: &cfg.name, seed: cfg.seed, output: cfg.output_dir() }
    }

    fn model(cfg: &ExperimentConfig) -> String {
        cfg.model.ctr().name()
    }

    fn metrics(_cfg: &ExperimentConfig) -> Vec<MetricSpec> {
        registry()
    }

    fn columns(_cfg: &ExperimentConfig) -> Vec<String> {
        ["auc", "uauc", "logloss"].map(String::from).to_vec()
    }

    fn stopping_metric(cfg: &ExperimentConfig) -> String {
        cfg.train.early_stopping_metric.name().into()
    }

    /// Also shares the plan's cache of encoded data when the config names none.
    fn place(cfg: &mut ExperimentConfig, plan: &RunPlan<'_>) {
        (cfg.seed, cfg.output) = (plan.seed, Some(plan.out.to_path_buf()));
        if cfg.data.encoded.is_none() {
            cfg.data.encoded = plan.cache.map(Path::to_path_buf);
        }
    }

    fn train(cfg: &ExperimentConfig, plan: &RunPlan<'_>) -> Result<RunRecord, BoxError> {
        Ok(crate::run_in(cfg, plan.resume, plan.world())?.record)
    }
}
