//! recdiff's models: the sparse embedding store outside burn, dense networks on burn (flex CPU
//! backend with autodiff), base rankers exposing `h` (features -> latent `z`) and `f` (`z` -> logit),
//! and enhancers such as AsymDiffRec that add training losses and may transform `z` at serving.

pub mod asymdiffrec;
pub mod ctr;
pub mod dcn;
pub mod diffusion;
pub mod embedding;
pub mod embedding_io;
pub mod init;
pub mod mask;

pub use ctr::{CtrModel, CtrModelConfig, Losses};
pub use embedding::{EmbeddingStore, SparseOptimizer};
pub use mask::MaskMatrix;
