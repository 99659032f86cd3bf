//! `recdiff compare`: several experiments of any family over the same seeds, one table.
//!
//! ```toml
//! name = "ml100k-compare"
//! seeds = [1, 2, 3, 4, 5]
//! metric = "auc"                       # key metric: Δ, paired t-test, MDE (default: the first row's stopping metric)
//! experiments = ["a.toml", "b.toml"]   # whole experiment configs, and/or
//! template = "ml100k-dcnv2.toml"       # a config each variant patches
//! [[variants]]
//! model.enhancer.kind = "none"
//! [[variants]]
//! label = "AsymDiffRec w/o L_recon"    # optional; otherwise the model name (+ what differs)
//! model.enhancer = { kind = "asymdiffrec", recon_weight = 0.0 }
//! ```
//!
//! A variant is merged into the template key by key; a table with a `kind` replaces the template's
//! table whole (another model's settings do not carry over). Rows are the experiments, then the
//! variants; the first row is every other row's reference unless a row names one (`reference =
//! "label"`). Each row's runs land in `<output>/<label>/<config-hash>/seed-<k>` and are read back
//! when finished under the same config, so an interrupted or extended comparison resumes.

use crate::family::{BoxError, Experiment, Family, family_of};
use crate::record::RunRecord;
use crate::seeds::seed_runs;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareConfig {
    pub name: String,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Default: `runs/<name>`.
    #[serde(default)]
    pub output: Option<PathBuf>,
    /// Key metric of the Δ, paired-test and MDE columns.
    #[serde(default)]
    pub metric: Option<String>,
    /// Metrics the table shows (default: the first row's family columns).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    #[serde(default)]
    pub experiments: Vec<PathBuf>,
    #[serde(default)]
    pub template: Option<PathBuf>,
    #[serde(default)]
    pub variants: Vec<toml::Table>,
    /// Cap on every row's `train.epochs`.
    #[serde(default)]
    pub epochs: Option<usize>,
}

fn default_seeds() -> Vec<u64> {
    vec![1, 2, 3, 4, 5]
}

/// One row to train: its label, reference row and experiment.
pub struct PlannedRow {
    pub label: String,
    pub reference: Option<usize>,
    pub experiment: Box<dyn Experiment>,
}

/// A finished row.
#[derive(Debug, Clone)]
pub struct Row {
    pub label: String,
    pub model: String,
    pub reference: Option<usize>,
    pub runs: Vec<RunRecord>,
}

/// A compare config with every row loaded and checked.
pub struct Plan {
    pub config: CompareConfig,
    pub rows: Vec<PlannedRow>,
    pub metric: String,
    pub columns: Vec<String>,
}

/// Merges `patch` into `base`; a patch table with a `kind` replaces the base's table whole.
pub fn merge(base: &mut toml::Table, patch: toml::Table) {
    for (key, value) in patch {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(p)) if !p.contains_key("kind") => merge(b, p),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn read_table(path: &Path) -> Result<toml::Table, BoxError> {
    Ok(recdiff_data::numbers::read_table(path)?)
}

/// Lowers `train.epochs` to `epochs` when given.
pub fn cap_epochs(table: &mut toml::Table, epochs: Option<usize>) {
    if let Some(n) = epochs {
        let train = table.entry("train").or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(t) = train {
            let current = t.get("epochs").and_then(|v| v.as_integer()).unwrap_or(i64::MAX);
            t.insert("epochs".into(), toml::Value::Integer(current.min(n as i64)));
        }
    }
}

struct Draft {
    label: Option<String>,
    reference: Option<String>,
    table: toml::Table,
    dir: PathBuf,
    origin: String,
}

impl Plan {
    /// Reads a compare config and loads every row through its family.
    pub fn load(path: &Path, families: &[&dyn Family]) -> Result<Self, BoxError> {
        let invalid = |m: String| -> BoxError { format!("{}: {m}", path.display()).into() };
        let table = recdiff_data::numbers::read_table(path)?;
        let config: CompareConfig = recdiff_data::numbers::from_checked_table(table, &[]).map_err(invalid)?;
        if config.seeds.is_empty() {
            return Err(invalid("seeds must not be empty".into()));
        }
        if config.epochs == Some(0) {
            return Err(invalid("epochs must be positive".into()));
        }
        let drafts = drafts(&config, path)?;
        if drafts.is_empty() {
            return Err(invalid("no rows: list experiments, or a template with variants".into()));
        }
        let mut loaded = Vec::new();
        for mut d in drafts {
            cap_epochs(&mut d.table, config.epochs);
            let family = family_of(families, &d.table).map_err(|e| invalid(format!("{}: {e}", d.origin)))?;
            let exp = family.load(d.table.clone(), &d.dir, Path::new(&d.origin))?;
            loaded.push((d, exp));
        }
        let labels = labels(&loaded)?;
        let first = &loaded[0].1;
        let metric = config.metric.clone().unwrap_or_else(|| first.stopping_metric());
        let columns = config.columns.clone().unwrap_or_else(|| first.columns());
        let mut rows = Vec::new();
        for (i, ((d, exp), label)) in loaded.into_iter().zip(labels.iter()).enumerate() {
            for m in std::iter::once(&metric).chain(&columns) {
                crate::metrics::find(&exp.metrics(), m).map_err(|e| invalid(format!("row {label:?}: {e}")))?;
            }
            let reference = match &d.reference {
                Some(r) => Some(
                    labels
                        .iter()
                        .position(|l| l == r)
                        .ok_or_else(|| invalid(format!("row {label:?}: reference {r:?} is no row")))?,
                ),
                None if i == 0 => None,
                None => Some(0),
            };
            rows.push(PlannedRow { label: label.clone(), reference: reference.filter(|&r| r != i), experiment: exp });
        }
        Ok(Plan { config, rows, metric, columns })
    }

    pub fn output_dir(&self) -> PathBuf {
        self.config.output.clone().unwrap_or_else(|| PathBuf::from("runs").join(&self.config.name))
    }

    /// Trains (or reads back) every row's seeds; `on_run` hears each run as it arrives.
    pub fn run(&self, mut on_run: impl FnMut(&str, &RunRecord, bool)) -> Result<Vec<Row>, BoxError> {
        let out = self.output_dir();
        let cache = out.join("data");
        let mut rows = Vec::new();
        for r in &self.rows {
            let root = out.join(slug(&r.label));
            let runs = seed_runs(r.experiment.as_ref(), &root, &self.config.seeds, Some(&cache), |rec, reused| {
                on_run(&r.label, rec, reused)
            })?;
            rows.push(Row { label: r.label.clone(), model: r.experiment.model(), reference: r.reference, runs });
        }
        Ok(rows)
    }
}

fn drafts(config: &CompareConfig, path: &Path) -> Result<Vec<Draft>, BoxError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut drafts = Vec::new();
    for e in &config.experiments {
        let file = dir.join(e);
        let table = read_table(&file)?;
        let label = table.get("name").and_then(|n| n.as_str()).map(str::to_string);
        let parent = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        drafts.push(Draft { label, reference: None, table, dir: parent, origin: file.display().to_string() });
    }
    match (&config.template, config.variants.is_empty()) {
        (Some(t), _) => {
            let file = dir.join(t);
            let template = read_table(&file)?;
            let parent = file.parent().unwrap_or(Path::new(".")).to_path_buf();
            let variants = if config.variants.is_empty() { vec![toml::Table::new()] } else { config.variants.clone() };
            for (i, mut v) in variants.into_iter().enumerate() {
                let take = |v: &mut toml::Table, key: &str| -> Result<Option<String>, BoxError> {
                    match v.remove(key) {
                        None => Ok(None),
                        Some(toml::Value::String(s)) => Ok(Some(s)),
                        Some(other) => {
                            Err(format!("{}: variants[{i}].{key} must be a string, got {other}", path.display()).into())
                        }
                    }
                };
                let (label, reference) = (take(&mut v, "label")?, take(&mut v, "reference")?);
                let mut table = template.clone();
                merge(&mut table, v);
                let origin = format!("{} variants[{i}]", path.display());
                drafts.push(Draft { label, reference, table, dir: parent.clone(), origin });
            }
        }
        (None, false) => return Err(format!("{}: variants need a template", path.display()).into()),
        (None, true) => {}
    }
    Ok(drafts)
}

/// Row labels: given ones as they are; otherwise the model, and where two rows would share a
/// label, the settings in which they differ.
fn labels(rows: &[(Draft, Box<dyn Experiment>)]) -> Result<Vec<String>, BoxError> {
    let mut labels: Vec<String> = rows
        .iter()
        .map(|(d, e)| {
            d.label
                .clone()
                .unwrap_or_else(|| if d.origin.contains("variants[") { e.model() } else { e.name().to_string() })
        })
        .collect();
    let flat: Vec<Vec<(String, String)>> =
        rows.iter().map(|(_, e)| e.resolved().map(|t| crate::hash::flatten(&t))).collect::<Result<_, _>>()?;
    for i in 0..labels.len() {
        let same: Vec<usize> =
            (0..labels.len()).filter(|&j| labels[j] == labels[i] && rows[j].0.label.is_none()).collect();
        if same.len() < 2 {
            continue;
        }
        for &j in &same {
            let differing: Vec<String> = flat[j]
                .iter()
                .filter(|(k, v)| {
                    same.iter().any(|&o| !flat[o].contains(&(k.clone(), v.clone())))
                        && !crate::hash::IGNORED_KEYS.contains(&k.as_str())
                })
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            labels[j] = format!("{} ({})", labels[j], differing.join(", "));
        }
    }
    for (i, l) in labels.iter().enumerate() {
        if labels[..i].contains(l) {
            return Err(format!("two rows are both labelled {l:?}: give one a `label`").into());
        }
    }
    Ok(labels)
}

/// A label as a directory name: letters, digits, `-`, `_`, `.`; anything else becomes `_`.
/// A leading `.` becomes `_` too, so no label names `.`, `..` or a hidden directory.
pub fn slug(label: &str) -> String {
    let s: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.+".contains(c) { c } else { '_' }).collect();
    match s.strip_prefix('.') {
        Some(rest) => format!("_{rest}"),
        None if s.is_empty() => "_".into(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_with_a_kind_replaces_the_table_and_others_merge_key_by_key() {
        let mut base: toml::Table = "[model]\nembedding_dim = 16\n[model.enhancer]\nkind = \"asymdiffrec\"\nrecon_weight = 1.0\n[train]\nlr = 0.001".parse().unwrap();
        let patch: toml::Table = "[model.enhancer]\nkind = \"ssl\"\n[train]\nepochs = 3".parse().unwrap();
        merge(&mut base, patch);
        let expected: toml::Table =
            "[model]\nembedding_dim = 16\n[model.enhancer]\nkind = \"ssl\"\n[train]\nlr = 0.001\nepochs = 3"
                .parse()
                .unwrap();
        assert_eq!(base, expected);
    }

    #[test]
    fn labels_become_directory_names_without_separators() {
        assert_eq!(
            slug("dcnv2+ssl (model.enhancer.masking=\"correlated\")"),
            "dcnv2+ssl__model.enhancer.masking__correlated__"
        );
        assert_eq!(slug("../x"), "_._x");
        assert_eq!((slug(".."), slug("")), ("_.".to_string(), "_".to_string()));
    }
}
