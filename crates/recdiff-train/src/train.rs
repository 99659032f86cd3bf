//! The training loop: seeded shuffling of the memory-mapped train split, one optimiser step per
//! batch (burn Adam for dense weights, sparse Adam/Adagrad for touched embedding rows), validation
//! every epoch or every N steps, early stopping with patience, keep-best and last checkpoints,
//! a JSONL log of every evaluation, and resumption from the last checkpoint.

use crate::batch::{self, Batch, Probe};
use crate::checkpoint::{self, LoopState};
use crate::config::{ExperimentConfig, Schedule};
use crate::engine::{Engine, StepLosses};
use crate::eval::{self, EvalMetrics};
use crate::run_log::{LossSums, append_log, trim_log};
use crate::{TrainError, data};
use burn::module::Module;
use burn::tensor::Device;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use recdiff_data::{EncodedMeta, SplitFile};
use recdiff_dist::{Collective, Single};
pub use recdiff_experiment::log::LogLine;
use recdiff_experiment::{EarlyStopping, RunRecord, StopState, Verdict};
use recdiff_model::{EmbeddingStore, Shard};
use recdiff_run::config::TablePlacement;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// What a finished run reports: its `results.json` record, and the CTR metrics behind it.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub record: RunRecord,
    pub valid: EvalMetrics,
    pub test: EvalMetrics,
}

/// Everything the loop mutates.
pub struct Session {
    pub cfg: ExperimentConfig,
    pub meta: EncodedMeta,
    pub engine: Engine,
    pub state: LoopState,
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
    /// Prepares data, builds a fresh model, and resumes from `<out>/last` when `resume` is set and
    /// a checkpoint is there. Everything is checked (config, checkpoint checksums and
    /// architecture) before anything is written into the run, so a refused resume leaves a working
    /// run as it was. A checkpoint switch cut short by a crash is recovered first, and the log
    /// loses the lines written after the checkpoint resumed from.
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
        std::fs::create_dir_all(&out).map_err(|e| TrainError::io(&out, e))?;
        let last = out.join("last");
        if resume {
            check_same_config(cfg, &out)?;
        }
        let (meta, data_dir) = crate::world::in_turns(world.as_ref(), || data::prepare(cfg, &out))?;
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
        let mut state = LoopState { epoch: 0, step: 0, stop: StopState::default() };
        let mut engine = Engine::new(device, model, optim, store, m.base.latent_dim(), cfg.train.lr, cfg.seed)
            .with_world(world.clone())
            .with_row_wise_tables(shard);
        if resume {
            for name in ["last", "best"].into_iter().filter(|_| root) {
                recdiff_run::manifest::recover(&out.join(name))?;
            }
            crate::world::barrier(world.as_ref())?;
            if last.exists() {
                state = engine.load_checkpoint(&last, &fingerprint, true)?;
                tracing::info!("resumed from {} at epoch {}, step {}", last.display(), state.epoch, state.step);
            }
        }
        let resolved = toml::to_string_pretty(cfg)?;
        if root {
            recdiff_data::write_atomic(&out.join("config.resolved.toml"), resolved.as_bytes())?;
            // The codecs and vocabularies travel with the run, so `recdiff serve` needs only the run dir.
            let meta_json = serde_json::to_vec_pretty(&meta)?;
            recdiff_data::write_atomic(&out.join(recdiff_data::encode::META_FILE), &meta_json)?;
            trim_log(&out, resume.then_some(state.step))?;
        }
        crate::world::check_shared_run_dir(world.as_ref(), &out, resolved.as_bytes())?;
        Ok(Self { cfg: cfg.clone(), meta, engine, state, out, data_dir, fingerprint, world })
    }

    pub fn split(&self, s: u8) -> Result<SplitFile, TrainError> {
        Ok(SplitFile::open(&EncodedMeta::split_path(&self.data_dir, s))?)
    }

    /// One optimiser step on `b`.
    fn step(
        &mut self,
        b: &Batch<'_>,
        factor: f64,
        buf: &mut Vec<f32>,
        rng: &mut ChaCha8Rng,
    ) -> Result<StepLosses, TrainError> {
        let parts = self.engine.step(b, factor, buf, rng, self.state.step)?;
        let share = b.samples as f64 / b.global_samples.max(1) as f64;
        let parts = crate::world::global_losses(self.world.as_ref(), parts, share)?;
        if !parts.total.is_finite() {
            return Err(TrainError::Diverged { step: self.state.step, loss: parts.total });
        }
        self.state.step += 1;
        let every = self.cfg.distributed.checksum_every_steps;
        if self.world.size() > 1 && every > 0 && self.state.step.is_multiple_of(every) {
            let e = &self.engine;
            let sum = crate::world::state_checksum(e.model(), &e.store, e.shard() == Shard::WHOLE);
            crate::world::check_replicas(self.world.as_ref(), sum, self.state.step)?;
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

    fn log(&self, line: LogLine) -> Result<(), TrainError> {
        if !self.is_root() {
            return Ok(());
        }
        append_log(&self.out, line)
    }

    /// Validates, logs, keeps the best checkpoint; returns true when early stopping triggers.
    fn checkpoint_eval(
        &mut self,
        valid: &SplitFile,
        sums: &mut LossSums,
        lr: f64,
        started: Instant,
    ) -> Result<bool, TrainError> {
        let metrics = self.evaluate(valid, &Probe::NONE)?;
        let metric = self.cfg.train.early_stopping_metric;
        let rule = EarlyStopping { higher_is_better: metric.higher_is_better(), patience: self.cfg.train.patience };
        let verdict = rule.observe(&mut self.state.stop, metric.name(), metrics.get(metric), self.state.step)?;
        let improved = verdict == Verdict::Improved;
        if improved {
            self.save_checkpoint("best")?;
        }
        let record = sums.record(self.state.epoch, self.state.step, lr, started, metrics, improved);
        self.log(record.clone())?;
        *sums = LossSums::default();
        tracing::info!(
            "epoch {} step {} valid auc {:.5} uauc {} logloss {:.5}",
            record.epoch,
            record.step,
            metrics.auc,
            crate::eval::show(metrics.uauc),
            metrics.logloss
        );
        Ok(verdict == Verdict::Stop)
    }

    /// Runs the remaining epochs; returns early when early stopping triggers.
    pub fn fit(&mut self) -> Result<(), TrainError> {
        let (train, valid) = (self.split(recdiff_data::split::TRAIN)?, self.split(recdiff_data::split::VALID)?);
        if train.is_empty() || valid.is_empty() {
            return Err(TrainError::Other("train and valid splits must both hold rows".into()));
        }
        let t = self.cfg.train.clone();
        let steps_per_epoch = train.len().div_ceil(t.batch_size) as u64;
        let total = steps_per_epoch * t.epochs as u64;
        let plan = self.engine.model().enhance().noise_plan();
        let groups = field_groups(&self.meta);
        let fields = self.engine.store.fields();
        let mut buf = Vec::new();
        let mut sums = LossSums::default();
        let progress = recdiff_experiment::progress::bar(t.progress && self.is_root(), &self.cfg.name, steps_per_epoch);
        let world = self.world.clone();
        while self.state.epoch < t.epochs {
            let epoch = self.state.epoch;
            let mut order: Vec<u32> = (0..train.len() as u32).collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(
                self.cfg.seed ^ (epoch as u64 + 1).wrapping_mul(0x51_7CC1_B727_220A),
            ));
            progress.reset(format!("epoch {}", epoch + 1));
            let mut started = Instant::now();
            let mut lr = t.lr;
            // A run resumed from a mid-epoch `last` continues the same order where it stopped.
            let done = self.state.step.saturating_sub(epoch as u64 * steps_per_epoch) as usize;
            progress.inc(done as u64);
            for chunk in order.chunks(t.batch_size).skip(done) {
                let factor = lr_factor(t.schedule, t.warmup_steps, self.state.step, total, steps_per_epoch);
                lr = t.lr * factor;
                let mut rng = ChaCha8Rng::seed_from_u64(self.cfg.seed.wrapping_mul(0x9E37_79B9) ^ self.state.step);
                let b = if world.size() == 1 {
                    batch::build(&train, chunk, fields, plan, &groups, &mut rng)
                } else {
                    batch::build_shard(&train, chunk, fields, plan, &groups, &mut rng, world.as_ref())
                        .map_err(crate::world::dist_error)?
                };
                let parts = self.step(&b, factor, &mut buf, &mut rng)?;
                let rate = (sums.samples + b.samples) as f64 / started.elapsed().as_secs_f64();
                progress.message(format!("loss {:.4}, {rate:.0} samples/s", parts.total));
                progress.inc(1);
                sums.add(&parts, b.samples);
                if t.eval_every_steps > 0 && self.state.step.is_multiple_of(t.eval_every_steps as u64) {
                    if self.checkpoint_eval(&valid, &mut sums, lr, started)? {
                        return self.finish_epoch(true);
                    }
                    // Mid-epoch `last`: an interrupted long epoch resumes from here, not its start.
                    self.save_checkpoint("last")?;
                    started = Instant::now();
                }
            }
            // The epoch's end is validated unless a step validation just did: without it, the steps
            // after the epoch's last multiple of `eval_every_steps` would never be seen by `best`.
            let validated_here = t.eval_every_steps > 0 && self.state.step.is_multiple_of(t.eval_every_steps as u64);
            if !validated_here && self.checkpoint_eval(&valid, &mut sums, lr, started)? {
                return self.finish_epoch(true);
            }
            self.finish_epoch(false)?;
        }
        Ok(())
    }

    /// Rank 0 writes the checkpoint (the state every rank holds alike); with row-wise sharded
    /// tables every rank writes its shard's tables into it as well.
    fn save_checkpoint(&self, name: &str) -> Result<(), TrainError> {
        let (e, dir) = (&self.engine, self.out.join(name));
        if e.shard() != Shard::WHOLE {
            let (c, fp) = (self.world.as_ref(), &self.fingerprint);
            return Ok(checkpoint::save_sharded(c, e.shard(), &dir, fp, e.model(), &e.optim, &e.store, &self.state)?);
        }
        if !self.is_root() {
            return Ok(());
        }
        Ok(checkpoint::save(&dir, &self.fingerprint, e.model(), &e.optim, &e.store, &self.state)?)
    }

    fn finish_epoch(&mut self, stopped: bool) -> Result<(), TrainError> {
        self.state.epoch = if stopped { self.cfg.train.epochs } else { self.state.epoch + 1 };
        self.save_checkpoint("last")?;
        Ok(())
    }

    /// Replaces the weights with the best checkpoint's; returns its loop state.
    pub fn load_best(&mut self) -> Result<LoopState, TrainError> {
        // Every rank reads what rank 0 wrote.
        crate::world::barrier(self.world.as_ref())?;
        let best = self.out.join("best");
        self.engine.load_checkpoint(&best, &self.fingerprint, false)
    }

    /// Loads the best checkpoint and evaluates valid and test; writes `results.json`.
    pub fn finish(&mut self, started: Instant) -> Result<RunSummary, TrainError> {
        let state = self.load_best()?;
        let valid = self.evaluate(&self.split(recdiff_data::split::VALID)?, &Probe::NONE)?;
        let test = self.evaluate(&self.split(recdiff_data::split::TEST)?, &Probe::NONE)?;
        let steps_per_epoch =
            self.split(recdiff_data::split::TRAIN)?.len().div_ceil(self.cfg.train.batch_size).max(1) as u64;
        let seconds = started.elapsed().as_secs_f64();
        let record = RunRecord {
            name: self.cfg.name.clone(),
            family: crate::family::FAMILY.into(),
            model: self.cfg.model.ctr().name(),
            seed: self.cfg.seed,
            config_hash: config_hash(&self.cfg)?,
            // Epochs trained: the loop state marks an early-stopped run as finished (epoch = budget).
            epochs: self.state.step.div_ceil(steps_per_epoch) as usize,
            steps: self.state.step,
            best_epoch: state.stop.best_at.div_ceil(steps_per_epoch) as usize,
            best_step: state.stop.best_at,
            seconds,
            seconds_per_epoch: seconds / (self.state.step as f64 / steps_per_epoch as f64).max(1.0),
            valid: valid.to_metrics(),
            test: test.to_metrics(),
        };
        if self.is_root() {
            crate::plot::write_curves(&self.out)?;
            record.save(&self.out)?;
        }
        Ok(RunSummary { record, valid, test })
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
    let started = Instant::now();
    let mut session = Session::new_in(cfg, resume, world)?;
    session.fit()?;
    session.finish(started)
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
