//! recdiff's experiment layer, the same for every model family.
//!
//! * [`metrics`]: metrics by name, absent as `None`, and each family's registry of what it reports.
//! * [`stopping`]: the one early-stopping rule.
//! * [`optim`]: the one optimiser builder for dense weights.
//! * [`hash`]: the config hash that keys run directories.
//! * [`record`]: `results.json`, what a finished run reports.
//! * [`family`]: the [`Family`] / [`Experiment`] seam a model family implements.
//! * [`fit`]: the one training loop of every family (epochs and chunks of steps, the validation
//!   cadence, early stopping, `log.jsonl`, the `last/` checkpoint and resume, `results.json`);
//!   [`epoch_task`]: what the whole-epoch families (sequential, top-K) share on top of it.
//! * [`seeds`]: the one seed loop, resuming runs finished under the same config hash.
//! * [`compare`] and [`table`]: comparisons of any family's experiments and their tables.
//!
//! * [`progress`]: progress bars of long loops, drawn by whatever sink the program installs.
//!
//! Nothing here prints: logs go through `tracing`, progress through [`progress`], results are returned.

pub mod compare;
pub mod data_parallel;
pub mod epoch_task;
pub mod family;
pub mod fit;
pub mod fused_adam;
pub mod hash;
pub mod log;
pub mod metrics;
pub mod optim;
pub mod progress;
pub mod record;
pub mod seeds;
pub mod stopping;
pub mod table;

pub use family::{BoxError, Configured, EpochFamily, Experiment, Family, FamilyKind, Header, RunPlan, TaskError};
pub use metrics::{MetricSpec, Metrics};
pub use record::RunRecord;
pub use stopping::{EarlyStopping, StopState, Verdict};
