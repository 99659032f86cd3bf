//! The one training loop of every family (CTR, sequential, top-K): epochs and steps, the
//! validation cadence, early stopping, `log.jsonl`, the `last/` checkpoint a run resumes from, the
//! best weights and `results.json`. A family implements [`Task`]: train a chunk of steps, validate,
//! keep the current weights as the best, save and take back its whole state, and evaluate the
//! best weights at the end.
//!
//! **Cadence.** The loop trains a whole epoch at a time, or, when the spec validates every N steps
//! (`eval_every_steps`, CTR), up to the next multiple of N or the epoch's end, whichever comes
//! first. It validates at each multiple of N and at the end of every `eval_every`-th epoch and of
//! the last one (once, when both fall on the same step).
//!
//! **Resume.** After a validation, at most every `checkpoint_seconds` (and always after the last
//! one), the task's state (weights, optimiser moments, random streams, the best weights or where
//! they are kept) and the loop's (epoch, step, early stopping, the log so far) are written to
//! `<run>/last` as one checkpoint ([`recdiff_run::checkpoint`]: checksummed files switched into
//! place). `--resume` recovers a switch cut short, checks the checkpoint (fingerprint, checksums,
//! the config less `train.epochs`), restores both states and continues from its step: a resumed
//! run computes what the uninterrupted run computes, bit for bit. Steps trained after the
//! checkpoint are trained again, and `log.jsonl` is rewritten from the checkpoint's lines.
//!
//! **The log.** One line per validation, the schema every family writes ([`LogLine`], `crate::log`),
//! rewritten whole (temporary file, fsync, rename) after each validation.
//!
//! In a data-parallel world every rank runs the loop; only the root writes (`FitSpec::root`),
//! except the checkpoint of a task whose ranks each hold part of the state ([`Task::save`] runs
//! on every rank; such a task's spec saves after every validation, `checkpoint_seconds = 0`, so
//! that every rank saves at the same step).

use crate::log::write_log;
use crate::metrics::Metrics;
use crate::record::RunRecord;
use crate::stopping::{EarlyStopping, StopState, Verdict};
use crate::{BoxError, record};
use recdiff_run::RunError;
use recdiff_run::checkpoint::Checkpoint;
use recdiff_run::epoch::EpochExperiment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The checkpoint a run resumes from, inside the run directory.
pub const LAST_DIR: &str = "last";
pub use crate::log::{LOG_FILE, LogLine};
/// The loop's state inside `last/`.
const LOOP_FILE: &str = "loop.json";

/// Where a run stands: epochs finished and optimiser steps taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub epoch: usize,
    pub step: u64,
}

/// What a chunk of training reports for its `log.jsonl` line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trained {
    /// The mean training loss over the chunk.
    pub loss: f64,
    /// The mean of each named term of the loss, where the family reports them.
    pub terms: BTreeMap<String, f64>,
    /// The learning rate at the chunk's last step, where a schedule moves it.
    pub lr: Option<f64>,
    /// Training samples the chunk saw (logged as a throughput).
    pub samples: Option<u64>,
}

impl Trained {
    /// A chunk that reports its mean loss only.
    pub fn loss(loss: f64) -> Self {
        Self { loss, ..Self::default() }
    }
}

/// A family's training run, driven by [`fit`].
pub trait Task {
    /// Optimiser steps in one epoch.
    fn steps_per_epoch(&self) -> u64;
    /// Trains `steps` optimiser steps from `at`, all inside epoch `at.epoch + 1`. [`fit`] asks for
    /// whole epochs unless its spec validates every N steps.
    fn train(&mut self, at: Position, steps: u64) -> Result<Trained, BoxError>;
    /// The current weights' metrics on the validation split.
    fn validate(&mut self) -> Result<Metrics, BoxError>;
    /// The validation rows scored (logged), where the family counts them.
    fn valid_rows(&self) -> Option<u64> {
        None
    }
    /// Keeps the current weights as the best so far.
    fn keep_best(&mut self) -> Result<(), BoxError>;
    /// Writes everything a resumed run needs, the best weights included, and `loop_file` (the
    /// loop's state) as the checkpoint `dir` under `fingerprint`; `root` says whether this rank
    /// writes the run. Called on every rank: a task whose state every rank holds alike writes on
    /// the root only ([`write_on_root`]).
    fn save(&self, dir: &Path, fingerprint: &str, loop_file: NamedFile, root: bool) -> Result<(), BoxError>;
    /// Takes back the state [`Task::save`] wrote into `checkpoint`.
    fn restore(&mut self, checkpoint: &Checkpoint) -> Result<(), BoxError>;
    /// Saves the best weights into the run directory `out` (`None`: this rank does not write) and
    /// returns their validation and test metrics.
    fn finish(&mut self, out: Option<&Path>) -> Result<(Metrics, Metrics), BoxError>;
}

/// A file of a checkpoint: its name and bytes.
pub type NamedFile = (String, Vec<u8>);

pub use crate::epoch_task::{Best, EpochTask, RunDir, write_on_root};

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
    /// Validate at the end of every this many epochs (and of the last).
    pub eval_every: usize,
    /// Validate at every multiple of this many steps as well (0: never mid-epoch).
    pub eval_every_steps: u64,
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
            eval_every_steps: 0,
            rule: EarlyStopping { higher_is_better: true, patience: s.patience },
            metric: s.metric,
            out: run.out.clone(),
            root: run.root,
            resume,
            checkpoint_seconds: s.checkpoint_seconds,
        })
    }
}

/// Where the loop stands; saved in `last/`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct LoopState {
    resume_key: String,
    epoch: usize,
    /// Steps taken (absent from the checkpoints of the loop's whole-epoch version: see [`resume`]).
    #[serde(default)]
    step: u64,
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
    let per_epoch = task.steps_per_epoch().max(1);
    let mut state = if spec.resume { resume(spec, task, per_epoch)? } else { None }
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
        let t = Instant::now();
        let at = Position { epoch: state.epoch, step: state.step };
        let steps = chunk(spec, at, per_epoch);
        let trained = task.train(at, steps).map_err(FitError::Task)?;
        let train_seconds = t.elapsed().as_secs_f64();
        state.train_seconds += train_seconds;
        state.step += steps;
        let epoch_end = state.step == (state.epoch as u64 + 1) * per_epoch;
        state.epoch += usize::from(epoch_end);
        let by_steps = spec.eval_every_steps > 0 && state.step.is_multiple_of(spec.eval_every_steps);
        let by_epoch = epoch_end && (state.epoch.is_multiple_of(spec.eval_every) || state.epoch == spec.epochs);
        if !(by_steps || by_epoch) {
            continue;
        }
        validate(spec, task, &mut state, trained, (t, train_seconds, per_epoch))?;
        state.seconds = before + started.elapsed().as_secs_f64();
        dirty = true;
        if spec.root {
            write_log(&spec.out, &state.log)?;
        }
        // Every rank decides alike where the task's ranks save together (`checkpoint_seconds = 0`).
        if saved_at.elapsed().as_secs_f64() >= spec.checkpoint_seconds {
            save_last(spec, task, &state, &last)?;
            (saved_at, dirty) = (Instant::now(), false);
            abort_if_asked(spec.root, state.epoch);
        }
    }
    if dirty {
        save_last(spec, task, &state, &last)?;
    }
    let (valid, test) = task.finish(spec.root.then_some(spec.out.as_path())).map_err(FitError::Task)?;
    let record = RunRecord {
        name: spec.name.to_string(),
        family: spec.family.to_string(),
        model: spec.model.clone(),
        seed: spec.seed,
        config_hash: spec.config_hash.clone(),
        epochs: state.step.div_ceil(per_epoch) as usize,
        steps: state.step,
        best_epoch: state.stop.best_at.div_ceil(per_epoch) as usize,
        best_step: state.stop.best_at,
        seconds: before + started.elapsed().as_secs_f64(),
        seconds_per_epoch: state.train_seconds / (state.step as f64 / per_epoch as f64).max(1.0),
        valid,
        test,
    };
    if spec.root {
        record.save(&spec.out)?;
    }
    Ok(record)
}

/// The steps to train from `at`: the rest of its epoch, or up to the next multiple of
/// `eval_every_steps` when that comes first.
fn chunk(spec: &FitSpec<'_>, at: Position, per_epoch: u64) -> u64 {
    let rest = (at.epoch as u64 + 1) * per_epoch - at.step;
    match spec.eval_every_steps {
        0 => rest,
        n => rest.min(n - at.step % n),
    }
}

/// Validates the weights `trained` left, observes early stopping (keeping the best weights on an
/// improvement) and adds the log line; `timing` is when the chunk started, how long it trained and
/// the steps of an epoch.
fn validate(
    spec: &FitSpec<'_>,
    task: &mut dyn Task,
    state: &mut LoopState,
    trained: Trained,
    timing: (Instant, f64, u64),
) -> Result<(), FitError> {
    let valid = task.validate().map_err(FitError::Task)?;
    let score = valid.get(spec.metric);
    let verdict = spec.rule.observe(&mut state.stop, spec.metric, score, state.step)?;
    let improved = verdict == Verdict::Improved;
    if improved {
        task.keep_best().map_err(FitError::Task)?;
    }
    state.stopped = verdict == Verdict::Stop;
    let step = state.step;
    let epoch = step.div_ceil(timing.2) as usize;
    tracing::info!(
        "{} epoch {epoch} step {step}: loss {:.4}, valid {} {score:?}",
        spec.name,
        trained.loss,
        spec.metric
    );
    state.log.push(LogLine {
        // The epoch the line falls in (a line inside an epoch counts it).
        epoch,
        step,
        train_loss: trained.loss,
        train_terms: trained.terms,
        seconds: timing.0.elapsed().as_secs_f64(),
        lr: trained.lr,
        samples_per_s: trained.samples.map(|n| n as f64 / timing.1.max(1e-9)),
        valid,
        valid_rows: task.valid_rows(),
        improved,
    });
    Ok(())
}

/// Test hook: `RECDIFF_ABORT_AFTER_CHECKPOINT=<epoch>` ends the process abruptly (no destructor,
/// no flush) right after the checkpoint of that epoch, as a kill would.
fn abort_if_asked(root: bool, epoch: usize) {
    if root && std::env::var("RECDIFF_ABORT_AFTER_CHECKPOINT").is_ok_and(|v| v.parse() == Ok(epoch)) {
        std::process::abort();
    }
}

fn save_last(spec: &FitSpec<'_>, task: &dyn Task, state: &LoopState, last: &Path) -> Result<(), FitError> {
    let json = serde_json::to_vec(state)
        .map_err(|e| FitError::Resume { path: last.display().to_string(), message: format!("loop state: {e}") })?;
    task.save(last, &spec.fingerprint, (LOOP_FILE.to_string(), json), spec.root).map_err(FitError::Task)
}

/// The loop state of `<out>/last`, with the task restored from it; `None` when there is no
/// checkpoint (a run that never validated starts afresh). A checkpoint of the loop's whole-epoch
/// version counted epochs only, and early stopping by epoch: both become steps.
fn resume(spec: &FitSpec<'_>, task: &mut dyn Task, per_epoch: u64) -> Result<Option<LoopState>, FitError> {
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
    let mut state: LoopState = serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))?;
    if state.step == 0 && state.epoch > 0 {
        state.step = state.epoch as u64 * per_epoch;
        state.stop.best_at *= per_epoch;
    }
    if state.resume_key != spec.resume_key {
        return Err(fail(format!(
            "the checkpoint was trained under another config (key {}, now {}); resume it with that config, \
             or train into another output",
            state.resume_key, spec.resume_key
        )));
    }
    task.restore(&ckpt).map_err(FitError::Task)?;
    tracing::info!("resumed {} from {} at epoch {}, step {}", spec.name, last.display(), state.epoch, state.step);
    Ok(Some(state))
}

/// Refuses to resume the run in `out` when its `last/` checkpoint was trained under another
/// resume key (the config less `train.epochs`); without a checkpoint there is nothing to refuse.
/// Reads only: the checkpoint's own checks (fingerprint, checksums) come when [`fit`] restores it.
pub fn check_resume_key(out: &Path, key: &str) -> Result<(), FitError> {
    let last = recdiff_run::manifest::resolve(&out.join(LAST_DIR));
    let path = last.join(LOOP_FILE);
    let Ok(bytes) = std::fs::read(&path) else { return Ok(()) };
    let fail = |message: String| FitError::Resume { path: path.display().to_string(), message };
    let state: LoopState = serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))?;
    if state.resume_key != key {
        return Err(fail(format!(
            "the checkpoint was trained under another config (key {}, now {key}); resume it with that config, \
             or train into another output",
            state.resume_key
        )));
    }
    Ok(())
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
