//! Sequential retrieval: per-user histories, SASRec, DreamRec (DDPM over the next item's
//! embedding, classifier-free guidance) and DimeRec (multi-interest guidance + diffusion on the
//! unit sphere), trained with early stopping and evaluated by full ranking over the catalogue.

pub mod data;
pub mod sasrec;
