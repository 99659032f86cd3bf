//! The side of [`crate::fit`] the whole-epoch families (sequential, top-K) share: their run
//! directory ([`RunDir`]), their best weights kept in memory ([`Best`]), and [`EpochTask`], the
//! smaller trait they implement: every [`EpochTask`] is a [`Task`] that trains whole epochs,
//! validates its current weights, keeps the best of them and writes its checkpoint on the root.

use crate::BoxError;
use crate::fit::{FitError, NamedFile, Position, Task, Trained};
use crate::metrics::Metrics;
use recdiff_run::RunError;
use recdiff_run::checkpoint::{self, Checkpoint};
use recdiff_run::epoch::EpochExperiment;
use std::path::{Path, PathBuf};

/// A whole-epoch family's training run; the [`Task`] [`crate::fit::fit`] drives comes with it.
pub trait EpochTask {
    /// The best weights' type (the inference copy of the model).
    type Weights;
    /// Optimiser steps in one epoch.
    fn steps_per_epoch(&self) -> u64;
    /// Trains one epoch; returns its mean training loss.
    fn train_epoch(&mut self) -> Result<f64, BoxError>;
    /// The current weights, copied for inference, and their validation metrics.
    fn validate_current(&mut self) -> Result<(Self::Weights, Metrics), BoxError>;
    /// The weights validated and the best so far.
    fn best(&mut self) -> &mut Best<Self::Weights>;
    /// Everything a resumed run needs, the best weights included, as named files.
    fn files(&self) -> Result<Vec<NamedFile>, BoxError>;
    /// Takes back the state [`EpochTask::files`] wrote into `checkpoint`.
    fn restore(&mut self, checkpoint: &Checkpoint) -> Result<(), BoxError>;
    /// Saves the best weights into `out` (`None`: this rank does not write) and returns their
    /// validation and test metrics.
    fn finish(&mut self, out: Option<&Path>) -> Result<(Metrics, Metrics), BoxError>;
}

impl<T: EpochTask> Task for T {
    fn steps_per_epoch(&self) -> u64 {
        EpochTask::steps_per_epoch(self)
    }

    fn train(&mut self, at: Position, steps: u64) -> Result<Trained, BoxError> {
        let per_epoch = EpochTask::steps_per_epoch(self);
        if steps != per_epoch || at.step != at.epoch as u64 * per_epoch {
            let from = at.step;
            return Err(
                format!("this family trains whole epochs ({per_epoch} steps), not {steps} from step {from}").into()
            );
        }
        Ok(Trained::loss(self.train_epoch()?))
    }

    fn validate(&mut self) -> Result<Metrics, BoxError> {
        let (current, metrics) = self.validate_current()?;
        self.best().validated(current);
        Ok(metrics)
    }

    fn keep_best(&mut self) -> Result<(), BoxError> {
        self.best().keep()
    }

    fn save(&self, dir: &Path, fingerprint: &str, loop_file: NamedFile, root: bool) -> Result<(), BoxError> {
        write_on_root(dir, fingerprint, || self.files(), loop_file, root)
    }

    fn restore(&mut self, checkpoint: &Checkpoint) -> Result<(), BoxError> {
        EpochTask::restore(self, checkpoint)
    }

    fn finish(&mut self, out: Option<&Path>) -> Result<(Metrics, Metrics), BoxError> {
        EpochTask::finish(self, out)
    }
}

/// [`Task::save`] for a task whose state every rank holds alike: the root writes `files` and
/// `loop_file` as one checkpoint; other ranks write nothing.
pub fn write_on_root(
    dir: &Path,
    fingerprint: &str,
    files: impl FnOnce() -> Result<Vec<NamedFile>, BoxError>,
    loop_file: NamedFile,
    root: bool,
) -> Result<(), BoxError> {
    if root {
        let mut files = files()?;
        files.push(loop_file);
        checkpoint::write(dir, fingerprint, &files)?;
    }
    Ok(())
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
    /// With `resume`, a checkpoint in `<run>/last` trained under another config (less
    /// `train.epochs`) is refused here, before anything is written: a refused resume leaves the run
    /// as it was.
    pub fn open(
        cfg: &impl EpochExperiment,
        dp: &crate::data_parallel::DataParallel,
        resume: bool,
    ) -> Result<Self, FitError> {
        let out = cfg.run_dir();
        let resolved = toml::to_string_pretty(cfg)
            .map_err(|e| FitError::Resume { path: out.display().to_string(), message: e.to_string() })?;
        dp.check(&resolved, cfg.schedule().batch_size)?;
        recdiff_run::layout::check_run_dir(&out)?;
        if resume {
            crate::fit::check_resume_key(&out, &crate::hash::resume_key(cfg)?)?;
        }
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
