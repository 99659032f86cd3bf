//! [`Collective`] over MPI (rsmpi): a rank of a world started by `mpirun`, `srun` or the
//! Kubernetes MPI Operator.
//!
//! `all_reduce_sum` is `MPI_Allreduce` with `MPI_SUM` (the implementation's algorithm: ring or
//! recursive halving at scale; MPI gives every rank the same result); `all_gather` is
//! `MPI_Allgather` of the lengths, then `MPI_Allgatherv` of the bytes. A rank that dies makes
//! `mpirun` end the job (Open MPI's default error handler aborts the collective's communicator).

use crate::{Collective, DistError};
use mpi::collective::SystemOperation;
use mpi::datatype::{Partition, PartitionMut};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

pub struct MpiWorld {
    _universe: mpi::environment::Universe,
    world: SimpleCommunicator,
}

impl MpiWorld {
    /// Initialises MPI (once per process).
    pub fn init() -> Result<Self, DistError> {
        let universe = mpi::initialize()
            .ok_or_else(|| DistError::Collective { op: "init", message: "MPI was already initialised".into() })?;
        let world = universe.world();
        Ok(Self { _universe: universe, world })
    }
}

// rsmpi's communicator is a handle MPI serialises itself (MPI_THREAD_SINGLE callers use it from
// one thread; recdiff calls collectives from the training thread only).
unsafe impl Send for MpiWorld {}
unsafe impl Sync for MpiWorld {}

impl Collective for MpiWorld {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce_sum(&self, values: &mut [f32]) -> Result<(), DistError> {
        let mine = values.to_vec();
        self.world.all_reduce_into(&mine[..], values, SystemOperation::sum());
        Ok(())
    }

    fn all_gather(&self, mine: &[u8]) -> Result<Vec<Vec<u8>>, DistError> {
        let n = self.size();
        let len = i32::try_from(mine.len()).map_err(|_| DistError::Collective {
            op: "all_gather",
            message: format!("{} bytes is over 2 GiB", mine.len()),
        })?;
        let mut lens = vec![0i32; n];
        self.world.all_gather_into(&len, &mut lens[..]);
        let displs: Vec<i32> = lens.iter().scan(0i32, |at, &l| Some(std::mem::replace(at, *at + l))).collect();
        let total: usize = lens.iter().map(|&l| l as usize).sum();
        let mut buf = vec![0u8; total];
        {
            let mut part = PartitionMut::new(&mut buf[..], &lens[..], &displs[..]);
            self.world.all_gather_varcount_into(mine, &mut part);
        }
        Ok(lens.iter().zip(&displs).map(|(&l, &d)| buf[d as usize..(d + l) as usize].to_vec()).collect())
    }

    fn all_to_all(&self, send: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, DistError> {
        let n = self.size();
        let too_big =
            |what: usize| DistError::Collective { op: "all_to_all", message: format!("{what} bytes is over 2 GiB") };
        if send.len() != n {
            return Err(DistError::Collective {
                op: "all_to_all",
                message: format!("{} buffers for {n} ranks", send.len()),
            });
        }
        let counts = send
            .iter()
            .map(|b| i32::try_from(b.len()).map_err(|_| too_big(b.len())))
            .collect::<Result<Vec<i32>, _>>()?;
        let mut recv_counts = vec![0i32; n];
        self.world.all_to_all_into(&counts[..], &mut recv_counts[..]);
        let offsets =
            |c: &[i32]| -> Vec<i32> { c.iter().scan(0i32, |at, &l| Some(std::mem::replace(at, *at + l))).collect() };
        let (sd, rd) = (offsets(&counts), offsets(&recv_counts));
        let flat: Vec<u8> = send.concat();
        let total: usize = recv_counts.iter().map(|&c| c as usize).sum();
        i32::try_from(total).map_err(|_| too_big(total))?;
        let mut buf = vec![0u8; total];
        {
            let sp = Partition::new(&flat[..], &counts[..], &sd[..]);
            let mut rp = PartitionMut::new(&mut buf[..], &recv_counts[..], &rd[..]);
            self.world.all_to_all_varcount_into(&sp, &mut rp);
        }
        Ok(recv_counts.iter().zip(&rd).map(|(&l, &d)| buf[d as usize..(d + l) as usize].to_vec()).collect())
    }
}
