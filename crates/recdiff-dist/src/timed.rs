//! A [`Collective`] that counts: the seconds spent inside collectives and the bytes this rank
//! sent, so a benchmark splits a step into compute and communication (`recdiff bench dist`).

use crate::{Collective, DistError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// `inner`, with every collective timed and its outgoing bytes counted.
pub struct Timed {
    inner: Arc<dyn Collective>,
    nanos: AtomicU64,
    bytes: AtomicU64,
}

/// Seconds inside collectives and bytes sent, since the start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counters {
    pub seconds: f64,
    pub bytes: u64,
}

impl Timed {
    pub fn new(inner: Arc<dyn Collective>) -> Self {
        Self { inner, nanos: AtomicU64::new(0), bytes: AtomicU64::new(0) }
    }

    pub fn counters(&self) -> Counters {
        Counters {
            seconds: self.nanos.load(Ordering::Relaxed) as f64 * 1e-9,
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }

    fn time<T>(&self, bytes: usize, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        self.nanos.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        out
    }
}

impl Collective for Timed {
    fn rank(&self) -> usize {
        self.inner.rank()
    }
    fn size(&self) -> usize {
        self.inner.size()
    }
    fn all_reduce_sum(&self, values: &mut [f32]) -> Result<(), DistError> {
        self.time(values.len() * 4, || self.inner.all_reduce_sum(values))
    }
    fn all_gather(&self, mine: &[u8]) -> Result<Vec<Vec<u8>>, DistError> {
        self.time(mine.len(), || self.inner.all_gather(mine))
    }
    fn all_to_all(&self, send: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, DistError> {
        let bytes = send.iter().enumerate().filter(|(k, _)| *k != self.rank()).map(|(_, b)| b.len()).sum();
        self.time(bytes, || self.inner.all_to_all(send))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::LocalWorld;

    #[test]
    fn counts_the_bytes_each_collective_sends_and_passes_results_through() {
        let out = LocalWorld::run(2, |c| {
            let t = Timed::new(c);
            let mut v = [1.0f32, 2.0, 3.0];
            t.all_reduce_sum(&mut v).unwrap();
            let g = t.all_gather(&[7; 5]).unwrap();
            let a = t.all_to_all(&[vec![1; 2], vec![2; 3]]).unwrap();
            (v, g.len(), a.len(), t.counters().bytes)
        });
        for r in out {
            let (v, g, a, bytes) = r.unwrap();
            assert_eq!(v, [2.0, 4.0, 6.0]);
            assert_eq!((g, a), (2, 2));
            assert!(bytes == 12 + 5 + 3 || bytes == 12 + 5 + 2, "{bytes}");
        }
    }
}
