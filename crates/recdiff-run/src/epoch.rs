//! What the experiment layer's training loop (`recdiff_experiment::fit`) reads of an epoch-based
//! family's config (sequential, top-K): its identity, where it writes, and its `[train]`
//! schedule. Both configs spell these keys alike, so one macro implements [`EpochExperiment`] for
//! each.

use std::path::PathBuf;

/// The `[train]` keys the loop runs by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule<'a> {
    pub batch_size: usize,
    pub epochs: usize,
    pub eval_every: usize,
    pub patience: usize,
    /// The validation metric early stopping watches (higher is better).
    pub metric: &'a str,
    pub checkpoint_seconds: f64,
}

/// An epoch-based family's experiment config.
pub trait EpochExperiment: serde::Serialize {
    fn name(&self) -> &str;
    fn seed(&self) -> u64;
    /// The model, e.g. `sasrec`, `diffrec`.
    fn model_name(&self) -> &'static str;
    /// The run directory (`output`, default `runs/<name>`).
    fn run_dir(&self) -> PathBuf;
    fn schedule(&self) -> Schedule<'_>;
    /// Points the config at one seed's run: its seed and run directory.
    fn place(&mut self, seed: u64, out: PathBuf);
    /// Checks a parsed config, resolving relative paths against `dir`; `origin` names it.
    fn from_toml(
        table: toml::Table,
        dir: &std::path::Path,
        origin: &std::path::Path,
    ) -> Result<Self, crate::config::ConfigError>
    where
        Self: Sized;
}

/// Implements [`EpochExperiment`] for a config with `name`, `seed`, `model.name()`,
/// `output_dir()`, `from_table` and the `[train]` keys of [`Schedule`].
macro_rules! epoch_experiment {
    ($config:ty) => {
        impl $crate::epoch::EpochExperiment for $config {
            fn name(&self) -> &str {
                &self.name
            }
            fn seed(&self) -> u64 {
                self.seed
            }
            fn model_name(&self) -> &'static str {
                self.model.name()
            }
            fn run_dir(&self) -> std::path::PathBuf {
                self.output_dir()
            }
            fn place(&mut self, seed: u64, out: std::path::PathBuf) {
                (self.seed, self.output) = (seed, Some(out));
            }
            fn from_toml(
                table: toml::Table,
                dir: &std::path::Path,
                origin: &std::path::Path,
            ) -> Result<Self, $crate::config::ConfigError> {
                Self::from_table(table, dir, origin)
            }
            fn schedule(&self) -> $crate::epoch::Schedule<'_> {
                let t = &self.train;
                $crate::epoch::Schedule {
                    batch_size: t.batch_size,
                    epochs: t.epochs,
                    eval_every: t.eval_every_epochs,
                    patience: t.patience,
                    metric: &t.metric,
                    checkpoint_seconds: t.checkpoint_seconds,
                }
            }
        }
    };
}

pub(crate) use epoch_experiment;
