//! One training step, shared by the training loop and the benchmark: gather embeddings, forward
//! the losses, backward, burn Adam on the dense weights and a sparse update of touched rows.

use crate::TrainError;
use crate::batch::Batch;
use crate::checkpoint::{self, LoopState};
use crate::world::dist_error;
use burn::optim::AdamConfig;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use rand::RngCore;
use recdiff_dist::{Collective, Single};
use recdiff_model::{CtrModel, EmbeddingStore, Shard, TrainInputs};
use std::path::Path;
use std::sync::Arc;

/// Loss values of one step.
#[derive(Debug, Clone)]
pub struct StepLosses {
    pub total: f64,
    pub main: f64,
    pub extra: Vec<(&'static str, f64)>,
}

pub struct Engine {
    pub device: Device,
    /// Always `Some` between steps; taken while the optimiser consumes it.
    model: Option<CtrModel>,
    pub optim: ModuleOptimizer,
    pub store: EmbeddingStore,
    /// Width of the base's latent `z`.
    pub latent_dim: usize,
    /// Base learning rate of the dense weights.
    pub lr: f64,
    /// The experiment seed: burn's dropout masks of step `k` are drawn from (seed, k).
    pub seed: u64,
    /// The data-parallel world this engine is a rank of ([`Single`] unless set).
    world: Arc<dyn Collective>,
    /// The rows of every table this rank holds when tables are sharded row-wise (`None`:
    /// every rank holds every row).
    shard: Option<Shard>,
}

impl Engine {
    pub fn new(
        device: Device,
        model: CtrModel,
        optim: ModuleOptimizer,
        store: EmbeddingStore,
        latent_dim: usize,
        lr: f64,
        seed: u64,
    ) -> Self {
        Self { device, model: Some(model), optim, store, latent_dim, lr, seed, world: Arc::new(Single), shard: None }
    }

    /// This engine as one rank of `world`: [`Engine::step`] then trains on the rank's shard of
    /// each global batch and applies the update of the whole batch (every rank's dense gradients
    /// and touched rows, weighted by its share of the batch, summed), the same on every rank
    /// (`crate::distributed`).
    pub fn with_world(mut self, world: Arc<dyn Collective>) -> Self {
        self.world = world;
        self
    }

    /// Row-wise sharded tables: `store` holds only `shard`'s rows
    /// ([`EmbeddingStore::new_shard`]), and each step fetches the rows its batch reads from their
    /// owners and pushes their gradients back (`crate::sharded`).
    pub fn with_row_wise_tables(mut self, shard: Shard) -> Self {
        self.shard = (shard != Shard::WHOLE).then_some(shard);
        self
    }

    /// The rows this rank's store holds.
    pub fn shard(&self) -> Shard {
        self.shard.unwrap_or(Shard::WHOLE)
    }

    pub fn model(&self) -> &CtrModel {
        self.model.as_ref().unwrap_or_else(|| unreachable!("the model is only taken inside step()"))
    }

    /// Loads a checkpoint's weights (and, with `restore_optimizer`, its optimiser state).
    /// The checkpoint must carry `fingerprint`, this model's architecture.
    pub fn load_checkpoint(
        &mut self,
        dir: &Path,
        fingerprint: &str,
        restore_optimizer: bool,
    ) -> Result<LoopState, TrainError> {
        let model = self.model.take().ok_or(TrainError::ModelMissing)?;
        let optim = std::mem::replace(&mut self.optim, AdamConfig::new().init());
        let shard = self.shard();
        let (model, optim, state) = checkpoint::load(dir, fingerprint, model, optim, &mut self.store, shard)?;
        self.model = Some(model);
        if restore_optimizer {
            self.optim = optim;
        }
        Ok(state)
    }

    fn tensor(&self, values: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
        Tensor::<2>::from_data(TensorData::new(values, shape), &self.device)
    }

    /// One step with the learning rates scaled by `factor`; returns the total, the main loss and
    /// the enhancer's extra terms. `rng` draws latent noise; `step` drives annealing. In a world
    /// of several ranks, `b` is the global batch: the noise is drawn for all of it (so every rank
    /// draws alike), each rank trains on its shard, and the losses returned are its shard's.
    pub fn step(
        &mut self,
        b: &Batch<'_>,
        factor: f64,
        buf: &mut Vec<f32>,
        rng: &mut impl RngCore,
        step: u64,
    ) -> Result<StepLosses, TrainError> {
        let global_samples = b.global_samples;
        let mut noise = self.model().enhance().latent_noise(global_samples, self.latent_dim, rng);
        let (rank, ranks) = (self.world.rank(), self.world.size());
        let cut = self.this_rank(b, &mut noise);
        let b = cut.as_ref().unwrap_or(b);
        if b.samples == 0 {
            return self.empty_step(b, buf, factor);
        }
        let (n, width, fields) = (b.rows.len(), self.store.width(), self.store.fields());
        buf.resize(n * width, 0.0);
        self.gather(b, buf)?;
        let x = self.tensor(buf.clone(), [n, width]).require_grad();
        let bs = b.samples;
        let inputs = TrainInputs {
            x: x.clone(),
            clean_mask: self.tensor(b.clean_mask.clone(), [bs, fields]),
            copy_masks: b.copy_masks.iter().map(|m| self.tensor(m.clone(), [bs, fields])).collect(),
            y: self.tensor(b.labels.clone(), [bs, 1]),
            noise: noise.as_ref().map(|n| (self.tensor(n.eps.clone(), [bs, self.latent_dim]), n.t.as_slice())),
            step,
        };
        // Ranks draw their dropout masks from streams of their own: the same seed on every rank
        // would give every shard the same masks.
        let seed = recdiff_experiment::data_parallel::rank_seed(self.seed, rank, ranks);
        let losses = recdiff_model::seeding::seeded_forward(&self.device, seed, step, || self.model().losses(inputs));
        let scalar = |t: Tensor<1>| -> f64 { t.into_scalar::<f32>() as f64 };
        let parts = StepLosses {
            total: scalar(losses.total.clone()),
            main: scalar(losses.main.clone()),
            extra: losses.extra.iter().map(|(name, t)| (*name, scalar(t.clone()))).collect(),
        };
        if !self.all_finite(parts.total)? {
            // Another rank's loss diverged: every rank reports it, so all of them stop.
            let total = if parts.total.is_finite() { f64::NAN } else { parts.total };
            return Ok(StepLosses { total, ..parts });
        }
        let mut grads = losses.total.backward();
        let gx =
            x.grad_remove(&mut grads).ok_or_else(|| TrainError::Other("no gradient for the embedded input".into()))?;
        let gx: Vec<f32> = gx.into_data().try_into_vec::<f32>().map_err(|e| TrainError::Other(format!("{e:?}")))?;
        let model = self.model.take().ok_or(TrainError::ModelMissing)?;
        let gp = GradientsParams::from_grads(grads, &model);
        if ranks == 1 {
            self.model = Some(self.optim.step(self.lr * factor, model, gp));
            self.store.apply_gradients(&b.rows, &b.masks, &gx, factor as f32);
            return Ok(parts);
        }
        let share = (b.samples as f64 / global_samples as f64) as f32;
        self.distributed_update(model, gp, b, &gx, factor, share)?;
        Ok(parts)
    }

    /// This rank's part of `b` when `b` is a global batch (`None`: `b` is already this rank's,
    /// built by `batch::build_shard`, or the world is one process), with `noise`, drawn for the
    /// global batch, cut to the same samples.
    fn this_rank<'a>(&self, b: &Batch<'a>, noise: &mut Option<recdiff_model::LatentNoise>) -> Option<Batch<'a>> {
        let (rank, ranks) = (self.world.rank(), self.world.size());
        let cut = (ranks > 1 && b.offset == 0 && b.samples == b.global_samples)
            .then(|| b.shard(crate::batch::shard_range(b.global_samples, rank, ranks)));
        let mine = cut.as_ref().unwrap_or(b);
        if let Some(n) = noise.as_mut().filter(|_| mine.samples != mine.global_samples) {
            let range = mine.offset..mine.offset + mine.samples;
            n.eps = n.eps[range.start * self.latent_dim..range.end * self.latent_dim].to_vec();
            n.t = if n.t.is_empty() { vec![] } else { n.t[range].to_vec() };
        }
        cut
    }

    /// The step of a rank whose shard of a short last batch is empty: it adds nothing but joins
    /// every collective of the step.
    fn empty_step(&mut self, b: &Batch<'_>, buf: &mut [f32], factor: f64) -> Result<StepLosses, TrainError> {
        if !self.all_finite(0.0)? {
            return Ok(StepLosses { total: f64::NAN, main: 0.0, extra: vec![] });
        }
        self.gather(b, buf)?;
        let model = self.model.take().ok_or(TrainError::ModelMissing)?;
        self.distributed_update(model, GradientsParams::new(), b, &[], factor, 0.0)?;
        Ok(StepLosses { total: 0.0, main: 0.0, extra: vec![] })
    }

    /// The embedded input of `b` into `buf`: from this rank's tables, or, sharded, from the rows
    /// fetched from their owners (every rank joins the fetch, an empty shard too).
    pub fn gather(&self, b: &Batch<'_>, buf: &mut [f32]) -> Result<(), TrainError> {
        match self.shard {
            None => self.store.gather(&b.rows, &b.masks, buf),
            Some(me) => {
                let wanted = self.store.touched_ids(&b.rows, &b.masks);
                let f = crate::sharded::fetch(self.world.as_ref(), &self.store, me, wanted).map_err(dist_error)?;
                self.store.gather_with(&b.rows, &b.masks, buf, |t, id| f.row(t, id));
            }
        }
        Ok(())
    }

    /// Whether every rank's loss is finite (a step is skipped on all ranks or on none).
    fn all_finite(&self, total: f64) -> Result<bool, TrainError> {
        let mut bad = [f32::from(u8::from(!total.is_finite()))];
        self.world.all_reduce_sum(&mut bad).map_err(dist_error)?;
        Ok(bad[0] == 0.0)
    }

    /// The update of a data-parallel step: the ranks' dense gradients and touched rows, each
    /// weighted by the rank's `share` of the global batch, summed and applied alike on every rank.
    fn distributed_update(
        &mut self,
        model: CtrModel,
        gp: GradientsParams,
        b: &Batch<'_>,
        gx: &[f32],
        factor: f64,
        share: f32,
    ) -> Result<(), TrainError> {
        let world = self.world.clone();
        let gp =
            crate::distributed::combine_dense(world.as_ref(), &gp, &model, &self.device, share).map_err(dist_error)?;
        self.model = Some(self.optim.step(self.lr * factor, model, gp));
        let local: crate::distributed::RowGrads =
            (0..self.store.n_tables()).map(|t| self.store.row_gradients(t, &b.rows, &b.masks, gx)).collect();
        let mut merged = match self.shard {
            None => crate::distributed::merge_row_gradients(world.as_ref(), &local, self.store.dim(), share),
            Some(me) => crate::sharded::push(world.as_ref(), &self.store, me, &local, share),
        }
        .map_err(dist_error)?;
        self.store.apply_row_gradients(&mut merged, factor as f32);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use recdiff_data::SplitFile;
    use recdiff_dist::local::LocalWorld;
    use recdiff_model::base::BaseConfig;
    use recdiff_model::base::dcn::DcnV2Config;
    use recdiff_model::enhancer::asymdiffrec::AsymDiffRecConfig;
    use recdiff_model::{CtrModelConfig, EnhancerConfig, SparseOptimizer};

    const FIELDS: usize = 6;
    const BATCH: usize = 64;
    const STEPS: usize = 6;

    fn engine(enhancer: &EnhancerConfig) -> Engine {
        let device = Device::flex().autodiff();
        let base = BaseConfig::DcnV2(DcnV2Config { deep: vec![32, 16], dropout: 0.0, ..DcnV2Config::default() });
        let model = CtrModelConfig { base: base.clone(), enhancer: enhancer.clone() }.init(FIELDS, 4, 1, &device);
        let store =
            EmbeddingStore::new(&crate::synthetic::fields(FIELDS, 40), 4, SparseOptimizer::default(), 0.0, 0.1, 1);
        Engine::new(device, model, recdiff_experiment::optim::adam(0.0), store, base.latent_dim(), 1e-2, 1)
    }

    /// Each step's loss, and the tables after `STEPS` steps over the same global batches.
    fn train(mut e: Engine, split: &SplitFile) -> (Vec<f64>, Vec<Vec<f32>>) {
        let plan = e.model().enhance().noise_plan();
        let (mut rng, mut buf, mut losses) = (ChaCha8Rng::seed_from_u64(3), Vec::new(), Vec::new());
        for step in 0..STEPS {
            let idx: Vec<u32> = ((step % 4 * BATCH) as u32..((step % 4 + 1) * BATCH) as u32).collect();
            let b = batch::build(split, &idx, FIELDS, plan, &[0; FIELDS], &mut rng);
            losses.push(e.step(&b, 1.0, &mut buf, &mut rng, step as u64).unwrap().total);
        }
        (losses, e.store.tables.iter().map(|t| t.weights.clone()).collect())
    }

    #[test]
    fn n_ranks_on_shards_train_as_one_rank_at_the_full_batch_even_when_n_does_not_divide_it() {
        let dir = tempfile::tempdir().unwrap();
        let split = crate::synthetic::split(dir.path(), BATCH * 4, FIELDS, 40).unwrap();
        for enhancer in [EnhancerConfig::None, EnhancerConfig::AsymDiffRec(AsymDiffRecConfig::default())] {
            let (one, one_tables) = train(engine(&enhancer), &split);
            assert!(one[STEPS - 1] < one[0], "the single rank learns: {one:?}");
            // 3 ranks take 22, 21 and 21 of the 64 samples.
            for n in [2, 3] {
                let ranks = LocalWorld::run(n, |c| train(engine(&enhancer).with_world(c), &split));
                let ranks: Vec<_> = ranks.into_iter().map(Result::unwrap).collect();
                assert!(ranks.iter().all(|r| r.1 == ranks[0].1), "replicated tables stay identical ({n} ranks)");
                for (s, a) in one.iter().enumerate() {
                    // The global mean loss is the shards' means weighted by their shares.
                    let share = |r: usize| batch::shard_range(BATCH, r, n).len() as f64 / BATCH as f64;
                    let all: f64 = ranks.iter().enumerate().map(|(r, x)| share(r) * x.0[s]).sum();
                    assert!((a - all).abs() < 1e-4 * a.abs().max(1.0), "{n} ranks, step {s}: {a} vs {all}");
                }
                for (t, (a, b)) in one_tables.iter().zip(&ranks[0].1).enumerate() {
                    let worst = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
                    assert!(worst < 1e-4, "{n} ranks, table {t}: off by {worst} ({enhancer:?})");
                }
            }
        }
    }
}
