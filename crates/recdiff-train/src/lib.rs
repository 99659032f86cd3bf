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
    #[error("{0}")]
    Other(String),
}

impl TrainError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        TrainError::Io { path: path.into(), source }
    }
}
