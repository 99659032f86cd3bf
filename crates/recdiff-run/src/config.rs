//! The experiment config: one TOML file per experiment (unknown keys rejected). Relative paths are
//! resolved against the config file; the resolved config is saved next to every run.
//!
//! ```toml
//! name = "ml100k-asymdiffrec"
//! seed = 1
//! [data]
//! schema = "ml-100k.schema.toml"
//! split = { kind = "random", ratios = [0.8, 0.1, 0.1], seed = 42 }
//! [model]
//! kind = "ctr"                 # the CTR ranking family (also: sasrec | dreamrec | dimerec | preferdiff, ...)
//! embedding_dim = 16
//! [model.base]
//! kind = "dcnv2"               # dcnv2 | deepfm | mlp
//! [model.enhancer]             # omit for the plain base
//! kind = "asymdiffrec"         # none | asymdiffrec | cdae | multivae | ssl | diffrec
//! recon_weight = 1.0
//! [train]
//! batch_size = 2048
//! epochs = 20
//! ```

use recdiff_data::SplitSpec;
use recdiff_model::base::BaseConfig;
use recdiff_model::{CtrModelConfig, EnhancerConfig, SparseOptimizer};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    pub name: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Run directory; default `runs/<name>` relative to the working directory.
    #[serde(default)]
    pub output: Option<PathBuf>,
    pub data: DataConfig,
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default)]
    pub train: TrainConfig,
    /// Data-parallel settings, read only by `recdiff train --distributed` (left out of the
    /// resolved config at their defaults, so older runs keep their hashes).
    #[serde(default, skip_serializing_if = "DistributedConfig::is_default")]
    pub distributed: DistributedConfig,
}

/// `[distributed]`: how a data-parallel run (`mpirun -np N recdiff train <config> --distributed`)
/// keeps its ranks together.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DistributedConfig {
    /// Every this many steps the ranks compare an xxh3 checksum of their replicated state
    /// (embedding tables and dense weights) and stop with an error naming the first rank that
    /// differs; 0 = never.
    pub checksum_every_steps: u64,
    /// Where embedding rows live: `replicated` (every rank holds every table) or `row_wise`
    /// (rank `r` holds the rows with `row % N == r`, for tables larger than one machine).
    pub tables: TablePlacement,
}

impl Default for DistributedConfig {
    fn default() -> Self {
        Self { checksum_every_steps: 100, tables: TablePlacement::Replicated }
    }
}

impl DistributedConfig {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Where a data-parallel run keeps its embedding rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TablePlacement {
    Replicated,
    RowWise,
}

fn default_seed() -> u64 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Dataset schema (TOML).
    pub schema: PathBuf,
    #[serde(default)]
    pub split: SplitSpec,
    /// Where the encoded splits are cached; default `<output>/data`. Reused when its recorded
    /// schema and split equal this config's.
    #[serde(default)]
    pub encoded: Option<PathBuf>,
}

/// `[model] kind` of the CTR family: a base ranker plus an enhancer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    #[default]
    Ctr,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// `ctr`; runs written before the field existed read as `ctr`.
    pub kind: ModelKind,
    pub embedding_dim: usize,
    pub embedding_init_std: f32,
    pub embedding_optimizer: SparseOptimizer,
    /// L2 penalty on touched embedding rows.
    pub embedding_l2: f32,
    /// `[model.base] kind = "dcnv2" | "deepfm" | "mlp"` and the base's settings.
    pub base: BaseConfig,
    /// `[model.enhancer] kind = "none" | "asymdiffrec" | "cdae" | "multivae" | "ssl" | "diffrec"`.
    pub enhancer: EnhancerConfig,
}

impl ModelConfig {
    pub fn ctr(&self) -> CtrModelConfig {
        CtrModelConfig { base: self.base.clone(), enhancer: self.enhancer.clone() }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            kind: ModelKind::Ctr,
            embedding_dim: 16,
            embedding_init_std: 0.01,
            embedding_optimizer: SparseOptimizer::default(),
            embedding_l2: 0.0,
            base: BaseConfig::default(),
            enhancer: EnhancerConfig::None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Auc,
    Uauc,
    Logloss,
}

impl Metric {
    pub fn higher_is_better(self) -> bool {
        !matches!(self, Metric::Logloss)
    }

    /// The metric's name in `results.json`, logs and tables.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Auc => "auc",
            Metric::Uauc => "uauc",
            Metric::Logloss => "logloss",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    Constant,
    /// Cosine decay from the base rate to `min_factor` times it over all training steps.
    Cosine {
        min_factor: f64,
    },
    /// Multiply the rate by `factor` every `every_epochs` epochs.
    Step {
        every_epochs: usize,
        factor: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub batch_size: usize,
    pub epochs: usize,
    /// Learning rate of the dense parameters (Adam).
    pub lr: f64,
    pub weight_decay: f64,
    pub schedule: Schedule,
    /// Linear warm-up steps.
    pub warmup_steps: usize,
    /// Validate every this many steps; 0 = once per epoch.
    pub eval_every_steps: usize,
    /// The validation metric early stopping watches; `metric`, as the other families name it,
    /// is read too (one `[train]` vocabulary).
    #[serde(alias = "metric")]
    pub early_stopping_metric: Metric,
    /// Evaluations without improvement before stopping.
    pub patience: usize,
    pub eval_batch_size: usize,
    /// Show a progress bar (only when stderr is a terminal).
    pub progress: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 2048,
            epochs: 20,
            lr: 1e-3,
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            warmup_steps: 0,
            eval_every_steps: 0,
            early_stopping_metric: Metric::Auc,
            patience: 3,
            eval_batch_size: 8192,
            progress: true,
        }
    }
}

/// `p` relative to `dir` unless it is absolute; a result under the working directory is written
/// relative to it, so a config named by an absolute path (`/repo/configs/x.toml`) resolves, and
/// hashes, as the same config named from the repository root (`configs/x.toml`) does.
pub fn resolve(dir: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_relative() { dir.join(p) } else { p.to_path_buf() };
    match std::env::current_dir() {
        Ok(cwd) if joined.is_absolute() => joined.strip_prefix(&cwd).map(Path::to_path_buf).unwrap_or(joined),
        _ => joined,
    }
}

/// An experiment config (any family) that cannot be used: the file, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("experiment config {path}: {message}")]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

/// Reads and number-checks the TOML at `path`, then builds it with `from_table(table, dir,
/// origin)`, `dir` being the file's directory.
pub fn load_with<T>(
    path: &Path,
    from_table: impl FnOnce(toml::Table, &Path, &Path) -> Result<T, ConfigError>,
) -> Result<T, ConfigError> {
    let table =
        recdiff_data::numbers::read_table(path).map_err(|message| ConfigError { path: path.into(), message })?;
    from_table(table, path.parent().unwrap_or(Path::new(".")), path)
}

/// Keys recdiff once read and no longer does, with what replaced them: an old run's config that
/// holds one is refused with this reason, not only as an unknown key.
pub const RETIRED_KEYS: [(&str, &str); 1] = [(
    "spread",
    "DimeRec's `spread` (the standard deviation of a Brownian walk) was replaced by `final_angle_deg` \
     (the mean angle the walk reaches) in 2026-11; a run trained with `spread` used the old forward \
     and reverse processes and must be retrained",
)];

/// `message`, with the reason appended when it rejects a retired key.
fn explain_retired(message: String) -> String {
    match RETIRED_KEYS.iter().find(|(key, _)| message.contains(&format!("unknown field `{key}`"))) {
        Some((_, why)) => format!("{message}\n{why}"),
        None => message,
    }
}

/// A parsed table as `T` (unknown keys rejected, numbers checked) that passes `validate`;
/// `origin` names the file in errors.
pub fn checked<T: serde::de::DeserializeOwned>(
    table: toml::Table,
    origin: &Path,
    validate: impl FnOnce(&T) -> Result<(), String>,
) -> Result<T, ConfigError> {
    let invalid = |message: String| ConfigError { path: origin.into(), message };
    let c: T = recdiff_data::numbers::from_checked_table(table, &[]).map_err(|m| invalid(explain_retired(m)))?;
    validate(&c).map_err(invalid)?;
    Ok(c)
}

impl ExperimentConfig {
    /// Reads a config and resolves its relative paths against the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        load_with(path, Self::from_table)
    }

    /// Checks a parsed config (unknown keys, numbers, ranges) and resolves its relative paths
    /// against `dir`; `origin` names it in errors.
    pub fn from_table(table: toml::Table, dir: &Path, origin: &Path) -> Result<Self, ConfigError> {
        let mut c: ExperimentConfig = checked(table, origin, Self::validate)?;
        c.data.schema = resolve(dir, &c.data.schema);
        c.data.encoded = c.data.encoded.as_deref().map(|p| resolve(dir, p));
        Ok(c)
    }

    pub fn validate(&self) -> Result<(), String> {
        let t = &self.train;
        if t.batch_size == 0 || t.eval_batch_size == 0 || t.epochs == 0 {
            return Err("train.batch_size, eval_batch_size and epochs must be positive".into());
        }
        if !(t.lr > 0.0 && t.lr.is_finite()) {
            return Err(format!("train.lr must be positive, got {}", t.lr));
        }
        if self.model.embedding_dim == 0 || self.model.base.latent_dim() == 0 {
            return Err("model.embedding_dim and model.base.latent_dim must be positive".into());
        }
        if !(self.model.embedding_init_std.is_finite() && self.model.embedding_init_std > 0.0) {
            return Err(format!("model.embedding_init_std must be positive, got {}", self.model.embedding_init_std));
        }
        Ok(())
    }

    pub fn output_dir(&self) -> PathBuf {
        self.output.clone().unwrap_or_else(|| PathBuf::from("runs").join(&self.name))
    }
}

/// Default least seconds between two `last/` checkpoints of the epoch-based families.
pub const DEFAULT_CHECKPOINT_SECONDS: f64 = 60.0;

/// `train.checkpoint_seconds` must be a finite, non-negative number of seconds.
/// Deserialises a metric name as its one name ([`recdiff_metrics::names::canonical`]).
pub fn metric_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = <String as serde::Deserialize>::deserialize(d)?;
    Ok(recdiff_metrics::names::canonical(&name).into_owned())
}

pub fn check_checkpoint_seconds(s: f64) -> Result<(), String> {
    if s.is_finite() && s >= 0.0 {
        Ok(())
    } else {
        Err(format!("train.checkpoint_seconds must be a finite number of seconds >= 0, got {s}"))
    }
}

/// The checks every ranking family's `[train]` shares: positive sizes, a positive finite learning
/// rate, and positive cut-offs.
pub fn check_ranking_train(sizes: [usize; 4], lr: f64, ks: &[usize]) -> Result<(), String> {
    if sizes.contains(&0) {
        return Err("train.batch_size, epochs, eval_batch_size and eval_every_epochs must be positive".into());
    }
    if !(lr > 0.0 && lr.is_finite()) {
        return Err(format!("train.lr must be positive, got {lr}"));
    }
    if ks.is_empty() || ks.contains(&0) {
        return Err("train.ks must list positive cut-offs".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use recdiff_model::seq::dimerec::DimeRecConfig;

    #[test]
    fn every_family_reads_the_stopping_metric_under_either_name() {
        let ctr = |key: &str| {
            let text = format!("name = \"x\"\n[data]\nschema = \"s.toml\"\n[train]\n{key} = \"uauc\"\n");
            ExperimentConfig::from_table(text.parse().unwrap(), Path::new("."), Path::new("x.toml"))
        };
        assert_eq!(ctr("metric").unwrap().train.early_stopping_metric, Metric::Uauc);
        assert_eq!(ctr("early_stopping_metric").unwrap().train.early_stopping_metric, Metric::Uauc);
        let ranking = |key: &str| {
            let text = format!("name = \"x\"\n[data]\nschema = \"s.toml\"\n[train]\n{key} = \"hr@10\"\nks = [10]\n");
            let seq = crate::seq_config::SeqExperimentConfig::from_table(
                text.parse().unwrap(),
                Path::new("."),
                Path::new("x.toml"),
            );
            let topk = crate::topk_config::TopKExperimentConfig::from_table(
                text.parse().unwrap(),
                Path::new("."),
                Path::new("x.toml"),
            );
            (seq.unwrap().train.metric, topk.unwrap().train.metric)
        };
        assert_eq!(ranking("metric"), ("hr@10".to_string(), "hr@10".to_string()));
        assert_eq!(ranking("early_stopping_metric"), ("hr@10".to_string(), "hr@10".to_string()));
    }

    #[test]
    fn a_retired_key_is_refused_with_what_replaced_it() {
        let table: toml::Table = "dim = 8\nspread = 0.5\n".parse().unwrap();
        let err = checked::<DimeRecConfig>(table, Path::new("old/config.resolved.toml"), |_| Ok(())).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("old/config.resolved.toml") && text.contains("unknown field `spread`"), "{text}");
        assert!(text.contains("final_angle_deg") && text.contains("retrained"), "{text}");
        let table: toml::Table = "dim = 8\nspreadd = 0.5\n".parse().unwrap();
        let err = checked::<DimeRecConfig>(table, Path::new("c.toml"), |_| Ok(())).unwrap_err();
        assert!(!err.to_string().contains("retrained"), "only retired keys get a reason");
    }
}
