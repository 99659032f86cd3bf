//! Sequential retrieval, the training side: leave-one-out training windows with early stopping
//! ([`train`]), full-ranking evaluation over the catalogue ([`eval`]) and the family on the
//! experiment layer ([`family`]). The models live in `recdiff_model::seq`, the histories in
//! `recdiff_data::histories`, the config and the read-only run loader in `recdiff_run`.

pub mod eval;
pub mod family;
pub mod task;
pub mod train;

pub use recdiff_run::seq_config::{SeqDataConfig, SeqExperimentConfig, SeqTrainConfig};
pub use train::{run, run_in};
