//! recdiff's run-directory contract: what a training run leaves behind and how inference reads it
//! back without writing anything.
//!
//! * [`config`]: the CTR experiment config (`[data]`, `[model] kind = "ctr"`, `[train]`).
//! * [`ctr`]: a trained CTR run opened read-only (eval, predict, robustness, serve).
//! * [`checkpoint`]: a checkpoint directory of any family (files + manifest, switched into place),
//!   dense weights as bytes and the parameter ids optimiser state is keyed by.
//! * [`epoch`]: what the shared training loop reads of the sequential and top-K configs.
//! * [`manifest`]: checkpoint checksums, architecture fingerprints and crash-safe switching.
//! * [`seq_config`]: the sequential experiment config (`[model] kind = "sasrec" | "dreamrec" |
//!   "dimerec" | "preferdiff"`).
//! * [`seq`]: a trained sequential run opened read-only (eval, retrieval serving).
//! * [`topk`]: a trained top-K run opened read-only (eval, recommendation serving).
//! * [`topk_config`]: the top-K collaborative-filtering experiment config (`[model] kind =
//!   "multivae" | "cdae" | "diffrec" | "ldiffrec" | "tdiffrec"`).
//!
//! This crate depends on the data and model crates only, so serving needs no training or
//! plotting code.

pub mod budget;
pub mod checkpoint;
pub mod config;
pub mod ctr;
pub mod epoch;
pub mod layout;
pub mod manifest;
pub mod ranking_train;
pub mod seq;
pub mod seq_config;
pub mod topk;
pub mod topk_config;

pub use config::ExperimentConfig;
pub use ctr::CtrRun;
pub use seq::SeqRun;
pub use seq_config::SeqExperimentConfig;
pub use topk::TopKRun;

use std::path::{Path, PathBuf};

/// Why a run could not be read: the file, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RunError {
    pub path: PathBuf,
    pub message: String,
}

impl RunError {
    pub fn at(path: &Path, message: impl ToString) -> Self {
        Self { path: path.to_path_buf(), message: message.to_string() }
    }
}
