//! Top-K collaborative filtering, the training side: the user x item matrix split per user
//! (`recdiff_data::user_item`), batches densified per batch ([`batch`]), the training loop with
//! early stopping ([`train`]), full-ranking evaluation with the user's known items masked
//! ([`eval`]) and the family on the experiment layer ([`family`]). The models live in
//! `recdiff_model::topk`, the config in `recdiff_run::topk_config`.

pub mod batch;
pub mod clusters;
pub mod eval;
pub mod family;
pub mod task;
pub mod train;

pub use recdiff_run::topk_config::{TopKDataConfig, TopKExperimentConfig, TopKTrainConfig};
pub use train::{run, run_in};
