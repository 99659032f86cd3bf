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
pub mod timed;

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
    /// Personalised exchange (all-to-all-v): `send[k]` goes to rank `k`; returns what each rank
    /// sent this one, in rank order. This default goes through [`Collective::all_gather`] (every
    /// rank receives every buffer: right, but `N` times the bytes); MPI overrides it with
    /// `MPI_Alltoallv`.
    fn all_to_all(&self, send: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, DistError> {
        let n = self.size();
        if send.len() != n {
            let message = format!("{} buffers for {n} ranks", send.len());
            return Err(DistError::Collective { op: "all_to_all", message });
        }
        let mut packed = Vec::new();
        for b in send {
            packed.extend((b.len() as u64).to_le_bytes());
            packed.extend_from_slice(b);
        }
        let me = self.rank();
        let all = self.all_gather(&packed)?;
        all.iter()
            .enumerate()
            .map(|(rank, p)| {
                piece(p, me, n).ok_or(DistError::Peer { rank, message: "sent a malformed all-to-all buffer".into() })
            })
            .collect()
    }
}

/// Buffer `k` of `n` length-prefixed buffers packed in `p`.
fn piece(p: &[u8], k: usize, n: usize) -> Option<Vec<u8>> {
    let mut at = 0usize;
    for i in 0..n {
        let len = u64::from_le_bytes(p.get(at..at + 8)?.try_into().ok()?) as usize;
        let body = p.get(at + 8..at.checked_add(8 + len)?)?;
        if i == k {
            return Some(body.to_vec());
        }
        at += 8 + len;
    }
    None
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::LocalWorld;

    #[test]
    fn all_to_all_delivers_each_buffer_to_its_rank_only() {
        let out = LocalWorld::run(3, |c| {
            let send: Vec<Vec<u8>> = (0..3).map(|to| vec![(10 * c.rank() + to) as u8; to + c.rank()]).collect();
            c.all_to_all(&send).map_err(|e| e.to_string())
        });
        for (me, got) in out.into_iter().enumerate() {
            let got = got.unwrap().unwrap();
            let want: Vec<Vec<u8>> = (0..3).map(|from| vec![(10 * from + me) as u8; me + from]).collect();
            assert_eq!(got, want, "rank {me}");
        }
        let err = LocalWorld::run(2, |c| c.all_to_all(&[vec![1]]).map_err(|e| e.to_string()));
        assert!(err[0].as_ref().unwrap().as_ref().unwrap_err().contains("1 buffers for 2 ranks"));
    }
}
