//! recdiff's sparse embedding tables, outside burn: one row-major `f32` table per field with
//! row-wise sparse Adam/Adagrad that touches only the rows a batch used ([`store`]), their
//! checkpoint and memory-mapped serving I/O as safetensors ([`io`]), row-wise sharding across the
//! ranks of a data-parallel world ([`shard`]), and the per-row, per-field missing mask the CTR
//! models and AsymDiffRec's feature dropout share ([`mask`]).
//!
//! Dense networks stay in `recdiff-model` (burn); a step gathers its input rows here, hands the
//! dense part to burn, and scatters the input's gradient back into the touched rows.

pub mod io;
pub mod mask;
pub mod shard;
pub mod store;

pub use io::StoreError;
pub use mask::MaskMatrix;
pub use shard::Shard;
pub use store::{EmbeddingStore, SparseOptimizer};
