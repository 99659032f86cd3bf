//! Training a top-K model: one epoch is the users with training items in seeded random order,
//! batches densified per batch, each an Adam step ([`Trainer`]); the epochs, validation, early
//! stopping, the `last/` checkpoint, the best weights (`best.safetensors` with `items.json`, and
//! L-DiffRec's item groups `groups.json`, under a manifest), `log.jsonl` and `results.json` are
//! the experiment layer's [`fit`], driving this family's [`TopKTask`].

use crate::batch::{train_rows, user_ids};
use crate::task::TopKTask;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use recdiff_data::user_item::UserItemSplit;
use recdiff_experiment::RunRecord;
use recdiff_experiment::data_parallel::Ranks;
use recdiff_experiment::fit::{FitSpec, RunDir, fit};
use recdiff_experiment::fused_adam::FusedAdam;
use recdiff_model::topk::timesteps::StepSampler;
use recdiff_model::topk::{Shape, StepContext, TopKModel};
use recdiff_run::topk_config::TopKExperimentConfig;

pub use recdiff_run::topk::{GROUPS_FILE, ITEMS_FILE, WEIGHTS_FILE, load_data};

/// The family's error: the one the epoch-based families share.
pub use recdiff_experiment::TaskError as TopKError;

/// The model of `cfg` for `split`, weights drawn from the config's seed. A model that groups its
/// items (L-DiffRec) gets them clustered from the training matrix first, from the same seed
/// ([`crate::clusters::item_groups`]); the groups are saved with the run (`groups.json`), which
/// opening the run builds the network from without clustering again.
pub fn init_model(cfg: &TopKExperimentConfig, split: &UserItemSplit, device: &Device) -> Result<TopKModel, TopKError> {
    let groups = match cfg.model.item_clusters() {
        Some((k, svd_dim)) => Some(
            crate::clusters::item_groups(&split.train, split.n_items, k, svd_dim, cfg.seed)
                .map_err(TopKError::Model)?,
        ),
        None => None,
    };
    let shape = Shape { users: split.train.rows(), items: split.n_items, item_groups: groups.as_deref() };
    cfg.model.init(&shape, cfg.seed, device).map_err(TopKError::Model)
}

/// The training state carried across epochs.
pub struct Trainer<'a> {
    pub cfg: &'a TopKExperimentConfig,
    pub split: &'a UserItemSplit,
    pub model: Option<TopKModel>,
    /// burn's Adam, bit for bit, in one pass per weight.
    pub(crate) optim: FusedAdam,
    pub(crate) sampler: StepSampler,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) step: u64,
    device: Device,
    /// The data-parallel world and this rank's own stream ([`Ranks::single`] for one process).
    ranks: Ranks,
}

impl<'a> Trainer<'a> {
    /// The trainer of `cfg` on `split` (L-DiffRec clusters the training items here).
    pub fn new(cfg: &'a TopKExperimentConfig, split: &'a UserItemSplit) -> Result<Self, TopKError> {
        let model_table = toml::Table::try_from(&cfg.model).unwrap_or_default();
        let (items, batch) = (split.n_items as f64, cfg.train.batch_size.max(cfg.train.eval_batch_size) as f64);
        // Refused before a layer is allocated, naming the key that drives it.
        recdiff_run::budget::ranking(&model_table, items, batch, items)
            .check(&cfg.output_dir(), recdiff_run::budget::limit())?;
        let device = Device::flex().autodiff();
        let model = init_model(cfg, split, &device)?;
        Ok(Self {
            model: Some(model),
            optim: FusedAdam::new(cfg.train.weight_decay),
            sampler: cfg.model.sampler(),
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            step: 0,
            cfg,
            split,
            device,
            ranks: Ranks::single(),
        })
    }

    /// This trainer as one rank of a data-parallel world: users are shuffled alike on every
    /// rank, each rank steps on its shard of every batch (its model draws from its own stream),
    /// and the dense gradients of the whole batch update every replica alike.
    pub fn in_world(mut self, ranks: Ranks) -> Self {
        self.ranks = ranks;
        self
    }

    /// One epoch over the users with training items; returns the mean batch loss.
    pub fn epoch(&mut self) -> Result<f64, TopKError> {
        self.epoch_steps(usize::MAX)
    }

    /// The first `max_steps` batches of an epoch (all of them with `usize::MAX`); returns the mean
    /// batch loss. `recdiff bench topk` times a few steps of a large epoch this way.
    pub fn epoch_steps(&mut self, max_steps: usize) -> Result<f64, TopKError> {
        let (cfg, split) = (self.cfg, self.split);
        let mut users = split.train_users();
        users.shuffle(&mut self.rng);
        let (mut total, mut batches) = (0.0, 0usize);
        let seed = self.ranks.dp.rank_seed(cfg.seed);
        for global in users.chunks(cfg.train.batch_size).take(max_steps) {
            let chunk = self.ranks.dp.shard(global);
            let m = self.model.take().ok_or(TopKError::ModelMissing)?;
            let stream = self.rng.random::<u64>();
            let (grads, value) = if chunk.is_empty() {
                // A rank whose shard of a short last batch is empty still joins the exchange.
                (GradientsParams::new(), 0.0)
            } else {
                let x = train_rows(split, chunk, cfg.model.recency(), &self.device);
                let ids = user_ids(chunk, &self.device);
                let (rng, sampler, step) = (self.ranks.draws(&mut self.rng), &mut self.sampler, self.step);
                let loss = recdiff_model::seeding::seeded_forward(&self.device, seed, stream, || {
                    m.loss(x, ids, &mut StepContext { step, rng, sampler })
                });
                let value = loss.clone().into_scalar::<f32>() as f64;
                (GradientsParams::from_grads(loss.backward(), &m), value)
            };
            let (grads, value) = self.ranks.combine(grads, value, &m, &self.device, (chunk.len(), global.len()))?;
            if !value.is_finite() {
                return Err(TopKError::NonFinite { value, at: format!("step {}", self.step) });
            }
            self.model = Some(self.optim.step(cfg.train.lr, m, grads).map_err(TopKError::Optimizer)?);
            self.step += 1;
            total += value;
            batches += 1;
        }
        Ok(total / batches.max(1) as f64)
    }

    /// The current weights on the inference backend.
    pub fn current(&self) -> Result<TopKModel, TopKError> {
        Ok(self.model.as_ref().ok_or(TopKError::ModelMissing)?.valid())
    }
}

/// Trains `cfg` with early stopping and evaluates the best epoch on the test items.
pub fn run(cfg: &TopKExperimentConfig) -> Result<RunRecord, TopKError> {
    run_in(cfg, Ranks::single(), false)
}

/// [`run`] as one rank of a data-parallel world (`recdiff train --distributed`), continuing the
/// run's `last/` checkpoint when `resume` is set: the world is checked first, each rank trains on
/// its shard of every batch ([`Trainer::in_world`]), every rank evaluates its (identical)
/// replica, and rank 0 alone writes the run. The loop is the experiment layer's [`fit`].
pub fn run_in(cfg: &TopKExperimentConfig, ranks: Ranks, resume: bool) -> Result<RunRecord, TopKError> {
    let run = RunDir::open(cfg, &ranks.dp, resume)?;
    let (data, split) = load_data(cfg)?;
    let items = serde_json::to_vec(&data.items[1..])?;
    run.write(ITEMS_FILE, &items)?;
    let trainer = Trainer::new(cfg, &split)?.in_world(ranks);
    let groups = match &trainer.model {
        Some(TopKModel::Ldiffrec(m)) => Some(serde_json::to_vec(&m.groups().items)?),
        _ => None,
    };
    if let Some(groups) = &groups {
        run.write(GROUPS_FILE, groups)?;
    }
    let mut task = TopKTask::new(trainer, items, groups);
    let spec = FitSpec::new(cfg, crate::family::FAMILY, task.fingerprint(), &run, resume)?;
    Ok(fit(&spec, &mut task)?)
}
