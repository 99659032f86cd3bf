//! The diffusion core: forward processes that corrupt samples, shared by the recommenders.
//!
//! * [`feature_dropout`]: AsymDiffRec's forward process in raw feature space.
//! * [`schedule`]: DDPM noise schedules (Gaussian diffusion: DiffRec, DreamRec).
//! * [`sphere`]: the geodesic random walk on the unit sphere (DimeRec).
//! * [`time_embedding`](mod@time_embedding): the sinusoidal step embedding of every denoiser.

pub mod feature_dropout;
pub mod schedule;
pub mod sphere;
pub mod time_embedding;

pub use time_embedding::time_embedding;
