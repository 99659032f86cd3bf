//! The one training loop of the epoch-based families (sequential, top-K): epochs, the validation
//! cadence, early stopping, `log.jsonl`, the `last/` checkpoint a run resumes from, the best
//! weights and `results.json`. A family implements [`Task`]: train one epoch, validate, keep the
//! current weights as the best, hand over and take back its whole state, and evaluate the best
//! weights at the end.
//!
//! **Resume.** After a validation, at most every `checkpoint_seconds` (and always after the last
//! one), the task's state (weights, optimiser moments, random streams, the best weights) and the
//! loop's (epoch, early stopping, the log so far) are written to `<run>/last` as one checkpoint
//! ([`recdiff_run::checkpoint`]: checksummed files switched into place). `--resume` recovers a
//! switch cut short, checks the checkpoint (fingerprint, checksums, the config less
//! `train.epochs`), restores both states and continues with the next epoch: a resumed run computes
//! what the uninterrupted run computes, bit for bit. Epochs trained after the checkpoint are
//! trained again, and `log.jsonl` is rewritten from the checkpoint's lines.
//!
//! **The log.** One line per validation, the schema every family writes ([`LogLine`], `crate::log`),
//! rewritten whole (temporary file, fsync, rename) after each validation.
//!
//! In a data-parallel world every rank runs the loop; only the root writes (`FitSpec::root`).

use crate::log::write_log;
use crate::metrics::Metrics;
use crate::record::RunRecord;
use crate::stopping::{EarlyStopping, StopState, Verdict};
use crate::{BoxError, record};
use recdiff_run::RunError;
use recdiff_run::checkpoint::{self, Checkpoint};
use recdiff_run::epoch::EpochExperiment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The checkpoint a run resumes from, inside the run directory.
pub const LAST_DIR: &str = "last";
pub use crate::log::{LOG_FILE, LogLine};
/// The loop's state inside `last/`.
const LOOP_FILE: &str = "loop.json";

/// A family's training run, driven by [`fit`].
pub trait Task {
    /// Optimiser steps in one epoch (for `results.json`).
    fn steps_per_epoch(&self) -> u64;
    /// Trains one epoch; returns its mean training loss.
    fn train_epoch(&mut self) -> Result<f64, BoxError>;
    /// The current weights' metrics on the validation split.
    fn validate(&mut self) -> Result<Metrics, BoxError>;
    /// Keeps the current weights as the best so far.
    fn keep_best(&mut self) -> Result<(), BoxError>;
    /// Everything a resumed run needs, the best weights included, as named files.
    fn state(&self) -> Result<Vec<(String, Vec<u8>)>, BoxError>;
    /// Takes back the state [`Task::state`] wrote into `checkpoint`.
    fn restore(&mut self, checkpoint: &Checkpoint) -> Result<(), BoxError>;
    /// Saves the best weights into the run directory `out` (`None`: this rank does not write) and
    /// returns their validation and test metrics.
    fn finish(&mut self, out: Option<&Path>) -> Result<(Metrics, Metrics), BoxError>;
}

/// What [`fit`] needs to know of the experiment.
#[derive(Debug, Clone)]
pub struct FitSpec<'a> {
    pub name: &'a str,
    pub family: &'a str,
    pub model: String,
    pub seed: u64,
    /// The config hash ([`crate::hash::config_hash`]), recorded in `results.json`.
    pub config_hash: String,
    /// What a checkpoint must have been written under to be resumed: the config less
    /// `train.epochs` ([`crate::hash::resume_key`]).
    pub resume_key: String,
    /// The architecture fingerprint `last/` is written and checked with.
    pub fingerprint: String,
    pub epochs: usize,
    pub eval_every: usize,
    pub rule: EarlyStopping,
    pub metric: &'a str,
    /// The run directory.
    pub out: PathBuf,
    /// Whether this process writes the run (rank 0, or one process).
    pub root: bool,
    pub resume: bool,
    /// Least seconds between two `last/` checkpoints (0: after every validation).
    pub checkpoint_seconds: f64,
}

impl<'a> FitSpec<'a> {
    /// The spec of `cfg` for `family`: its identity, hashes and `[train]` schedule; early stopping
    /// watches a higher-is-better metric.
    pub fn new(
        cfg: &'a impl EpochExperiment,
        family: &'a str,
        fingerprint: String,
        run: &RunDir,
        resume: bool,
    ) -> Result<Self, FitError> {
        let s = cfg.schedule();
        Ok(Self {
            name: cfg.name(),
            family,
            model: cfg.model_name().into(),
            seed: cfg.seed(),
            config_hash: crate::hash::config_hash(cfg)?,
            resume_key: crate::hash::resume_key(cfg)?,
            fingerprint,
            epochs: s.epochs,
            eval_every: s.eval_every,
            rule: EarlyStopping { higher_is_better: true, patience: s.patience },
            metric: s.metric,
            out: run.out.clone(),
            root: run.root,
            resume,
            checkpoint_seconds: s.checkpoint_seconds,
        })
    }
}

/// A run directory opened for training: the world checked against the resolved config, the
/// directory made, `config.resolved.toml` written (by the root only, as every file).
#[derive(Debug)]
pub struct RunDir {
    pub out: PathBuf,
    /// Whether this process writes the run.
    pub root: bool,
}

impl RunDir {
    pub fn open(cfg: &impl EpochExperiment, dp: &crate::data_parallel::DataParallel) -> Result<Self, FitError> {
        let out = cfg.run_dir();
        let resolved = toml::to_string_pretty(cfg)
            .map_err(|e| FitError::Resume { path: out.display().to_string(), message: e.to_string() })?;
        dp.check(&resolved, cfg.schedule().batch_size)?;
        std::fs::create_dir_all(&out).map_err(|e| RunError::at(&out, e))?;
        let run = Self { out, root: dp.is_root() };
        run.write("config.resolved.toml", resolved.as_bytes())?;
        Ok(run)
    }

    /// Writes `<run>/<name>` atomically on the root; other ranks write nothing.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), FitError> {
        if self.root {
            recdiff_data::write_atomic(&self.out.join(name), bytes)?;
        }
        Ok(())
    }
}

/// The weights a task last validated and its best so far: what [`Task::validate`] and
/// [`Task::keep_best`] keep.
#[derive(Debug)]
pub struct Best<M> {
    current: Option<M>,
    best: Option<M>,
}

impl<M> Default for Best<M> {
    fn default() -> Self {
        Self { current: None, best: None }
    }
}

impl<M> Best<M> {
    /// The weights just validated.
    pub fn validated(&mut self, weights: M) {
        self.current = Some(weights);
    }

    /// The weights last validated become the best.
    pub fn keep(&mut self) -> Result<(), BoxError> {
        self.best = Some(self.current.take().ok_or("keep_best before validate")?);
        Ok(())
    }

    /// The best weights; an error before any validation.
    pub fn get(&self) -> Result<&M, BoxError> {
        Ok(self.best.as_ref().ok_or("no best weights: no validation ran")?)
    }

    /// The best weights of a checkpoint resumed from.
    pub fn restore(&mut self, weights: M) {
        self.best = Some(weights);
    }
}

/// Where the loop stands; saved in `last/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct LoopState {
    resume_key: String,
    epoch: usize,
    stop: StopState,
    /// Early stopping ended the run.
    stopped: bool,
    train_seconds: f64,
    seconds: f64,
    log: Vec<LogLine>,
}

#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Data(#[from] recdiff_data::DataError),
    #[error(transparent)]
    Stop(#[from] crate::stopping::AbsentMetric),
    #[error(transparent)]
    Record(#[from] record::RecordError),
    #[error("{path}: {message}")]
    Resume { path: String, message: String },
    #[error(transparent)]
    Hash(#[from] crate::hash::HashError),
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
    #[error("data-parallel training: {0}")]
    World(#[from] recdiff_dist::DistError),
    /// The family's own error.
    #[error(transparent)]
    Task(BoxError),
}

/// Trains `task` under `spec` to its last epoch or early stop, and returns its record (written to
/// `results.json` last by the root).
pub fn fit(spec: &FitSpec<'_>, task: &mut dyn Task) -> Result<RunRecord, FitError> {
    let started = Instant::now();
    let last = spec.out.join(LAST_DIR);
    if spec.root {
        std::fs::create_dir_all(&spec.out).map_err(|e| RunError::at(&spec.out, e))?;
    }
    let mut state = if spec.resume { resume(spec, task)? } else { None }
        .unwrap_or_else(|| LoopState { resume_key: spec.resume_key.clone(), ..LoopState::default() });
    let before = state.seconds;
    if spec.root {
        if !spec.resume {
            remove_checkpoint(&last)?;
        }
        write_log(&spec.out, &state.log)?;
    }
    let mut saved_at = Instant::now();
    let mut dirty = false;
    while state.epoch < spec.epochs && !state.stopped {
        let epoch = state.epoch + 1;
        let t = Instant::now();
        let loss = task.train_epoch().map_err(FitError::Task)?;
        state.train_seconds += t.elapsed().as_secs_f64();
        state.epoch = epoch;
        if epoch % spec.eval_every != 0 && epoch != spec.epochs {
            continue;
        }
        let valid = task.validate().map_err(FitError::Task)?;
        let score = valid.get(spec.metric);
        let verdict = spec.rule.observe(&mut state.stop, spec.metric, score, epoch as u64)?;
        if verdict == Verdict::Improved {
            task.keep_best().map_err(FitError::Task)?;
        }
        state.stopped = verdict == Verdict::Stop;
        let step = epoch as u64 * task.steps_per_epoch();
        let improved = verdict == Verdict::Improved;
        let seconds = t.elapsed().as_secs_f64();
        tracing::info!("{} epoch {epoch}: loss {loss:.4}, valid {} {score:?}", spec.name, spec.metric);
        state.log.push(LogLine { epoch, step, train_loss: loss, seconds, valid, improved, ..LogLine::default() });
        state.seconds = before + started.elapsed().as_secs_f64();
        dirty = true;
        if spec.root {
            write_log(&spec.out, &state.log)?;
            if saved_at.elapsed().as_secs_f64() >= spec.checkpoint_seconds {
                save_last(spec, task, &state, &last)?;
                (saved_at, dirty) = (Instant::now(), false);
                abort_if_asked(epoch);
            }
        }
    }
    if spec.root && dirty {
        save_last(spec, task, &state, &last)?;
    }
    let (valid, test) = task.finish(spec.root.then_some(spec.out.as_path())).map_err(FitError::Task)?;
    let steps_per_epoch = task.steps_per_epoch();
    let record = RunRecord {
        name: spec.name.to_string(),
        family: spec.family.to_string(),
        model: spec.model.clone(),
        seed: spec.seed,
        config_hash: spec.config_hash.clone(),
        epochs: state.epoch,
        steps: steps_per_epoch * state.epoch as u64,
        best_epoch: state.stop.best_at as usize,
        best_step: steps_per_epoch * state.stop.best_at,
        seconds: before + started.elapsed().as_secs_f64(),
        seconds_per_epoch: state.train_seconds / state.epoch.max(1) as f64,
        valid,
        test,
    };
    if spec.root {
        record.save(&spec.out)?;
    }
    Ok(record)
}

/// Test hook: `RECDIFF_ABORT_AFTER_CHECKPOINT=<epoch>` ends the process abruptly (no destructor,
/// no flush) right after the checkpoint of that epoch, as a kill would.
fn abort_if_asked(epoch: usize) {
    if std::env::var("RECDIFF_ABORT_AFTER_CHECKPOINT").is_ok_and(|v| v.parse() == Ok(epoch)) {
        std::process::abort();
    }
}

fn save_last(spec: &FitSpec<'_>, task: &dyn Task, state: &LoopState, last: &Path) -> Result<(), FitError> {
    let mut files = task.state().map_err(FitError::Task)?;
    let json = serde_json::to_vec(state)
        .map_err(|e| FitError::Resume { path: last.display().to_string(), message: format!("loop state: {e}") })?;
    files.push((LOOP_FILE.to_string(), json));
    checkpoint::write(last, &spec.fingerprint, &files)?;
    Ok(())
}

/// The loop state of `<out>/last`, with the task restored from it; `None` when there is no
/// checkpoint (a run that never validated starts afresh).
fn resume(spec: &FitSpec<'_>, task: &mut dyn Task) -> Result<Option<LoopState>, FitError> {
    let last = spec.out.join(LAST_DIR);
    if spec.root {
        recdiff_run::manifest::recover(&last)?;
    }
    let last = recdiff_run::manifest::resolve(&last);
    if !last.exists() {
        if spec.out.join(record::RESULTS_FILE).is_file() {
            return Err(FitError::Resume {
                path: spec.out.display().to_string(),
                message: "a finished run without a last/ checkpoint (trained before runs of this family kept one): \
                          it cannot be continued; train it again with --force"
                    .into(),
            });
        }
        return Ok(None);
    }
    let ckpt = Checkpoint::open(&last, &spec.fingerprint)?;
    let bytes = ckpt.read(LOOP_FILE)?;
    let fail = |message: String| FitError::Resume { path: last.join(LOOP_FILE).display().to_string(), message };
    let state: LoopState = serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))?;
    if state.resume_key != spec.resume_key {
        return Err(fail(format!(
            "the checkpoint was trained under another config (key {}, now {}); resume it with that config, \
             or train into another output",
            state.resume_key, spec.resume_key
        )));
    }
    task.restore(&ckpt).map_err(FitError::Task)?;
    tracing::info!("resumed {} from {} at epoch {}", spec.name, last.display(), state.epoch);
    Ok(Some(state))
}

/// A fresh run drops an earlier run's `last/` (and any switch of it cut short), so a later
/// `--resume` cannot continue a run this one replaced.
fn remove_checkpoint(last: &Path) -> Result<(), FitError> {
    for dir in
        [last.to_path_buf(), recdiff_run::manifest::sibling(last, ".tmp"), recdiff_run::manifest::sibling(last, ".old")]
    {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| RunError::at(&dir, e))?;
        }
    }
    Ok(())
}
