//! The diffusion core: forward processes that corrupt samples, shared by the recommenders.
//!
//! * [`feature_dropout`]: AsymDiffRec's forward process in raw feature space.

pub mod feature_dropout;
