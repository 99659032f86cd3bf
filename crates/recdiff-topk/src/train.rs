//! Training a top-K model: the users with training items in seeded random order, batches
//! densified per batch, Adam, validation every few epochs with early stopping on the configured
//! metric, the best weights kept and saved (`best.safetensors` with `items.json` and a manifest),
//! test metrics of the best weights, `log.jsonl` per validation and `results.json` (and L-DiffRec's
//! item groups, `groups.json`).

use crate::batch::{train_rows, user_ids};
use crate::eval::{TopKMetrics, evaluate};
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::Device;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use recdiff_data::histories::Interactions;
use recdiff_data::user_item::UserItemSplit;
use recdiff_experiment::data_parallel::Ranks;
use recdiff_experiment::fused_adam::FusedAdam;
use recdiff_experiment::{EarlyStopping, RunRecord, StopState, Verdict};
use recdiff_model::topk::timesteps::StepSampler;
use recdiff_model::topk::{StepContext, TopKModel};
use recdiff_run::topk_config::TopKExperimentConfig;
use recdiff_run::topk_config::{Positives, SplitOrder};
use serde::Serialize;
use std::time::Instant;

pub const WEIGHTS_FILE: &str = "best.safetensors";
/// L-DiffRec's item groups (item ids per group), which its weights are laid out by.
pub const GROUPS_FILE: &str = "groups.json";
pub const ITEMS_FILE: &str = "items.json";

#[derive(Debug, thiserror::Error)]
pub enum TopKError {
    #[error(transparent)]
    Data(#[from] recdiff_data::DataError),
    #[error(transparent)]
    Metric(#[from] recdiff_metrics::MetricError),
    #[error("{0}")]
    Other(String),
}

fn other(e: impl std::fmt::Display) -> TopKError {
    TopKError::Other(e.to_string())
}

#[derive(Debug, Clone)]
pub struct TopKRunSummary {
    pub record: RunRecord,
    pub valid: TopKMetrics,
    pub test: TopKMetrics,
    /// Training seconds per epoch (no evaluation).
    pub train_seconds_per_epoch: f64,
}

#[derive(Serialize)]
struct LogRecord<'a> {
    epoch: usize,
    loss: f64,
    seconds: f64,
    valid: &'a [(String, f64)],
}

/// The data a config names: the interactions (all, or the label-positive ones; time order where
/// the schema has a timestamp) and their per-user split (random, or by time).
pub fn load_data(cfg: &TopKExperimentConfig) -> Result<(Interactions, UserItemSplit), TopKError> {
    let schema = recdiff_data::Schema::load(&cfg.data.schema)?;
    let (order, positives) = (cfg.data.order, cfg.data.positives);
    if order == SplitOrder::Time && schema.keys.timestamp.is_none() {
        return Err(other(format!("data.order = \"time\": schema '{}' has no timestamp key", schema.name)));
    }
    let data = Interactions::load_filtered(&schema, None, false, positives == Positives::Label)?;
    let split = match order {
        SplitOrder::Random => UserItemSplit::new(&data, cfg.data.ratios, cfg.data.split_seed),
        SplitOrder::Time => UserItemSplit::by_time(&data, cfg.data.ratios),
    };
    Ok((data, split))
}

/// The training state carried across epochs.
pub struct Trainer<'a> {
    pub cfg: &'a TopKExperimentConfig,
    pub split: &'a UserItemSplit,
    pub model: Option<TopKModel>,
    /// burn's Adam, bit for bit, in one pass per weight (top-K runs do not resume, so its moments
    /// need no record).
    optim: FusedAdam,
    sampler: StepSampler,
    rng: ChaCha8Rng,
    step: u64,
    device: Device,
    /// The data-parallel world and this rank's own stream ([`Ranks::single`] for one process).
    ranks: Ranks,
}

impl<'a> Trainer<'a> {
    /// The trainer of `cfg` on `split` (L-DiffRec clusters the training items here).
    pub fn new(cfg: &'a TopKExperimentConfig, split: &'a UserItemSplit) -> Result<Self, TopKError> {
        let device = Device::flex().autodiff();
        let model =
            cfg.model.init(&split.train, split.n_items, cfg.seed, &device).map_err(|e| other(format!("model.{e}")))?;
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
            let m = self.model.take().ok_or_else(|| other("model missing"))?;
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
            let (grads, value) =
                self.ranks.combine(grads, value, &m, &self.device, (chunk.len(), global.len())).map_err(other)?;
            if !value.is_finite() {
                return Err(other(format!("loss became {value} at step {}", self.step)));
            }
            self.model = Some(self.optim.step(cfg.train.lr, m, grads).map_err(other)?);
            self.step += 1;
            total += value;
            batches += 1;
        }
        Ok(total / batches.max(1) as f64)
    }

    /// The current weights on the inference backend.
    pub fn current(&self) -> Result<TopKModel, TopKError> {
        Ok(self.model.as_ref().ok_or_else(|| other("model missing"))?.valid())
    }
}

/// Trains `cfg` with early stopping and evaluates the best epoch on the test items.
pub fn run(cfg: &TopKExperimentConfig) -> Result<TopKRunSummary, TopKError> {
    run_in(cfg, Ranks::single())
}

/// [`run`] as one rank of a data-parallel world (`recdiff train --distributed`): the world is
/// checked first, each rank trains on its shard of every batch ([`Trainer::in_world`]), every
/// rank evaluates its (identical) replica, and rank 0 alone writes the run.
pub fn run_in(cfg: &TopKExperimentConfig, ranks: Ranks) -> Result<TopKRunSummary, TopKError> {
    let started_run = Instant::now();
    let out = cfg.output_dir();
    let resolved = toml::to_string_pretty(cfg).map_err(other)?;
    ranks.dp.check(&resolved, cfg.train.batch_size).map_err(|e| other(format!("data-parallel training: {e}")))?;
    let root = ranks.dp.is_root();
    std::fs::create_dir_all(&out).map_err(|e| other(format!("{}: {e}", out.display())))?;
    let write =
        |name: &str, bytes: &[u8]| if root { recdiff_data::write_atomic(&out.join(name), bytes) } else { Ok(()) };
    write("config.resolved.toml", resolved.as_bytes())?;
    let (data, split) = load_data(cfg)?;
    let items = serde_json::to_vec(&data.items[1..]).map_err(other)?;
    write(ITEMS_FILE, &items)?;
    let mut trainer = Trainer::new(cfg, &split)?.in_world(ranks);
    if let Some(TopKModel::Ldiffrec(m)) = &trainer.model {
        let groups = serde_json::to_vec(&m.groups().items).map_err(other)?;
        write(GROUPS_FILE, &groups)?;
    }
    let inner = Device::flex();
    let rule = EarlyStopping { higher_is_better: true, patience: cfg.train.patience };
    let (mut stop, mut best, mut epochs_run, mut train_secs) = (StopState::default(), None, 0, 0.0);
    let mut log = String::new();
    for epoch in 1..=cfg.train.epochs {
        let started = Instant::now();
        let loss = trainer.epoch()?;
        train_secs += started.elapsed().as_secs_f64();
        epochs_run = epoch;
        if epoch % cfg.train.eval_every_epochs != 0 && epoch != cfg.train.epochs {
            continue;
        }
        let current = trainer.current()?;
        let valid = evaluate(&current, &split, false, cfg, &inner)?;
        let score = valid.get(&cfg.train.metric);
        let verdict = rule.observe(&mut stop, &cfg.train.metric, score, epoch as u64).map_err(other)?;
        let record = LogRecord { epoch, loss, seconds: started.elapsed().as_secs_f64(), valid: &valid.values };
        log.push_str(&serde_json::to_string(&record).map_err(other)?);
        log.push('\n');
        write("log.jsonl", log.as_bytes())?;
        tracing::info!("{} epoch {epoch}: loss {loss:.4}, valid {} {:?}", cfg.name, cfg.train.metric, score);
        match verdict {
            Verdict::Improved => best = Some(current),
            Verdict::Continue => {}
            Verdict::Stop => break,
        }
    }
    let best = best.ok_or_else(|| other("no validation ran"))?;
    if root {
        let weights = recdiff_run::manifest::save_weights(&best, &out.join(WEIGHTS_FILE))
            .map_err(|e| TopKError::Other(e.to_string()))?;
        let fingerprint = recdiff_run::manifest::fingerprint(&(&cfg.model, split.n_users, split.n_items));
        recdiff_run::manifest::Manifest::new(fingerprint, &[(WEIGHTS_FILE, &weights), (ITEMS_FILE, &items)])
            .save(&out)
            .map_err(other)?;
    }
    let valid = evaluate(&best, &split, false, cfg, &inner)?;
    let test = evaluate(&best, &split, true, cfg, &inner)?;
    let steps_per_epoch = split.train_users().len().div_ceil(cfg.train.batch_size) as u64;
    let record = RunRecord {
        name: cfg.name.clone(),
        family: crate::family::FAMILY.into(),
        model: cfg.model.name().into(),
        seed: cfg.seed,
        config_hash: recdiff_experiment::hash::config_hash(cfg).map_err(other)?,
        epochs: epochs_run,
        steps: steps_per_epoch * epochs_run as u64,
        best_epoch: stop.best_at as usize,
        best_step: steps_per_epoch * stop.best_at,
        seconds: started_run.elapsed().as_secs_f64(),
        seconds_per_epoch: train_secs / epochs_run.max(1) as f64,
        valid: valid.to_metrics(),
        test: test.to_metrics(),
    };
    if root {
        record.save(&out).map_err(other)?;
    }
    Ok(TopKRunSummary { record, valid, test, train_seconds_per_epoch: train_secs / epochs_run.max(1) as f64 })
}
