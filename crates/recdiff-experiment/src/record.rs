//! `results.json`: what a finished run reports, the same for every family.

use crate::metrics::Metrics;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The results file of a finished run.
pub const RESULTS_FILE: &str = "results.json";

/// A finished run: written last (atomically), so its presence marks the run as done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// The experiment's name.
    pub name: String,
    /// The model family (`ctr`, `seq`).
    pub family: String,
    /// The model, e.g. `dcnv2+asymdiffrec` or `dimerec`.
    pub model: String,
    pub seed: u64,
    /// [`crate::hash::config_hash`] of the resolved config the run trained under.
    pub config_hash: String,
    /// Epochs trained (the last one possibly partial) and optimiser steps.
    pub epochs: usize,
    pub steps: u64,
    /// Epoch (1-based) and step of the best validation, whose weights the run keeps.
    pub best_epoch: usize,
    pub best_step: u64,
    /// Wall-clock seconds of the whole run and per training epoch.
    pub seconds: f64,
    pub seconds_per_epoch: f64,
    pub valid: Metrics,
    pub test: Metrics,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error(transparent)]
    Write(#[from] recdiff_data::DataError),
}

impl RunRecord {
    /// Reads `<run>/results.json`.
    pub fn load(run: &Path) -> Result<Self, RecordError> {
        let path = run.join(RESULTS_FILE);
        let fail = |message: String| RecordError::Read { path: path.display().to_string(), message };
        let bytes = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))
    }

    /// Writes `<run>/results.json` (temporary file, fsync, rename).
    pub fn save(&self, run: &Path) -> Result<(), RecordError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| RecordError::Read {
            path: run.join(RESULTS_FILE).display().to_string(),
            message: e.to_string(),
        })?;
        recdiff_data::write_atomic(&run.join(RESULTS_FILE), &json)?;
        Ok(())
    }

    /// The run in `run` when it finished under the config with `hash`; `None` when it has not
    /// finished, or finished under another config (then it is trained again).
    pub fn finished(run: &Path, hash: &str) -> Option<Self> {
        let record = Self::load(run).ok()?;
        if record.config_hash == hash {
            Some(record)
        } else {
            tracing::warn!(
                "{}: trained under config {}, not {hash}; training again",
                run.display(),
                record.config_hash
            );
            None
        }
    }
}
