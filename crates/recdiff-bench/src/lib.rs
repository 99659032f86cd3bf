//! recdiff's benchmarks, in a crate of their own so that neither the training nor the serving
//! library carries benchmark code or an HTTP client:
//!
//! * [`train_step`]: steps/s and samples/s of a DCN-V2 (+ AsymDiffRec) training step over
//!   synthetic rows, on one process or as one rank of a data-parallel world;
//! * [`loadgen`]: a closed-loop HTTP load generator and request bodies built from a run's data,
//!   for `recdiff bench serve` and `bench reload` (and the HTTP tests' client).
//!
//! The `recdiff bench …` subcommands print these as tables; `docs/results.md` holds the figures.

pub mod loadgen;
pub mod train_step;

use std::path::PathBuf;

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Train(#[from] recdiff_train::TrainError),
    #[error(transparent)]
    Data(#[from] recdiff_data::DataError),
    #[error(transparent)]
    Dist(recdiff_dist::DistError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}
