//! A CTR training session: the prepared data, the engine (burn Adam for dense weights, sparse
//! Adam/Adagrad for touched embedding rows) and the run directory, in one process or as one rank of
//! a data-parallel world. The loop that drives it (epochs, validation every epoch or every N
//! steps, early stopping, the best and last checkpoints, the log and resumption) is the one every
//! family shares, `recdiff_experiment::fit`, through [`crate::task::CtrTask`].

use crate::batch::{self, Batch, Probe};
use crate::checkpoint::{self, Contents, LoopState};
use crate::config::{ExperimentConfig, Schedule};
use crate::engine::{Engine, StepLosses};
use crate::eval::{self, EvalMetrics};
use crate::{TrainError, data};
use burn::module::Module;
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use recdiff_data::{EncodedMeta, SplitFile};
use recdiff_dist::{Collective, Single};
use recdiff_experiment::RunRecord;
pub use recdiff_experiment::log::LogLine;
use recdiff_model::{EmbeddingStore, Shard};
use recdiff_run::config::TablePlacement;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a finished run reports: its `results.json` record, and the CTR metrics behind it.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub record: RunRecord,
    pub valid: EvalMetrics,
    pub test: EvalMetrics,
}

/// Everything a CTR run trains and writes with.
pub struct Session {
    pub cfg: ExperimentConfig,
    pub meta: EncodedMeta,
    pub engine: Engine,
    /// Optimiser steps taken (what the steps' random streams and annealing are keyed by).
    pub step: u64,
    /// Optimiser steps in one epoch of the train split.
    per_epoch: u64,
    pub out: PathBuf,
    pub data_dir: PathBuf,
    /// The architecture fingerprint its checkpoints carry.
    pub fingerprint: String,
    /// The data-parallel world ([`Single`] for one process); rank 0 writes the run.
    world: Arc<dyn Collective>,
}

/// Learning-rate factor at `step` of `total` steps (epoch boundaries for step decay).
pub fn lr_factor(schedule: Schedule, warmup: usize, step: u64, total: u64, steps_per_epoch: u64) -> f64 {
    let warm = if warmup > 0 && step < warmup as u64 { (step + 1) as f64 / warmup as f64 } else { 1.0 };
    let decay = match schedule {
        Schedule::Constant => 1.0,
        Schedule::Cosine { min_factor } => {
            let t = (step as f64 / total.max(1) as f64).min(1.0);
            min_factor + (1.0 - min_factor) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
        }
        Schedule::Step { every_epochs, factor } => {
            factor.powi((step / steps_per_epoch.max(1) / every_epochs.max(1) as u64) as i32)
        }
    };
    warm * decay
}

impl Session {
    /// Prepares data and builds a fresh model. With `resume`, the config is checked against the
    /// run's before anything is written into it (so a refused resume leaves a working run as it
    /// was) and a checkpoint switch cut short by a crash is recovered; the training loop then
    /// restores the state of `<out>/last`.
    pub fn new(cfg: &ExperimentConfig, resume: bool) -> Result<Self, TrainError> {
        Self::new_in(cfg, resume, Arc::new(Single))
    }

    /// [`Session::new`] as one rank of `world`: the world is checked first (same binary, same
    /// resolved config), the data is prepared rank by rank, and only rank 0 writes into the run;
    /// every rank trains on its shard of each batch (`crate::world`).
    pub fn new_in(cfg: &ExperimentConfig, resume: bool, world: Arc<dyn Collective>) -> Result<Self, TrainError> {
        crate::world::check_identity(&world, cfg)?;
        let root = world.rank() == 0;
        let out = cfg.output_dir();
        recdiff_run::layout::check_run_dir(&out)?;
        std::fs::create_dir_all(&out).map_err(|e| TrainError::io(&out, e))?;
        if resume {
            check_same_config(cfg, &out)?;
        }
        let (meta, data_dir) = crate::world::in_turns(world.as_ref(), || data::prepare(cfg, &out))?;
        // Refused before a table or a layer is allocated, naming the key that drives it.
        recdiff_run::ctr::memory_estimate(cfg, &meta).check(&out, recdiff_run::budget::limit())?;
        let fingerprint = recdiff_run::ctr::fingerprint(cfg, &meta);
        let device = Device::flex().autodiff();
        let m = &cfg.model;
        let model = m.ctr().init(meta.fields.len(), m.embedding_dim, cfg.seed, &device);
        let optim = recdiff_experiment::optim::adam(cfg.train.weight_decay);
        let row_wise = cfg.distributed.tables == TablePlacement::RowWise && world.size() > 1;
        let shard = if row_wise { Shard { rank: world.rank(), ranks: world.size() } } else { Shard::WHOLE };
        let store = EmbeddingStore::new_shard(
            &meta.fields,
            m.embedding_dim,
            m.embedding_optimizer,
            m.embedding_l2,
            m.embedding_init_std,
            cfg.seed,
            shard,
        );
        let engine = Engine::new(device, model, optim, store, m.base.latent_dim(), cfg.train.lr, cfg.seed)
            .with_world(world.clone())
            .with_row_wise_tables(shard);
        if resume {
            for name in ["last", "best"].into_iter().filter(|_| root) {
                recdiff_run::manifest::recover(&out.join(name))?;
            }
            crate::world::barrier(world.as_ref())?;
        }
        let resolved = toml::to_string_pretty(cfg)?;
        if root {
            recdiff_data::write_atomic(&out.join("config.resolved.toml"), resolved.as_bytes())?;
            // The codecs and vocabularies travel with the run, so `recdiff serve` needs only the run dir.
            let meta_json = serde_json::to_vec_pretty(&meta)?;
            recdiff_data::write_atomic(&out.join(recdiff_data::encode::META_FILE), &meta_json)?;
        }
        crate::world::check_shared_run_dir(world.as_ref(), &out, resolved.as_bytes())?;
        let train = SplitFile::open(&EncodedMeta::split_path(&data_dir, recdiff_data::split::TRAIN))?;
        let per_epoch = train.len().div_ceil(cfg.train.batch_size).max(1) as u64;
        Ok(Self { cfg: cfg.clone(), meta, engine, step: 0, per_epoch, out, data_dir, fingerprint, world })
    }

    pub fn split(&self, s: u8) -> Result<SplitFile, TrainError> {
        Ok(SplitFile::open(&EncodedMeta::split_path(&self.data_dir, s))?)
    }

    /// One optimiser step on `b`.
    pub(crate) fn train_step(
        &mut self,
        b: &Batch<'_>,
        factor: f64,
        buf: &mut Vec<f32>,
        rng: &mut ChaCha8Rng,
    ) -> Result<StepLosses, TrainError> {
        let parts = self.engine.step(b, factor, buf, rng, self.step)?;
        let share = b.samples as f64 / b.global_samples.max(1) as f64;
        let parts = crate::world::global_losses(self.world.as_ref(), parts, share)?;
        if !parts.total.is_finite() {
            return Err(TrainError::Diverged { step: self.step, loss: parts.total });
        }
        self.step += 1;
        let every = self.cfg.distributed.checksum_every_steps;
        if self.world.size() > 1 && every > 0 && self.step.is_multiple_of(every) {
            let e = &self.engine;
            let sum = crate::world::state_checksum(e.model(), &e.store, e.shard() == Shard::WHOLE);
            crate::world::check_replicas(self.world.as_ref(), sum, self.step)?;
        }
        Ok(parts)
    }

    /// Validation metrics of the current weights.
    pub fn evaluate(&self, split: &SplitFile, probe: &Probe) -> Result<EvalMetrics, TrainError> {
        let valid_model = self.engine.model().valid();
        let device = self.engine.device.clone().inner();
        let t = &self.cfg.train;
        let label = format!("{} valid", self.cfg.name);
        let how = eval::Scoring {
            batch_size: t.eval_batch_size,
            seed: self.cfg.seed,
            progress: (t.progress && self.is_root()).then_some(label.as_str()),
        };
        let (c, store) = (self.world.as_ref(), &self.engine.store);
        // Each rank scores its shard of the rows (one process: all of them); the metrics are
        // computed over all the scores.
        let range = batch::shard_range(split.len(), c.rank(), c.size());
        let mine = if self.engine.shard() == Shard::WHOLE {
            eval::predict_rows(&valid_model, store, split, range, &device, probe, how)?
        } else {
            self.predict_sharded(&valid_model, split, range, probe)?
        };
        Ok(eval::metrics(&crate::world::gather_f32(c, &mine)?, split)?)
    }

    /// Scores rows `range` of `split` with row-wise sharded tables: every rank takes as many
    /// batches as the largest shard needs (an empty one still joins each row fetch).
    fn predict_sharded(
        &self,
        model: &recdiff_model::CtrModel,
        split: &SplitFile,
        range: std::ops::Range<usize>,
        probe: &Probe,
    ) -> Result<Vec<f32>, TrainError> {
        let (c, bs) = (self.world.as_ref(), self.cfg.train.eval_batch_size.max(1));
        let batches = split.len().div_ceil(c.size()).div_ceil(bs);
        let (device, fields) = (self.engine.device.clone().inner(), self.engine.store.fields());
        let mut rng = ChaCha8Rng::seed_from_u64(self.cfg.seed);
        let (mut probs, mut buf) = (Vec::with_capacity(range.len()), Vec::new());
        let rows: Vec<u32> = (range.start as u32..range.end as u32).collect();
        for i in 0..batches {
            let chunk = rows.get(i * bs..((i + 1) * bs).min(rows.len())).unwrap_or_default();
            let b = batch::build_eval(split, chunk, fields, probe, &mut rng);
            buf.resize(b.rows.len() * self.engine.store.width(), 0.0);
            self.engine.gather(&b, &mut buf)?;
            probs.extend(eval::score_gathered(model, &b, &buf, fields, &device)?);
        }
        Ok(probs)
    }

    /// Whether this process writes the run (rank 0, or the only process).
    pub fn is_root(&self) -> bool {
        self.world.rank() == 0
    }

    /// The data-parallel world this session is a rank of.
    pub fn world(&self) -> &Arc<dyn Collective> {
        &self.world
    }

    /// Writes the checkpoint `dir` of the current state, with `extra` files; rank 0 writes the
    /// state every rank holds alike, and with row-wise sharded tables every rank writes its
    /// shard's tables into it as well.
    pub fn save_checkpoint(&self, dir: &Path, extra: &[(String, Vec<u8>)]) -> Result<(), TrainError> {
        let (e, per_epoch) = (&self.engine, self.per_epoch);
        let state = LoopState { epoch: (self.step / per_epoch) as usize, step: self.step };
        let contents = Contents { model: e.model(), optim: &e.optim, store: &e.store, state, extra };
        Ok(checkpoint::save(self.world.as_ref(), e.shard(), dir, &self.fingerprint, &contents)?)
    }

    /// Optimiser steps in one epoch of the train split (counted once, when the session opens).
    pub fn steps_per_epoch(&self) -> u64 {
        self.per_epoch
    }

    /// Replaces the weights with the best checkpoint's.
    pub fn load_best(&mut self) -> Result<(), TrainError> {
        // Every rank reads what rank 0 wrote.
        crate::world::barrier(self.world.as_ref())?;
        let best = self.out.join("best");
        self.engine.load_checkpoint(&best, &self.fingerprint, false)?;
        Ok(())
    }
}

/// Group index of each field (fields without a group form one group), for correlated masking.
pub fn field_groups(meta: &EncodedMeta) -> Vec<usize> {
    let mut names: Vec<Option<&str>> = Vec::new();
    meta.fields
        .iter()
        .map(|f| {
            let g = f.group.as_deref();
            names.iter().position(|n| *n == g).unwrap_or_else(|| {
                names.push(g);
                names.len() - 1
            })
        })
        .collect()
}

/// Trains an experiment end to end and returns its summary.
pub fn run(cfg: &ExperimentConfig, resume: bool) -> Result<RunSummary, TrainError> {
    run_in(cfg, resume, Arc::new(Single))
}

/// [`run`] as one rank of `world` (data-parallel training; rank 0 writes the run).
pub fn run_in(cfg: &ExperimentConfig, resume: bool, world: Arc<dyn Collective>) -> Result<RunSummary, TrainError> {
    let session = Session::new_in(cfg, resume, world)?;
    let spec = crate::task::spec(cfg, session.fingerprint.clone(), session.is_root(), resume)?;
    let mut task = crate::task::CtrTask::new(session)?;
    let record = recdiff_experiment::fit::fit(&spec, &mut task)?;
    let (valid, test) = task.metrics().ok_or(TrainError::Other("the run finished without its metrics".into()))?;
    Ok(RunSummary { record, valid, test })
}

/// The config hash of `cfg` (what keys its run directory).
pub fn config_hash(cfg: &ExperimentConfig) -> Result<String, TrainError> {
    Ok(recdiff_experiment::hash::config_hash(cfg)?)
}

/// Resuming continues only the run of the same config: a changed config would mix two experiments.
/// Only `train.epochs` may differ, so a finished run can be trained for longer.
fn check_same_config(cfg: &ExperimentConfig, out: &Path) -> Result<(), TrainError> {
    let Ok(mut old) = load_run_config(out) else { return Ok(()) };
    old.train.epochs = cfg.train.epochs;
    let (was, now) = (config_hash(&old)?, config_hash(cfg)?);
    if was != now {
        return Err(TrainError::Other(format!(
            "{}: the checkpoint there was trained under another config (hash {was}, now {now}); \
             resume it with that config, or train into another output",
            out.display()
        )));
    }
    Ok(())
}

/// The output directory of a finished run holds its resolved config.
pub fn load_run_config(run: &Path) -> Result<ExperimentConfig, TrainError> {
    Ok(recdiff_run::ctr::load_config(run)?)
}
