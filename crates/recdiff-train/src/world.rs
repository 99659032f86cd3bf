//! The training loop's side of a data-parallel world: the start-up check, data prepared rank by
//! rank, the shared run directory, a barrier, losses and scores gathered over ranks, and the
//! checksum that proves replicated state stayed identical.
//!
//! Rank 0 writes the run (resolved config, checkpoints, log, results); every rank reads it, so
//! the run directory must be on a filesystem every rank sees (NFS, Lustre: what a Slurm cluster's
//! home and scratch are). A world of one ([`recdiff_dist::Single`]) makes every function here a
//! no-op, so a single process behaves as before.

use crate::TrainError;
use crate::config::ExperimentConfig;
use crate::engine::StepLosses;
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use recdiff_dist::Collective;
use recdiff_experiment::data_parallel::DataParallel;
use recdiff_model::EmbeddingStore;
use std::path::Path;
use std::sync::Arc;

pub(crate) fn dist_error(e: recdiff_dist::DistError) -> TrainError {
    TrainError::Dist(e)
}

/// Refuses a world whose ranks run another binary or another resolved config (every key,
/// the seed included: the config hash of a run leaves the seed out), or has more ranks than
/// samples in a batch.
pub fn check_identity(c: &Arc<dyn Collective>, cfg: &ExperimentConfig) -> Result<(), TrainError> {
    let text = toml::to_string(cfg)?;
    DataParallel::new(c.clone()).check(&text, cfg.train.batch_size).map_err(dist_error)
}

/// Waits until every rank gets here.
pub fn barrier(c: &dyn Collective) -> Result<(), TrainError> {
    recdiff_experiment::data_parallel::barrier(c).map_err(dist_error)
}

/// Runs `f` on one rank at a time, rank 0 first (so the others find what it wrote, e.g. the
/// encoded data, instead of writing it concurrently); fails on every rank when any rank's `f`
/// failed, naming it.
pub fn in_turns<T>(c: &dyn Collective, f: impl FnOnce() -> Result<T, TrainError>) -> Result<T, TrainError> {
    let mut f = Some(f);
    let mut mine = None;
    for r in 0..c.size() {
        if r == c.rank() {
            mine = f.take().map(|f| f());
        }
        barrier(c)?;
    }
    let mine = mine.ok_or_else(|| TrainError::Other("in_turns: this rank never ran".into()))?;
    let mut failed = vec![0.0f32; c.size()];
    failed[c.rank()] = f32::from(u8::from(mine.is_err()));
    c.all_reduce_sum(&mut failed).map_err(dist_error)?;
    match (mine, failed.iter().position(|&x| x > 0.0)) {
        (Err(e), _) => Err(e),
        (Ok(_), Some(r)) => Err(TrainError::Other(format!("rank {r} failed to prepare (its error is in its output)"))),
        (Ok(v), None) => Ok(v),
    }
}

/// Checks that every rank sees the resolved config rank 0 wrote into `out`.
pub fn check_shared_run_dir(c: &dyn Collective, out: &Path, written: &[u8]) -> Result<(), TrainError> {
    barrier(c)?;
    let path = out.join(recdiff_run::ctr::CONFIG_FILE);
    let sees = std::fs::read(&path).is_ok_and(|b| b == written);
    let mut blind = vec![0.0f32; c.size()];
    blind[c.rank()] = f32::from(u8::from(!sees));
    c.all_reduce_sum(&mut blind).map_err(dist_error)?;
    match blind.iter().position(|&x| x > 0.0) {
        Some(r) => Err(TrainError::Other(format!(
            "rank {r} does not see the run directory {} that rank 0 writes: put it on a filesystem every rank shares",
            out.display()
        ))),
        None => Ok(()),
    }
}

/// The losses of the whole global batch: each rank's shard losses weighted by its `share` and
/// summed over ranks.
pub fn global_losses(c: &dyn Collective, parts: StepLosses, share: f64) -> Result<StepLosses, TrainError> {
    if c.size() == 1 || !parts.total.is_finite() {
        return Ok(parts);
    }
    let mut v: Vec<f32> = [parts.total, parts.main]
        .into_iter()
        .chain(parts.extra.iter().map(|e| e.1))
        .map(|x| (x * share) as f32)
        .collect();
    c.all_reduce_sum(&mut v).map_err(dist_error)?;
    let extra = parts.extra.iter().zip(&v[2..]).map(|((name, _), x)| (*name, *x as f64)).collect();
    Ok(StepLosses { total: v[0] as f64, main: v[1] as f64, extra })
}

/// Every rank's `mine`, concatenated in rank order.
pub fn gather_f32(c: &dyn Collective, mine: &[f32]) -> Result<Vec<f32>, TrainError> {
    if c.size() == 1 {
        return Ok(mine.to_vec());
    }
    let bytes: Vec<u8> = mine.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut out = Vec::new();
    for (rank, b) in c.all_gather(&bytes).map_err(dist_error)?.iter().enumerate() {
        if !b.len().is_multiple_of(4) {
            return Err(TrainError::Other(format!("rank {rank} sent a malformed score buffer")));
        }
        out.extend(b.chunks_exact(4).map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]])));
    }
    Ok(out)
}

/// Hashes every float parameter's values, in visit order.
struct Hasher(xxhash_rust::xxh3::Xxh3);

impl ModuleVisitor for Hasher {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Ok(v) = param.val().into_data().try_into_vec::<f32>() {
            v.iter().for_each(|x| self.0.update(&x.to_le_bytes()));
        }
    }
}

/// xxh3 of a rank's replicated state: the dense weights, and the embedding tables with their
/// optimiser state when `tables` (replicated tables; row-wise shards differ by design).
pub fn state_checksum<M: Module>(model: &M, store: &EmbeddingStore, tables: bool) -> u64 {
    let mut h = Hasher(xxhash_rust::xxh3::Xxh3::new());
    model.visit(&mut h);
    h.0.update(&store.step.to_le_bytes());
    if tables {
        for t in &store.tables {
            for v in [&t.weights, &t.m, &t.v] {
                v.iter().for_each(|x| h.0.update(&x.to_le_bytes()));
            }
        }
    }
    h.0.digest()
}

/// Stops every rank, naming the first that differs from rank 0, when their checksums differ.
pub fn check_replicas(c: &dyn Collective, checksum: u64, step: u64) -> Result<(), TrainError> {
    if c.size() == 1 {
        return Ok(());
    }
    let all = c.all_gather(&checksum.to_le_bytes()).map_err(dist_error)?;
    let root = &all[0];
    if let Some(r) = all.iter().position(|b| b != root) {
        let show = |b: &[u8]| b.iter().rev().map(|x| format!("{x:02x}")).collect::<String>();
        return Err(TrainError::Other(format!(
            "step {step}: rank {r}'s replicated state (xxh3 {}) differs from rank 0's ({}): the ranks have \
             diverged (a rank on another machine type, or memory corruption); the last checkpoint is the one to resume",
            show(&all[r]),
            show(root)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;
    use recdiff_model::SparseOptimizer;

    #[test]
    fn the_replica_checksum_moves_with_any_dense_weight_table_row_or_optimiser_moment() {
        let device = Device::flex();
        let model: Linear = recdiff_model::init::build_seeded(3, || LinearConfig::new(4, 2).init(&device));
        let store = EmbeddingStore::new(&crate::synthetic::fields(2, 9), 4, SparseOptimizer::default(), 0.0, 0.1, 1);
        let base = state_checksum(&model, &store, true);
        assert_eq!(base, state_checksum(&model, &store.clone(), true), "the same state, the same sum");
        let mut row = store.clone();
        row.tables[1].weights[13] += 1e-6;
        assert_ne!(base, state_checksum(&model, &row, true), "a table weight");
        let without = state_checksum(&model, &store, false);
        assert_eq!(without, state_checksum(&model, &row, false), "tables left out for row-wise shards");
        let mut moment = store.clone();
        moment.tables[0].v[3] = 0.5;
        assert_ne!(base, state_checksum(&model, &moment, true), "an optimiser moment");
        let other: Linear = recdiff_model::init::build_seeded(4, || LinearConfig::new(4, 2).init(&device));
        assert_ne!(base, state_checksum(&other, &store, true), "a dense weight");
    }
}
