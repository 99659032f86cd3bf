//! recdiff's models: the sparse embedding store outside burn, dense networks on burn (flex CPU
//! backend with autodiff), base rankers exposing `h` (features -> latent `z`) and `f` (`z` -> logit),
//! and enhancers (AsymDiffRec, CDAE, MultiVAE, SSL, DiffRec) that add training losses and may
//! transform `z` at serving; and the sequential next-item models (SASRec, DreamRec, DimeRec) in
//! [`seq`].

pub mod activation;
pub mod base;
pub mod ctr;
pub mod diffusion;
pub mod dropout;
pub mod enhancer;
pub mod init;
pub mod legacy;
pub mod losses;
pub mod seeding;
pub mod seq;
pub mod topk;

pub use ctr::{CtrModel, CtrModelConfig, Losses, TrainInputs};
// The sparse tables live in recdiff-embed; the CTR models take their gathered input and mask.
pub use enhancer::{Enhance, EnhancerConfig, LatentNoise, NoisePlan};
pub use recdiff_embed::{EmbeddingStore, MaskMatrix, Shard, SparseOptimizer};
