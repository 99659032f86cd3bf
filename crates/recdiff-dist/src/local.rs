//! A world of N ranks as threads of one process.
//!
//! Each collective is a rendezvous: every rank deposits its buffer, the last to arrive publishes
//! all of them (in rank order) and wakes the others. Sums are taken in rank order, so every rank
//! gets the same bits, and a run is deterministic. A rank whose handle is dropped (it returned
//! or panicked) before joining a collective makes that collective fail on every other rank with
//! an error naming it, instead of a hang: the in-process counterpart of `mpirun` ending the job
//! when a rank dies.

use crate::{Collective, DistError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

#[derive(Default)]
struct State {
    slots: Vec<Option<Vec<u8>>>,
    left: Vec<bool>,
    generation: u64,
    /// The first rank found to have left with a collective unfinished: every later failure names it.
    failed: Option<usize>,
    published: Arc<Vec<Vec<u8>>>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// One rank's handle on a [`LocalWorld`].
pub struct LocalRank {
    rank: usize,
    size: usize,
    shared: Arc<Shared>,
}

/// Runs `body` on `n` ranks, one thread each, and returns each rank's result in rank order
/// (`Err` with the panic message for a rank that panicked). A rank leaves the world when the last
/// clone of its handle is dropped.
pub struct LocalWorld;

impl LocalWorld {
    pub fn run<T: Send>(n: usize, body: impl Fn(Arc<LocalRank>) -> T + Sync) -> Vec<Result<T, String>> {
        let state = State { slots: vec![None; n], left: vec![false; n], ..State::default() };
        let shared = Arc::new(Shared { state: Mutex::new(state), wake: Condvar::new() });
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..n)
                .map(|rank| {
                    let me = Arc::new(LocalRank { rank, size: n, shared: shared.clone() });
                    let body = &body;
                    s.spawn(move || body(me))
                })
                .collect();
            handles.into_iter().map(|h| h.join().map_err(panic_message)).collect()
        })
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned()).unwrap_or_default()
}

impl LocalRank {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A rank that has left without depositing into the current collective.
    fn deserter(state: &State) -> Option<usize> {
        (0..state.slots.len()).find(|&r| state.left[r] && state.slots[r].is_none())
    }
}

impl Drop for LocalRank {
    fn drop(&mut self) {
        let mut state = self.lock();
        state.left[self.rank] = true;
        self.shared.wake.notify_all();
    }
}

impl Collective for LocalRank {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_reduce_sum(&self, values: &mut [f32]) -> Result<(), DistError> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let all = self.all_gather(&bytes)?;
        values.iter_mut().for_each(|v| *v = 0.0);
        for (rank, theirs) in all.iter().enumerate() {
            if theirs.len() != bytes.len() {
                let message = format!("{} values, rank {} has {}", theirs.len() / 4, self.rank, values.len());
                return Err(DistError::Collective { op: "all_reduce_sum", message: format!("rank {rank}: {message}") });
            }
            for (v, b) in values.iter_mut().zip(theirs.chunks_exact(4)) {
                *v += f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
        Ok(())
    }

    fn all_gather(&self, mine: &[u8]) -> Result<Vec<Vec<u8>>, DistError> {
        let mut state = self.lock();
        state.slots[self.rank] = Some(mine.to_vec());
        if state.slots.iter().all(Option::is_some) {
            let all: Vec<Vec<u8>> = state.slots.iter_mut().map(|s| s.take().unwrap_or_default()).collect();
            state.published = Arc::new(all);
            state.generation += 1;
            self.shared.wake.notify_all();
            return Ok(state.published.to_vec());
        }
        let generation = state.generation;
        loop {
            if state.generation != generation {
                return Ok(state.published.to_vec());
            }
            if let Some(rank) = state.failed.or_else(|| Self::deserter(&state)) {
                state.failed = Some(rank);
                state.slots[self.rank] = None;
                let message = "left the world before this collective".to_string();
                return Err(DistError::Peer { rank, message });
            }
            state = self.shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_reduce_sums_in_rank_order_and_every_rank_gets_the_same_bits() {
        let out = LocalWorld::run(3, |c| {
            // Values whose sum depends on the order: (1e8 + 1) - 1e8 is 0 in f32, 1 the other way.
            let mut v = vec![[1e8f32, 1.0, -1e8][c.rank()], 0.5 + c.rank() as f32];
            c.all_reduce_sum(&mut v).map(|_| v)
        });
        let sums: Vec<Vec<f32>> = out.into_iter().map(|r| r.unwrap().unwrap()).collect();
        let rank_order = ((1e8f32 + 1.0) + -1e8, 0.5f32 + 1.5 + 2.5);
        for s in &sums {
            assert_eq!(s, &vec![rank_order.0, rank_order.1]);
        }
    }

    #[test]
    fn all_gather_returns_every_ranks_buffer_in_rank_order_across_rounds() {
        let out = LocalWorld::run(4, |c| {
            (0..20u8)
                .map(|round| c.all_gather(&vec![c.rank() as u8; round as usize % 3 + c.rank()]).unwrap())
                .collect::<Vec<_>>()
        });
        for (rank, rounds) in out.into_iter().enumerate() {
            for (round, all) in rounds.unwrap().into_iter().enumerate() {
                let want: Vec<Vec<u8>> = (0..4).map(|r| vec![r as u8; round % 3 + r]).collect();
                assert_eq!(all, want, "rank {rank}, round {round}");
            }
        }
    }

    #[test]
    fn a_rank_that_dies_fails_the_others_collective_naming_it_instead_of_hanging() {
        let out = LocalWorld::run(3, |c| {
            c.all_gather(b"ok").unwrap();
            if c.rank() == 1 {
                panic!("rank 1 killed");
            }
            c.all_gather(b"second").map(|_| ())
        });
        assert_eq!(out[1].as_ref().unwrap_err(), "rank 1 killed");
        for r in [0, 2] {
            let err = out[r].as_ref().unwrap().as_ref().unwrap_err().to_string();
            assert!(err.contains("rank 1") && err.contains("left"), "{err}");
        }
    }
}
