//! recdiff's experiment runner: TOML experiment configs, the training loop with early stopping and
//! checkpoints, evaluation (AUC, UAUC, LogLoss) and learning curves.

pub mod batch;
pub mod checkpoint;
pub mod synthetic;
pub use recdiff_run::config;
pub mod data;
pub mod distributed;
pub mod engine;
pub mod eval;
pub mod family;
pub mod plot;
pub mod predict;
pub mod robustness;
mod run_log;
pub mod sharded;
pub mod task;
pub mod train;
pub mod world;

pub use config::ExperimentConfig;
pub use eval::EvalMetrics;
pub use train::{RunSummary, Session, run, run_in};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Data(#[from] recdiff_data::DataError),
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error(transparent)]
    Eval(#[from] eval::EvalError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("training diverged at step {step}: loss {loss}")]
    Diverged { step: u64, loss: f64 },
    #[error(transparent)]
    Run(#[from] recdiff_run::RunError),
    #[error(transparent)]
    Record(#[from] recdiff_experiment::record::RecordError),
    #[error(transparent)]
    Hash(#[from] recdiff_experiment::hash::HashError),
    #[error("writing the resolved config: {0}")]
    Toml(#[from] toml::ser::Error),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{path}: {source}")]
    JsonIn { path: PathBuf, source: serde_json::Error },
    #[error("data-parallel training: {0}")]
    Dist(#[from] recdiff_dist::DistError),
    #[error("{path}: {source}")]
    Plot { path: PathBuf, source: Box<dyn std::error::Error + Send + Sync> },
    #[error(transparent)]
    Experiment(recdiff_experiment::BoxError),
    #[error(transparent)]
    Log(#[from] recdiff_experiment::log::LogError),
    #[error(transparent)]
    Fit(#[from] recdiff_experiment::fit::FitError),
    #[error(transparent)]
    AbsentMetric(#[from] recdiff_experiment::stopping::AbsentMetric),
    /// A comparison's run that robustness probes is not there (or not readable).
    #[error("{source}; run `recdiff compare` first")]
    NotCompared { source: recdiff_run::RunError },
    /// An engine's model taken for a step and not given back (a step that failed half-way).
    #[error("the engine holds no model: an earlier step failed half-way")]
    ModelMissing,
    /// A condition without an underlying error, described.
    #[error("{0}")]
    Other(String),
}

impl TrainError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        TrainError::Io { path: path.into(), source }
    }
}
