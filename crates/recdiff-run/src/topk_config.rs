//! Top-K collaborative-filtering experiment configs (`[model] kind = "multivae" | "cdae" |
//! "diffrec" | "ldiffrec" | "tdiffrec"`), TOML with unknown keys rejected, one experiment per file.

use crate::config::{ConfigError, checked, load_with};
use recdiff_model::topk::TopKModelConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopKExperimentConfig {
    pub name: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Run directory (default `runs/<name>`).
    #[serde(default)]
    pub output: Option<PathBuf>,
    pub data: TopKDataConfig,
    #[serde(default)]
    pub model: TopKModelConfig,
    #[serde(default)]
    pub train: TopKTrainConfig,
}

fn default_seed() -> u64 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopKDataConfig {
    /// A schema with `user` and `item` keys (relative to the config file); a `timestamp` key, if
    /// present, orders each user's interactions (T-DiffRec needs it).
    pub schema: PathBuf,
    /// Per-user random split shares (train, valid, test), RecBole's protocol.
    #[serde(default = "default_ratios")]
    pub ratios: [f64; 3],
    /// Seed of the split (independent of the training seed, so every seed sees one split).
    #[serde(default = "default_split_seed")]
    pub split_seed: u64,
    /// `random` (RecBole's, default) or `time`: each user's oldest items train, the newest test.
    #[serde(default, skip_serializing_if = "is_default")]
    pub order: SplitOrder,
    /// `all` interactions (default) or only the `label`-positive ones (the schema's `[label]`
    /// rule, e.g. rating >= 4: the DiffRec paper's "clean" setting).
    #[serde(default, skip_serializing_if = "is_default")]
    pub positives: Positives,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitOrder {
    #[default]
    Random,
    Time,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Positives {
    #[default]
    All,
    Label,
}

fn default_ratios() -> [f64; 3] {
    [0.8, 0.1, 0.1]
}

fn default_split_seed() -> u64 {
    42
}

/// The `[train]` table: the ranking families' keys with this family's defaults.
pub type TopKTrainConfig = crate::ranking_train::RankingTrainConfig<crate::ranking_train::TopKDefaults>;

/// The metric names a top-K evaluation with cut-offs `ks` reports.
pub fn metric_names(ks: &[usize]) -> Vec<String> {
    ["recall", "ndcg", "hr", "mrr", "precision", "coverage"]
        .iter()
        .flat_map(|m| ks.iter().map(move |k| format!("{m}@{k}")))
        .collect()
}

crate::epoch::epoch_experiment!(TopKExperimentConfig);

impl TopKExperimentConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        load_with(path, Self::from_table)
    }

    /// Checks a parsed config and resolves the schema path against `dir`; `origin` names it.
    pub fn from_table(table: toml::Table, dir: &Path, origin: &Path) -> Result<Self, ConfigError> {
        let mut c: TopKExperimentConfig = checked(table, origin, Self::validate)?;
        if c.data.schema.is_relative() {
            c.data.schema = crate::config::resolve(dir, &c.data.schema);
        }
        Ok(c)
    }

    pub fn validate(&self) -> Result<(), String> {
        let t = &self.train;
        t.check()?;
        let r = self.data.ratios;
        if r[0] <= 0.0 || r[1] <= 0.0 || r[2] <= 0.0 {
            return Err(format!("data.ratios = {r:?}: train, valid and test shares must all be positive"));
        }
        self.model.validate().map_err(|e| format!("model.{e}"))?;
        if !metric_names(&t.ks).contains(&t.metric) {
            return Err(format!(
                "train.metric {:?}: use recall|ndcg|hr|mrr|precision|coverage@K with K in train.ks",
                t.metric
            ));
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

    fn load(model: &str) -> Result<TopKExperimentConfig, ConfigError> {
        let text = format!("name = \"x\"\n[data]\nschema = \"s.toml\"\n[model]\n{model}\n");
        TopKExperimentConfig::from_table(text.parse().unwrap(), Path::new("."), Path::new("x.toml"))
    }

    #[test]
    fn bad_model_settings_are_errors_naming_the_key() {
        let e = load("kind = \"diffrec\"\nsteps = 5\nnoise_steps = 6").unwrap_err().to_string();
        assert!(e.contains("model.noise_steps = 6: T' must not exceed steps (T = 5)"), "{e}");
        let e = load("kind = \"diffrec\"\nsample_steps = 0").unwrap_err().to_string();
        assert!(e.contains("model.sample_steps = 0"), "{e}");
        let e = load("kind = \"diffrek\"").unwrap_err().to_string();
        assert!(e.contains("diffrek"), "{e}");
        let e = load("kind = \"multivae\"\nlatnet = 3").unwrap_err().to_string();
        assert!(e.contains("latnet"), "{e}");
        let e = load("kind = \"tdiffrec\"\nw_min = 2.0").unwrap_err().to_string();
        assert!(e.contains("model.w_min = 2, w_max = 1"), "{e}");
        let e = load("kind = \"tdiffrec\"\n[model.diffusion]\nnoise_steps = 9").unwrap_err().to_string();
        assert!(e.contains("model.diffusion.noise_steps = 9"), "{e}");
        assert!(load("kind = \"cdae\"").is_ok());
        let e = load("kind = \"ldiffrec\"\nclusters = 0").unwrap_err().to_string();
        assert!(e.contains("model.clusters = 0"), "{e}");
        let e = load("kind = \"ldiffrec\"\n[model.diffusion]\nsteps = 5\nnoise_steps = 7").unwrap_err().to_string();
        assert!(e.contains("model.diffusion.noise_steps = 7: T' must not exceed steps (T = 5)"), "{e}");
        assert!(load("kind = \"ldiffrec\"\nclusters = 3").is_ok());
        let e = load("kind = \"ldiffrec\"\nrecency = [0.5, 0.1]").unwrap_err().to_string();
        assert!(e.contains("model.recency = [0.5, 0.1]: need 0 < w_min <= w_max"), "{e}");
        let lt = load("kind = \"ldiffrec\"\nrecency = [0.1, 1.0]").unwrap();
        assert_eq!(lt.model.recency(), Some((0.1, 1.0)), "LT-DiffRec reweights its input");
        let data = |extra: &str| {
            let text = format!("name = \"x\"\n[data]\nschema = \"s.toml\"\n{extra}\n");
            TopKExperimentConfig::from_table(text.parse().unwrap(), Path::new("."), Path::new("x.toml"))
        };
        let train = |extra: &str| {
            let text = format!("name = \"x\"\n[data]\nschema = \"s.toml\"\n[train]\n{extra}\n");
            TopKExperimentConfig::from_table(text.parse().unwrap(), Path::new("."), Path::new("x.toml"))
        };
        for bad in ["-1.0", "inf", "nan"] {
            let e = train(&format!("checkpoint_seconds = {bad}")).unwrap_err().to_string();
            assert!(e.contains("checkpoint_seconds"), "{bad}: {e}");
        }
        assert_eq!(train("checkpoint_seconds = 0.0").unwrap().train.checkpoint_seconds, 0.0);
        let e = data("order = \"newest\"").unwrap_err().to_string();
        assert!(e.contains("newest"), "{e}");
        let c = data("order = \"time\"\npositives = \"label\"").unwrap();
        assert_eq!((c.data.order, c.data.positives), (SplitOrder::Time, Positives::Label));
        // Defaults are left out of the resolved config, so runs written before these keys keep
        // their config hash.
        let text = toml::to_string(&data("").unwrap()).unwrap();
        assert!(!text.contains("order") && !text.contains("positives"), "{text}");
    }

    #[test]
    fn the_stopping_metric_has_one_name_and_the_former_hit_name_reads_as_hr() {
        let train = |extra: &str| {
            let text = format!("name = \"x\"\n[data]\nschema = \"s.toml\"\n[train]\nks = [10]\n{extra}\n");
            TopKExperimentConfig::from_table(text.parse().unwrap(), Path::new("."), Path::new("x.toml"))
        };
        assert_eq!(train("metric = \"hit@10\"").unwrap().train.metric, "hr@10");
        assert_eq!(train("metric = \"hr@10\"").unwrap().train.metric, "hr@10");
        assert!(
            metric_names(&[10]).contains(&"hr@10".to_string()) && !metric_names(&[10]).contains(&"hit@10".to_string())
        );
        let e = train("metric = \"hr@20\"").unwrap_err().to_string();
        assert!(e.contains("hr@20") && e.contains("recall|ndcg|hr|mrr|precision|coverage@K"), "{e}");
    }
}
