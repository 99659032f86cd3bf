//! Sequential experiment configs (TOML, unknown keys rejected), one experiment per file.

use crate::config::{ConfigError, checked, load_with};
use recdiff_model::seq::SeqModelConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeqExperimentConfig {
    pub name: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Run directory (default `runs/<name>`).
    #[serde(default)]
    pub output: Option<PathBuf>,
    pub data: SeqDataConfig,
    #[serde(default)]
    pub model: SeqModelConfig,
    #[serde(default)]
    pub train: SeqTrainConfig,
}

fn default_seed() -> u64 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeqDataConfig {
    /// A schema with `user`, `item` and `timestamp` keys (relative to the config file).
    pub schema: PathBuf,
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    /// A multi-valued item column (e.g. `genres`) for intra-list distance.
    #[serde(default)]
    pub attribute: Option<String>,
    /// Leave the user's history items out of the ranking.
    #[serde(default = "yes")]
    pub exclude_history: bool,
    /// Fixed item vectors (relative to the config file; see [`recdiff_data::vectors`]): they fill
    /// the item table, which is then not trained. Their width must be the model's `dim`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_vectors: Option<PathBuf>,
}

fn default_max_len() -> usize {
    50
}

fn yes() -> bool {
    true
}

/// The `[train]` table: the ranking families' keys with this family's defaults.
pub type SeqTrainConfig = crate::ranking_train::RankingTrainConfig<crate::ranking_train::SeqDefaults>;

impl SeqTrainConfig {
    /// Whether evaluation under this config reports `metric` (`mrr`, or hr|ndcg|recall@K with K
    /// in `ks`) — the metrics early stopping and comparisons can rank by.
    pub fn reports(&self, metric: &str) -> bool {
        metric == "mrr"
            || metric.split_once('@').is_some_and(|(m, k)| {
                ["hr", "ndcg", "recall"].contains(&m) && self.ks.iter().any(|x| x.to_string() == k)
            })
    }
}

crate::epoch::epoch_experiment!(SeqExperimentConfig);

impl SeqExperimentConfig {
    /// Reads a config, checks it and resolves the schema path against the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        load_with(path, Self::from_table)
    }

    /// Checks a parsed config (unknown keys, numbers, ranges) and resolves the schema path
    /// against `dir`; `origin` names it in errors.
    pub fn from_table(table: toml::Table, dir: &Path, origin: &Path) -> Result<Self, ConfigError> {
        let mut c: SeqExperimentConfig = checked(table, origin, Self::validate)?;
        if c.data.schema.is_relative() {
            c.data.schema = crate::config::resolve(dir, &c.data.schema);
        }
        if let Some(v) = c.data.item_vectors.as_mut().filter(|v| v.is_relative()) {
            *v = crate::config::resolve(dir, v);
        }
        Ok(c)
    }

    pub fn validate(&self) -> Result<(), String> {
        let t = &self.train;
        t.check()?;
        if self.data.max_len < 2 {
            return Err(format!("data.max_len must be at least 2, got {}", self.data.max_len));
        }
        self.model.validate().map_err(|e| format!("model.{e}"))?;
        if !t.reports(&t.metric) {
            return Err(format!("train.metric {:?}: use mrr or hr|ndcg|recall@K with K in train.ks", t.metric));
        }
        Ok(())
    }

    pub fn output_dir(&self) -> PathBuf {
        self.output.clone().unwrap_or_else(|| PathBuf::from("runs").join(&self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(model: &str) -> Result<SeqExperimentConfig, ConfigError> {
        let text = format!("name = \"x\"\n[data]\nschema = \"s.toml\"\n[model]\n{model}\n");
        SeqExperimentConfig::from_table(text.parse().unwrap(), Path::new("."), Path::new("x.toml"))
    }

    #[test]
    fn model_sizes_a_network_cannot_be_built_with_are_errors_not_panics() {
        let e = load("kind = \"sasrec\"\ndim = 64\nheads = 3").unwrap_err().to_string();
        assert!(
            e.contains("model.dim = 64, heads = 3, layers = 2: all must be positive and heads must divide dim"),
            "{e}"
        );
        let e = load("kind = \"dreamrec\"\nsteps = 10\nsample_steps = 20").unwrap_err().to_string();
        assert!(e.contains("model.sample_steps = 20: must be 1..=steps (10)"), "{e}");
        let e = load("kind = \"dimerec\"\ninterests = 0").unwrap_err().to_string();
        assert!(e.contains("interests = 0"), "{e}");
        let e = load("kind = \"sasrec\"\ndropout = 1.0").unwrap_err().to_string();
        assert!(e.contains("model.dropout = 1: a probability must lie in [0, 1)"), "{e}");
        assert!(load("kind = \"sasrec\"\ndim = 64\nheads = 4").is_ok());
    }

    #[test]
    fn preferdiff_settings_are_checked_under_their_keys() {
        let e = load("kind = \"preferdiff\"\nlambda = 1.5").unwrap_err().to_string();
        assert!(e.contains("model.lambda = 1.5: must be in [0, 1]"), "{e}");
        let e = load("kind = \"preferdiff\"\nnegatives = 0").unwrap_err().to_string();
        assert!(e.contains("model.negatives = 0"), "{e}");
        let e = load("kind = \"preferdiff\"\n[model.dreamrec]\nsteps = 10\nsample_steps = 20").unwrap_err().to_string();
        assert!(e.contains("model.dreamrec.sample_steps = 20: must be 1..=dreamrec.steps (10)"), "{e}");
        let e = load("kind = \"preferdiff\"\nsimple = \"l1\"").unwrap_err().to_string();
        assert!(e.contains("l1"), "{e}");
        let e = load("kind = \"preferdiff\"\n[model.dreamrec]\nguidanse = 2.0").unwrap_err().to_string();
        assert!(e.contains("guidanse"), "{e}");
        assert!(load("kind = \"preferdiff\"\nlambda = 0.2\n[model.dreamrec]\nsteps = 50").is_ok());
    }

    #[test]
    fn a_config_named_by_an_absolute_path_hashes_as_the_same_config_named_relatively() {
        let relative = Path::new("../../configs/seq-ml100k-sasrec.toml");
        let absolute = std::env::current_dir().unwrap().join(relative);
        let a = SeqExperimentConfig::load(relative).unwrap();
        let b = SeqExperimentConfig::load(&absolute).unwrap();
        assert_eq!(a.data.schema, Path::new("../../configs/ml-100k.schema.toml"));
        assert_eq!(a.data.schema, b.data.schema);
        // The whole resolved config, which the run's config hash is taken over, is the same.
        assert_eq!(toml::to_string(&a).unwrap(), toml::to_string(&b).unwrap());
    }

    #[test]
    fn item_vectors_resolve_against_the_config_file_and_leave_other_configs_unchanged() {
        let text = "name = \"x\"\n[data]\nschema = \"s.toml\"\nitem_vectors = \"v.csv\"\n";
        let c = SeqExperimentConfig::from_table(text.parse().unwrap(), Path::new("cfgs"), Path::new("x.toml")).unwrap();
        assert_eq!(c.data.item_vectors.as_deref(), Some(Path::new("cfgs/v.csv")));
        // Unset, the key is not written, so configs from before it keep their hash.
        assert!(!toml::to_string(&load("kind = \"sasrec\"").unwrap()).unwrap().contains("item_vectors"));
    }
}
