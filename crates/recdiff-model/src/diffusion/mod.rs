//! The diffusion core: forward processes that corrupt samples, shared by the recommenders.
//!
//! * [`feature_dropout`]: AsymDiffRec's forward process in raw feature space.
//! * [`schedule`]: DDPM noise schedules (Gaussian diffusion: DiffRec, DreamRec).
//! * [`sphere`]: the geodesic random walk on the unit sphere (DimeRec).

pub mod feature_dropout;
pub mod schedule;
pub mod sphere;
