//! recdiff's data-parallel layer: the collectives a distributed training step needs, behind one
//! trait, and the start-up check that every rank runs the same binary on the same config.
//!
//! - [`Collective`]: rank, size, an element-wise f32 sum over ranks (dense gradients) and an
//!   all-gather of variable-length byte buffers (touched embedding rows, the identity check).
//! - [`local::LocalWorld`]: N ranks as threads of one process, summing in rank order. It has no
//!   network and no MPI; it is what the equivalence tests and the MPI backend are measured
//!   against, and what CI runs where MPI is not installed.
//! - `mpi::MpiWorld` (cargo feature `mpi`): the same trait over MPI (rsmpi, any MPI-3.1
//!   implementation: Open MPI, MPICH, a cluster's own), started by `mpirun`/`srun`.
//! - [`identity::check_world`]: every rank's identity (hash of the resolved config, hash of the
//!   binary, its version) is all-gathered at start, and a world where any differs, or with more
//!   ranks than training shards, is refused on every rank with an error naming what differs.
//!
//! The default build has no MPI dependency: a single process is [`Single`], whose collectives are
//! identities.

pub mod identity;
pub mod local;
#[cfg(feature = "mpi")]
pub mod mpi;

/// Errors of the distributed layer; each names the rank or the value at fault.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    #[error(
        "rank {rank} runs {what} {theirs}, rank 0 runs {ours}: every rank must run the same binary on the same config"
    )]
    Mismatch { rank: usize, what: &'static str, ours: String, theirs: String },
    #[error("{ranks} ranks but {shards} training shards: at most one rank per shard")]
    TooManyRanks { ranks: usize, shards: usize },
    #[error("rank {rank}: {message}")]
    Peer { rank: usize, message: String },
    #[error("collective {op}: {message}")]
    Collective { op: &'static str, message: String },
}

/// The operations a data-parallel step uses. Every rank calls the same sequence of them.
pub trait Collective: Send + Sync {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;
    /// Replaces `values` with their element-wise sum over ranks; every rank gets the same bits.
    fn all_reduce_sum(&self, values: &mut [f32]) -> Result<(), DistError>;
    /// Every rank's `mine`, in rank order.
    fn all_gather(&self, mine: &[u8]) -> Result<Vec<Vec<u8>>, DistError>;
}

/// One process: the collectives of a world of one.
#[derive(Debug, Default, Clone, Copy)]
pub struct Single;

impl Collective for Single {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_reduce_sum(&self, _values: &mut [f32]) -> Result<(), DistError> {
        Ok(())
    }
    fn all_gather(&self, mine: &[u8]) -> Result<Vec<Vec<u8>>, DistError> {
        Ok(vec![mine.to_vec()])
    }
}
