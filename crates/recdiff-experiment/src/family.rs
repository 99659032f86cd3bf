//! The seam between the experiment layer and a model family.
//!
//! A family (CTR ranking, sequential retrieval, …) implements [`Family`]: it recognises its configs
//! by their `[model] kind`, checks and resolves them into an [`Experiment`], and trains one seed of
//! it into a run directory. Everything around that — the seed loop, resume by config hash,
//! comparisons, tables — is family-independent and lives in this crate; the binary lists the
//! families it knows.

use crate::metrics::MetricSpec;
use crate::record::RunRecord;
use recdiff_dist::Collective;
use recdiff_run::epoch::EpochExperiment;
use std::path::Path;
use std::sync::Arc;

/// A family's error, boxed so the layer can carry any family's typed error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A model family.
pub trait Family: Sync {
    /// `ctr`, `seq`, …
    fn name(&self) -> &'static str;
    /// The `[model] kind` values this family trains.
    fn kinds(&self) -> &'static [&'static str];
    /// Checks a config (as parsed TOML) and resolves its relative paths against `dir`. `origin`
    /// names where the config came from, for error messages.
    fn load(&self, cfg: toml::Table, dir: &Path, origin: &Path) -> Result<Box<dyn Experiment>, BoxError>;
}

/// Where one seed of an experiment trains.
#[derive(Clone)]
pub struct RunPlan<'a> {
    pub seed: u64,
    /// The run directory.
    pub out: &'a Path,
    /// A directory data may be cached in and shared between runs (encoded splits).
    pub cache: Option<&'a Path>,
    /// Continue an interrupted run from its last checkpoint where the family keeps one.
    pub resume: bool,
    /// The data-parallel world this process is a rank of (`mpirun … --distributed`); `None` is
    /// one process.
    pub world: Option<Arc<dyn Collective>>,
}

impl RunPlan<'_> {
    /// The world to train in: the plan's, or a world of one.
    pub fn world(&self) -> Arc<dyn Collective> {
        self.world.clone().unwrap_or_else(|| Arc::new(recdiff_dist::Single))
    }
}

impl std::fmt::Debug for RunPlan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ranks = self.world.as_ref().map_or(1, |w| w.size());
        f.debug_struct("RunPlan")
            .field("seed", &self.seed)
            .field("out", &self.out)
            .field("cache", &self.cache)
            .field("resume", &self.resume)
            .field("ranks", &ranks)
            .finish()
    }
}

/// A checked, resolved experiment config of some family.
pub trait Experiment {
    fn family(&self) -> &'static str;
    fn name(&self) -> &str;
    /// The model, e.g. `dcnv2+asymdiffrec`, `sasrec`.
    fn model(&self) -> String;
    /// The resolved config as TOML: saved beside each run, and hashed to key its directory.
    fn resolved(&self) -> Result<toml::Table, BoxError>;
    /// Every metric an evaluation of this experiment reports.
    fn metrics(&self) -> Vec<MetricSpec>;
    /// The metrics a comparison table shows by default.
    fn columns(&self) -> Vec<String>;
    /// The validation metric early stopping watches.
    fn stopping_metric(&self) -> String;
    /// The config's seed (`seed`, default 1).
    fn seed(&self) -> u64;
    /// The config's run directory (`output`, default `runs/<name>`).
    fn output_dir(&self) -> std::path::PathBuf;
    /// Trains one seed and writes its run directory, `results.json` last.
    fn run(&self, plan: &RunPlan<'_>) -> Result<RunRecord, BoxError>;
}

/// A family as its crate writes it: the config type and what differs between families. Every
/// `FamilyKind` is a [`Family`], and its checked configs are [`Configured`] experiments, so a family
/// writes none of the glue between the two traits.
pub trait FamilyKind: Sync + 'static {
    /// The family's config type (`[model]`, `[data]`, `[train]` and the shared header).
    type Config: serde::Serialize + Clone + 'static;
    /// `ctr`, `seq`, … (in `results.json`).
    const NAME: &'static str;
    /// The `[model] kind` values this family trains.
    fn kinds() -> &'static [&'static str];
    /// Checks a parsed config, resolving relative paths against `dir`; `origin` names it.
    fn check(cfg: toml::Table, dir: &Path, origin: &Path) -> Result<Self::Config, BoxError>;
    /// The config's shared header: name, seed, run directory.
    fn header(cfg: &Self::Config) -> Header<'_>;
    /// The model, e.g. `dcnv2+asymdiffrec`, `sasrec`.
    fn model(cfg: &Self::Config) -> String;
    /// Every metric an evaluation reports.
    fn metrics(cfg: &Self::Config) -> Vec<MetricSpec>;
    /// The metrics a comparison table shows by default, in order.
    fn columns(cfg: &Self::Config) -> Vec<String>;
    /// The validation metric early stopping watches.
    fn stopping_metric(cfg: &Self::Config) -> String;
    /// Points `cfg` at one seed's run: its seed, its run directory and the plan's data cache.
    fn place(cfg: &mut Self::Config, plan: &RunPlan<'_>);
    /// Trains the placed `cfg` and writes its run directory, `results.json` last.
    fn train(cfg: &Self::Config, plan: &RunPlan<'_>) -> Result<RunRecord, BoxError>;
}

/// Why an epoch-based family's run failed: one error type for the sequential and top-K families,
/// whose trainers meet the same failures (each keeps its name: `SeqError`, `TopKError`).
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Data(#[from] recdiff_data::DataError),
    #[error(transparent)]
    Config(#[from] recdiff_run::config::ConfigError),
    #[error(transparent)]
    Run(#[from] recdiff_run::RunError),
    #[error(transparent)]
    Metric(#[from] recdiff_metrics::MetricError),
    #[error(transparent)]
    Fit(#[from] crate::fit::FitError),
    #[error(transparent)]
    Dist(#[from] recdiff_dist::DistError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The training loss was NaN or infinite: the run stops rather than train on.
    #[error("the training loss became {value} at {at}")]
    NonFinite { value: f64, at: String },
    /// The model was not given back by a step that failed earlier.
    #[error("the model is missing after a failed step")]
    ModelMissing,
    /// The model config cannot be built on this data (e.g. more L-DiffRec clusters than items).
    #[error("model.{0}")]
    Model(String),
    #[error("the optimiser step failed: {0}")]
    Optimizer(String),
}

/// The header every family's config shares.
#[derive(Debug, Clone, PartialEq)]
pub struct Header<'a> {
    pub name: &'a str,
    /// `seed`, default 1.
    pub seed: u64,
    /// `output`, default `runs/<name>`.
    pub output: std::path::PathBuf,
}

impl<F: FamilyKind> Family for F {
    fn name(&self) -> &'static str {
        F::NAME
    }

    fn kinds(&self) -> &'static [&'static str] {
        F::kinds()
    }

    fn load(&self, cfg: toml::Table, dir: &Path, origin: &Path) -> Result<Box<dyn Experiment>, BoxError> {
        Ok(Box::new(Configured::<F>(F::check(cfg, dir, origin)?)))
    }
}

/// An epoch-based family (sequential, top-K): its config is an [`EpochExperiment`], from which its
/// header, model label, stopping metric and the placing of a seed's run come. Every `EpochFamily`
/// is a [`FamilyKind`].
pub trait EpochFamily: Sync + 'static {
    type Config: EpochExperiment + Clone + 'static;
    /// `seq`, `topk` (in `results.json`).
    const NAME: &'static str;
    /// The table's default columns, in order, where the config reports them.
    const COLUMNS: &'static [&'static str];
    /// The `[model] kind` values this family trains.
    fn kinds() -> &'static [&'static str];
    /// Checks a parsed config, resolving relative paths against `dir`; `origin` names it.
    fn check(cfg: toml::Table, dir: &Path, origin: &Path) -> Result<Self::Config, BoxError> {
        Ok(Self::Config::from_toml(cfg, dir, origin)?)
    }
    /// Every metric an evaluation reports: the registry `train.metric` is checked against.
    fn metrics(cfg: &Self::Config) -> Vec<MetricSpec>;
    /// Trains the placed `cfg` as the ranks of `ranks` and writes its run directory.
    fn train(cfg: &Self::Config, ranks: crate::data_parallel::Ranks, resume: bool) -> Result<RunRecord, BoxError>;
}

impl<E: EpochFamily> FamilyKind for E {
    type Config = E::Config;
    const NAME: &'static str = E::NAME;

    fn kinds() -> &'static [&'static str] {
        E::kinds()
    }

    fn check(cfg: toml::Table, dir: &Path, origin: &Path) -> Result<E::Config, BoxError> {
        E::check(cfg, dir, origin)
    }

    fn header(cfg: &E::Config) -> Header<'_> {
        Header { name: cfg.name(), seed: cfg.seed(), output: cfg.run_dir() }
    }

    fn model(cfg: &E::Config) -> String {
        cfg.model_name().into()
    }

    fn metrics(cfg: &E::Config) -> Vec<MetricSpec> {
        E::metrics(cfg)
    }

    fn columns(cfg: &E::Config) -> Vec<String> {
        columns_of(E::COLUMNS, &E::metrics(cfg))
    }

    fn stopping_metric(cfg: &E::Config) -> String {
        cfg.schedule().metric.into()
    }

    fn place(cfg: &mut E::Config, plan: &RunPlan<'_>) {
        cfg.place(plan.seed, plan.out.to_path_buf());
    }

    fn train(cfg: &E::Config, plan: &RunPlan<'_>) -> Result<RunRecord, BoxError> {
        E::train(cfg, crate::data_parallel::Ranks::new(plan.world(), cfg.seed()), plan.resume)
    }
}

/// A checked config of family `F`.
pub struct Configured<F: FamilyKind>(pub F::Config);

impl<F: FamilyKind> Experiment for Configured<F> {
    fn family(&self) -> &'static str {
        F::NAME
    }

    fn name(&self) -> &str {
        F::header(&self.0).name
    }

    fn model(&self) -> String {
        F::model(&self.0)
    }

    fn resolved(&self) -> Result<toml::Table, BoxError> {
        Ok(toml::Table::try_from(&self.0)?)
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        F::metrics(&self.0)
    }

    fn columns(&self) -> Vec<String> {
        F::columns(&self.0)
    }

    fn stopping_metric(&self) -> String {
        F::stopping_metric(&self.0)
    }

    fn seed(&self) -> u64 {
        F::header(&self.0).seed
    }

    fn output_dir(&self) -> std::path::PathBuf {
        F::header(&self.0).output
    }

    fn run(&self, plan: &RunPlan<'_>) -> Result<RunRecord, BoxError> {
        let mut cfg = self.0.clone();
        F::place(&mut cfg, plan);
        F::train(&cfg, plan)
    }
}

/// The `preferred` columns a table shows, in order, that `known` reports.
pub fn columns_of(preferred: &[&str], known: &[MetricSpec]) -> Vec<String> {
    preferred.iter().filter(|c| known.iter().any(|m| m.name == **c)).map(|c| c.to_string()).collect()
}

/// The family that trains `cfg`, by its `[model] kind`.
pub fn family_of<'a>(families: &[&'a dyn Family], cfg: &toml::Table) -> Result<&'a dyn Family, String> {
    let known = || families.iter().flat_map(|f| f.kinds().iter().copied()).collect::<Vec<_>>().join(", ");
    let Some(kind) = cfg.get("model").and_then(|m| m.get("kind")).and_then(|k| k.as_str()) else {
        return Err(format!("[model] kind is missing: name the model family or model, one of {}", known()));
    };
    families
        .iter()
        .copied()
        .find(|f| f.kinds().contains(&kind))
        .ok_or_else(|| format!("[model] kind {kind:?} is not a model recdiff knows; known: {}", known()))
}
