//! The CTR ranking family on the experiment layer: configs with `[model] kind = "ctr"`, trained by
//! this crate's loop, reporting `auc`, `uauc` (absent without a user key) and `logloss`.

use crate::ExperimentConfig;
use crate::config::Metric;
use recdiff_experiment::{BoxError, Experiment, Family, MetricSpec, RunPlan, RunRecord};
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

impl Family for Ctr {
    fn name(&self) -> &'static str {
        FAMILY
    }

    fn kinds(&self) -> &'static [&'static str] {
        &["ctr"]
    }

    fn load(&self, cfg: toml::Table, dir: &Path, origin: &Path) -> Result<Box<dyn Experiment>, BoxError> {
        Ok(Box::new(CtrExperiment(ExperimentConfig::from_table(cfg, dir, origin)?)))
    }
}

/// A checked CTR experiment config.
pub struct CtrExperiment(pub ExperimentConfig);

impl Experiment for CtrExperiment {
    fn family(&self) -> &'static str {
        FAMILY
    }

    fn name(&self) -> &str {
        &self.0.name
    }

    fn model(&self) -> String {
        self.0.model.ctr().name()
    }

    fn resolved(&self) -> Result<toml::Table, BoxError> {
        Ok(toml::Table::try_from(&self.0)?)
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        registry()
    }

    fn columns(&self) -> Vec<String> {
        ["auc", "uauc", "logloss"].map(String::from).to_vec()
    }

    fn stopping_metric(&self) -> String {
        self.0.train.early_stopping_metric.name().into()
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
        if cfg.data.encoded.is_none() {
            cfg.data.encoded = plan.cache.map(Path::to_path_buf);
        }
        Ok(crate::run_in(&cfg, plan.resume, plan.world())?.record)
    }
}
