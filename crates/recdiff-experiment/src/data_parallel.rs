//! Data-parallel training for every family: what a loop needs to run as one rank of a world
//! ([`recdiff_dist::Collective`]): the start-up check, the rank's shard of each global batch,
//! the dense gradients combined over ranks, the global batch's loss, and a barrier.
//!
//! Each rank trains on its shard (`n_r` of `B` samples) with its loss averaged over the shard,
//! so the gradient of the global mean is the sum over ranks of each rank's gradient weighted by
//! its share `n_r / B`; [`combine_dense`] all-reduces exactly that. The CTR family adds its
//! embedding rows (`recdiff_train::distributed`, `recdiff_train::sharded`); the sequential and
//! top-K families' parameters are all dense, so this is their whole data-parallel step.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use recdiff_dist::identity::{Identity, check_world};
use recdiff_dist::{Collective, DistError, Single};
use std::ops::Range;
use std::sync::Arc;

/// The range of a global batch's `samples` that rank `rank` of `ranks` trains on: contiguous
/// and as equal as the count allows (the first `samples % ranks` ranks take one more).
pub fn shard_range(samples: usize, rank: usize, ranks: usize) -> Range<usize> {
    let (base, extra) = (samples / ranks, samples % ranks);
    let start = rank * base + rank.min(extra);
    start..start + base + usize::from(rank < extra)
}

/// A seed of rank `rank`'s own stream: `seed` itself in a world of one, distinct per rank
/// otherwise.
pub fn rank_seed(seed: u64, rank: usize, ranks: usize) -> u64 {
    if ranks == 1 { seed } else { seed ^ (rank as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03) }
}

/// A training loop's handle on its world.
#[derive(Clone)]
pub struct DataParallel {
    world: Arc<dyn Collective>,
}

impl DataParallel {
    pub fn new(world: Arc<dyn Collective>) -> Self {
        Self { world }
    }

    /// A world of one: every operation is the identity.
    pub fn single() -> Self {
        Self::new(Arc::new(Single))
    }

    pub fn world(&self) -> &dyn Collective {
        self.world.as_ref()
    }

    pub fn ranks(&self) -> usize {
        self.world.size()
    }

    pub fn rank(&self) -> usize {
        self.world.rank()
    }

    /// Whether this process writes the run (rank 0).
    pub fn is_root(&self) -> bool {
        self.world.rank() == 0
    }

    /// Refuses a world whose ranks run another binary or another resolved config (its every
    /// key: `resolved` is the config's TOML), or has more ranks than `batch_size`.
    pub fn check(&self, resolved: &str, batch_size: usize) -> Result<(), DistError> {
        if self.ranks() == 1 {
            return Ok(());
        }
        let hash = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(resolved.as_bytes()));
        let me = Identity::of_this_process(&hash, env!("CARGO_PKG_VERSION"))
            .map_err(|e| DistError::Collective { op: "identity", message: format!("hashing this executable: {e}") })?;
        check_world(self.world(), &me, batch_size)
    }

    /// This rank's part of a global batch.
    pub fn shard<'a, T>(&self, global: &'a [T]) -> &'a [T] {
        &global[shard_range(global.len(), self.rank(), self.ranks())]
    }

    /// A seed of this rank's own stream: the same `seed` in a world of one, distinct per rank
    /// otherwise (so ranks do not draw the same noise or dropout masks for their shards).
    pub fn rank_seed(&self, seed: u64) -> u64 {
        rank_seed(seed, self.rank(), self.ranks())
    }

    /// The global batch's loss from each rank's shard loss weighted by its `share`; NaN on every
    /// rank when any rank's loss is not finite (so all of them stop together).
    pub fn global_loss(&self, mine: f64, share: f64) -> Result<f64, DistError> {
        if self.ranks() == 1 {
            return Ok(mine);
        }
        let mut v = [(mine * share) as f32, f32::from(u8::from(!mine.is_finite()))];
        if !mine.is_finite() {
            v[0] = 0.0;
        }
        self.world.all_reduce_sum(&mut v)?;
        Ok(if v[1] > 0.0 { f64::NAN } else { v[0] as f64 })
    }
}

/// Waits until every rank of `c` gets here (nothing in a world of one).
pub fn barrier(c: &dyn Collective) -> Result<(), DistError> {
    if c.size() > 1 {
        c.all_reduce_sum(&mut [0.0])?;
    }
    Ok(())
}

/// Collects each float parameter's gradient, in visit order.
struct Flatten<'a> {
    grads: &'a GradientsParams,
    out: Vec<(burn::module::ParamId, Vec<usize>, Vec<f32>)>,
}

impl ModuleVisitor for Flatten<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let shape = param.val().shape().dims::<D>().to_vec();
        let n = shape.iter().product();
        let g = self.grads.get::<D>(param.id).and_then(|g| g.into_data().try_into_vec::<f32>().ok());
        self.out.push((param.id, shape, g.unwrap_or_else(|| vec![0.0; n])));
    }
}

/// Every dense gradient of `model` weighted by this rank's `share` of the global batch and summed
/// over ranks (a parameter without a gradient on a rank counts as zeros there), as a new
/// `GradientsParams`.
pub fn combine_dense<M: Module>(
    c: &dyn Collective,
    grads: &GradientsParams,
    model: &M,
    device: &Device,
    share: f32,
) -> Result<GradientsParams, DistError> {
    let mut f = Flatten { grads, out: Vec::new() };
    model.visit(&mut f);
    let mut flat: Vec<f32> = f.out.iter().flat_map(|(_, _, g)| g.iter().map(|v| v * share)).collect();
    c.all_reduce_sum(&mut flat)?;
    let mut out = GradientsParams::new();
    let mut at = 0;
    for (id, shape, g) in f.out {
        let values = flat[at..at + g.len()].to_vec();
        at += g.len();
        register(&mut out, id, values, &shape, device)?;
    }
    Ok(out)
}

fn register(
    out: &mut GradientsParams,
    id: burn::module::ParamId,
    v: Vec<f32>,
    shape: &[usize],
    device: &Device,
) -> Result<(), DistError> {
    match *shape {
        [a] => out.register::<1>(id, Tensor::from_data(TensorData::new(v, [a]), device)),
        [a, b] => out.register::<2>(id, Tensor::from_data(TensorData::new(v, [a, b]), device)),
        [a, b, c] => out.register::<3>(id, Tensor::from_data(TensorData::new(v, [a, b, c]), device)),
        [a, b, c, d] => out.register::<4>(id, Tensor::from_data(TensorData::new(v, [a, b, c, d]), device)),
        _ => {
            let message = format!("parameter {id} has {} dimensions (1 to 4 supported)", shape.len());
            return Err(DistError::Collective { op: "combine_dense", message });
        }
    }
    Ok(())
}

/// A rank's world and its own random stream: in a world of several ranks a model's draws for
/// its shard (negatives, diffusion noise) come from `local`, seeded per rank, while shuffling
/// stays on the loop's shared stream, which every rank draws alike; in a world of one `local`
/// is `None` and everything draws from the shared stream, as a single process always has.
pub struct Ranks {
    pub dp: DataParallel,
    pub local: Option<rand_chacha::ChaCha8Rng>,
}

impl Ranks {
    pub fn single() -> Self {
        Self { dp: DataParallel::single(), local: None }
    }

    /// `world`, with this rank's stream seeded from `seed`.
    pub fn new(world: Arc<dyn Collective>, seed: u64) -> Self {
        use rand::SeedableRng;
        let dp = DataParallel::new(world);
        let local = (dp.ranks() > 1).then(|| rand_chacha::ChaCha8Rng::seed_from_u64(dp.rank_seed(seed) ^ 0x5EED));
        Self { dp, local }
    }

    /// The stream a model draws from: this rank's own, or `shared` in a world of one.
    pub fn draws<'a>(&'a mut self, shared: &'a mut rand_chacha::ChaCha8Rng) -> &'a mut rand_chacha::ChaCha8Rng {
        self.local.as_mut().unwrap_or(shared)
    }

    /// The update of one data-parallel step from this rank's `grads` on `mine` of `global`
    /// samples: the dense gradients of the whole batch (identity in a world of one) and the
    /// global batch's loss (NaN on every rank when any rank's was not finite).
    pub fn combine<M: Module>(
        &self,
        grads: GradientsParams,
        loss: f64,
        model: &M,
        device: &Device,
        (mine, global): (usize, usize),
    ) -> Result<(GradientsParams, f64), DistError> {
        if self.dp.ranks() == 1 {
            return Ok((grads, loss));
        }
        let share = mine as f64 / global.max(1) as f64;
        let loss = self.dp.global_loss(loss, share)?;
        if !loss.is_finite() {
            return Ok((grads, loss));
        }
        Ok((combine_dense(self.dp.world(), &grads, model, device, share as f32)?, loss))
    }
}
