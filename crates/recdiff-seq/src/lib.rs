//! Sequential retrieval: per-user histories, SASRec, DreamRec (DDPM over the next item's
//! embedding, classifier-free guidance) and DimeRec (multi-interest guidance + diffusion on the
//! unit sphere), trained with early stopping and evaluated by full ranking over the catalogue.

pub mod config;
pub mod data;
pub mod dimerec;
pub mod dreamrec;
pub mod eval;
pub mod family;
pub mod model;
pub mod sasrec;
pub mod train;

pub use config::SeqExperimentConfig;
pub use train::{SeqRunSummary, run};
