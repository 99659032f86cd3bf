//! The CTR family's [`Task`] for the training loop every family shares
//! (`recdiff_experiment::fit`): chunks of optimiser steps over the epoch's seeded shuffle of the
//! memory-mapped train split, validation on the valid split, the best weights kept as the `best/`
//! checkpoint (the run's serving weights, too large to keep twice in memory at 1M-row tables), and
//! the whole state (weights, optimiser moments, tables and their moments, sharded or not) saved as
//! `last/`.
//!
//! Every step's random stream is keyed by the seed and the step, and every epoch's shuffle by the
//! seed and the epoch, so a run resumed at any step trains what the uninterrupted run trains.

use crate::batch::{self, Probe};
use crate::config::ExperimentConfig;
use crate::eval::EvalMetrics;
use crate::run_log::LossSums;
use crate::train::{Session, field_groups, lr_factor};
use crate::{TrainError, world};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use recdiff_data::SplitFile;
use recdiff_experiment::fit::{FitSpec, NamedFile, Position, Task, Trained};
use recdiff_experiment::progress::Bar;
use recdiff_experiment::{BoxError, EarlyStopping, Metrics};
use recdiff_run::checkpoint::Checkpoint;
use std::path::Path;

/// One CTR training run: its session, splits and the current epoch's order.
pub struct CtrTask {
    session: Session,
    train: SplitFile,
    valid: SplitFile,
    per_epoch: u64,
    groups: Vec<usize>,
    /// The epoch whose shuffled row order `order` is.
    order: Option<(usize, Vec<u32>)>,
    buf: Vec<f32>,
    progress: Box<dyn Bar>,
    valid_rows: Option<u64>,
    /// The run's codecs as `best/meta.json` holds them (serialised once, not at every improvement).
    meta_json: Vec<u8>,
    /// The best weights' validation and test metrics, once [`Task::finish`] ran.
    metrics: Option<(EvalMetrics, EvalMetrics)>,
}

/// The loop's spec of a CTR run: validation every epoch and every `train.eval_every_steps`, early
/// stopping on `train.early_stopping_metric` in its direction, and `last/` after every validation
/// (its ranks save together when the tables are sharded).
pub fn spec<'a>(
    cfg: &'a ExperimentConfig,
    fingerprint: String,
    root: bool,
    resume: bool,
) -> Result<FitSpec<'a>, TrainError> {
    let (t, metric) = (&cfg.train, cfg.train.early_stopping_metric);
    Ok(FitSpec {
        name: &cfg.name,
        family: crate::family::FAMILY,
        model: cfg.model.ctr().name(),
        seed: cfg.seed,
        config_hash: crate::train::config_hash(cfg)?,
        resume_key: recdiff_experiment::hash::resume_key(cfg)?,
        fingerprint,
        epochs: t.epochs,
        eval_every: 1,
        eval_every_steps: t.eval_every_steps as u64,
        rule: EarlyStopping { higher_is_better: metric.higher_is_better(), patience: t.patience },
        metric: metric.name(),
        out: cfg.output_dir(),
        root,
        resume,
        checkpoint_seconds: 0.0,
    })
}

impl CtrTask {
    /// The task of `session`; its train and valid splits must both hold rows.
    pub fn new(session: Session) -> Result<Self, TrainError> {
        let (train, valid) = (session.split(recdiff_data::split::TRAIN)?, session.split(recdiff_data::split::VALID)?);
        if train.is_empty() || valid.is_empty() {
            return Err(TrainError::Other("train and valid splits must both hold rows".into()));
        }
        let per_epoch = session.steps_per_epoch();
        let meta_json = serde_json::to_vec_pretty(&session.meta)?;
        let progress = recdiff_experiment::progress::bar(
            session.cfg.train.progress && session.is_root(),
            &session.cfg.name,
            per_epoch,
        );
        let groups = field_groups(&session.meta);
        Ok(Self {
            session,
            train,
            valid,
            per_epoch,
            groups,
            order: None,
            buf: Vec::new(),
            progress,
            valid_rows: None,
            meta_json,
            metrics: None,
        })
    }

    /// The session trained.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The best weights' validation and test metrics, once the loop finished.
    pub fn metrics(&self) -> Option<(EvalMetrics, EvalMetrics)> {
        self.metrics
    }

    /// Shuffles the rows of the epoch `at` is in (0-based) into its seeded order, unless they
    /// are; the bar restarts with a new epoch.
    fn shuffle(&mut self, at: Position) {
        if self.order.as_ref().is_none_or(|(e, _)| *e != at.epoch) {
            let mut order: Vec<u32> = (0..self.train.len() as u32).collect();
            let seed = self.session.cfg.seed ^ (at.epoch as u64 + 1).wrapping_mul(0x51_7CC1_B727_220A);
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            self.progress.reset(format!("epoch {}", at.epoch + 1));
            self.progress.inc(at.step - at.epoch as u64 * self.per_epoch);
            self.order = Some((at.epoch, order));
        }
    }
}

impl Task for CtrTask {
    fn steps_per_epoch(&self) -> u64 {
        self.per_epoch
    }

    fn train(&mut self, at: Position, steps: u64) -> Result<Trained, BoxError> {
        let t = self.session.cfg.train.clone();
        let total = self.per_epoch * t.epochs as u64;
        let done = (at.step - at.epoch as u64 * self.per_epoch) as usize;
        self.shuffle(at);
        let Some((_, order)) = &self.order else { return Err("the epoch's order was not drawn".into()) };
        let (seed, world) = (self.session.cfg.seed, self.session.world().clone());
        let plan = self.session.engine.model().enhance().noise_plan();
        let fields = self.session.engine.store.fields();
        self.session.step = at.step;
        let (mut sums, mut lr, started) = (LossSums::default(), t.lr, std::time::Instant::now());
        for chunk in order.chunks(t.batch_size).skip(done).take(steps as usize) {
            let step = self.session.step;
            let factor = lr_factor(t.schedule, t.warmup_steps, step, total, self.per_epoch);
            lr = t.lr * factor;
            let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9) ^ step);
            let b = if world.size() == 1 {
                batch::build(&self.train, chunk, fields, plan, &self.groups, &mut rng)
            } else {
                batch::build_shard(&self.train, chunk, fields, plan, &self.groups, &mut rng, world.as_ref())
                    .map_err(world::dist_error)?
            };
            let parts = self.session.train_step(&b, factor, &mut self.buf, &mut rng)?;
            sums.add(&parts, b.samples);
            let rate = sums.samples as f64 / started.elapsed().as_secs_f64();
            self.progress.message(format!("loss {:.4}, {rate:.0} samples/s", parts.total));
            self.progress.inc(1);
        }
        Ok(sums.trained(lr))
    }

    fn validate(&mut self) -> Result<Metrics, BoxError> {
        let m = self.session.evaluate(&self.valid, &Probe::NONE)?;
        self.valid_rows = Some(m.rows as u64);
        Ok(m.to_metrics())
    }

    fn valid_rows(&self) -> Option<u64> {
        self.valid_rows
    }

    /// Saves the best checkpoint with the run's codecs (`meta.json`) in it, so the file serving
    /// reads them from is covered by the checkpoint's manifest.
    fn keep_best(&mut self) -> Result<(), BoxError> {
        let meta = (recdiff_data::encode::META_FILE.to_string(), self.meta_json.clone());
        Ok(self.session.save_checkpoint(&self.session.out.join("best"), &[meta])?)
    }

    fn save(&self, dir: &Path, _fingerprint: &str, loop_file: NamedFile, _root: bool) -> Result<(), BoxError> {
        Ok(self.session.save_checkpoint(dir, &[loop_file])?)
    }

    fn restore(&mut self, c: &Checkpoint) -> Result<(), BoxError> {
        let s = &mut self.session;
        s.step = s.engine.load_checkpoint(c.dir(), &s.fingerprint, true)?.step;
        Ok(())
    }

    /// Loads the best checkpoint, evaluates valid and test and draws the learning curves.
    fn finish(&mut self, out: Option<&Path>) -> Result<(Metrics, Metrics), BoxError> {
        self.session.load_best()?;
        let valid = self.session.evaluate(&self.valid, &Probe::NONE)?;
        let test = self.session.evaluate(&self.session.split(recdiff_data::split::TEST)?, &Probe::NONE)?;
        if let Some(out) = out {
            crate::plot::write_curves(out)?;
        }
        self.metrics = Some((valid, test));
        Ok((valid.to_metrics(), test.to_metrics()))
    }
}
