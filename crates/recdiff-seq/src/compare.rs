//! `recdiff seq compare`: several sequential experiments over N seeds on the same leave-one-out
//! split, one table — the CTR `compare` machinery for retrieval. Each experiment keeps its own
//! config (model and training budget); the first one listed is the reference row, against which
//! every other row gets the relative difference of the key metric and a paired t-test by seed.
//!
//! ```toml
//! name = "seq-ml100k-compare"
//! experiments = ["seq-ml100k-sasrec.toml", "seq-ml100k-dreamrec.toml", "seq-ml100k-dimerec.toml"]
//! seeds = [1, 2, 3]
//! metric = "ndcg@10"                 # the key metric of the Δ column
//! ```
//!
//! Each run lands in `<output>/<experiment>/seed-<k>`; a run whose `results.json` exists is read
//! back, not redone, so an interrupted comparison resumes. Writes `table.md`, `table.csv` (one row
//! per experiment) and `runs.csv` (one row per run).

use crate::config::SeqExperimentConfig;
use crate::train::{SeqError, SeqRunSummary};
use recdiff_metrics::{MeanCi, mean_ci95, paired_t_test};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Test metrics in the table, in order.
pub const COLUMNS: [&str; 9] =
    ["hr@10", "hr@50", "ndcg@10", "ndcg@50", "recall@20", "mrr", "coverage@10", "coverage@50", "ild@10"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeqCompareConfig {
    pub name: String,
    /// Experiment configs (relative to this file); the first is the reference row.
    pub experiments: Vec<PathBuf>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Default: `runs/<name>`.
    #[serde(default)]
    pub output: Option<PathBuf>,
    /// The key metric of the Δ column (default `ndcg@10`).
    #[serde(default = "default_metric")]
    pub metric: String,
    /// Cap on every experiment's epochs (default: each config's own).
    #[serde(default)]
    pub epochs: Option<usize>,
}

fn default_seeds() -> Vec<u64> {
    vec![1, 2, 3]
}

fn default_metric() -> String {
    "ndcg@10".into()
}

/// One experiment's row: its runs, one per seed.
#[derive(Debug, Clone)]
pub struct SeqRow {
    pub experiment: String,
    pub model: String,
    pub runs: Vec<SeqRunSummary>,
    /// Relative difference of the key metric's mean to the reference row, and the paired
    /// t-test's (mean difference, p-value); `None` on the reference row.
    pub versus_reference: Option<(f64, f64, f64)>,
}

impl SeqRow {
    /// Mean ± 95% CI of a test metric over the row's runs.
    pub fn stat(&self, metric: &str) -> Option<MeanCi> {
        let v: Vec<f64> = self.runs.iter().filter_map(|r| r.test.get(metric)).collect();
        if v.len() != self.runs.len() { None } else { mean_ci95(&v).ok() }
    }
}

fn invalid(path: &Path, message: impl std::fmt::Display) -> SeqError {
    SeqError::Other(format!("{}: {message}", path.display()))
}

impl SeqCompareConfig {
    /// Reads a compare config, resolving and loading every experiment it names.
    pub fn load(path: &Path) -> Result<(Self, Vec<SeqExperimentConfig>), SeqError> {
        let text = std::fs::read_to_string(path).map_err(|e| invalid(path, e))?;
        let mut c: SeqCompareConfig = toml::from_str(&text).map_err(|e| invalid(path, e))?;
        if c.seeds.is_empty() || c.experiments.is_empty() {
            return Err(invalid(path, "seeds and experiments must not be empty"));
        }
        if c.epochs == Some(0) {
            return Err(invalid(path, "epochs must be positive"));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut experiments = Vec::new();
        for e in &mut c.experiments {
            *e = dir.join(&*e);
            let cfg = SeqExperimentConfig::load(e)?;
            if experiments.iter().any(|x: &SeqExperimentConfig| x.name == cfg.name) {
                return Err(invalid(path, format!("experiment name {:?} appears twice", cfg.name)));
            }
            if !cfg.train.reports(&c.metric) {
                return Err(invalid(path, format!("metric {:?} is not reported by {}", c.metric, e.display())));
            }
            experiments.push(cfg);
        }
        Ok((c, experiments))
    }

    pub fn output_dir(&self) -> PathBuf {
        self.output.clone().unwrap_or_else(|| PathBuf::from("runs").join(&self.name))
    }
}

/// Trains (or reads back) one experiment's runs.
fn experiment_runs(c: &SeqCompareConfig, e: &SeqExperimentConfig) -> Result<Vec<SeqRunSummary>, SeqError> {
    let mut runs = Vec::new();
    for &seed in &c.seeds {
        let out = c.output_dir().join(&e.name).join(format!("seed-{seed}"));
        let done: Option<SeqRunSummary> =
            std::fs::read(out.join("results.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let summary = match done {
            Some(s) => s,
            None => {
                let mut cfg = e.clone();
                cfg.seed = seed;
                cfg.output = Some(out);
                if let Some(n) = c.epochs {
                    cfg.train.epochs = n;
                }
                tracing::info!("training {} seed {seed}", cfg.name);
                crate::run(&cfg)?
            }
        };
        runs.push(summary);
    }
    Ok(runs)
}

/// Runs every experiment (resuming finished runs) and returns the table rows.
pub fn run(c: &SeqCompareConfig, experiments: &[SeqExperimentConfig]) -> Result<Vec<SeqRow>, SeqError> {
    let mut rows: Vec<SeqRow> = Vec::new();
    for e in experiments {
        let runs = experiment_runs(c, e)?;
        let versus_reference = rows.first().and_then(|reference| versus(&c.metric, &runs, &reference.runs));
        let model = e.model.name().to_string();
        rows.push(SeqRow { experiment: e.name.clone(), model, runs, versus_reference });
    }
    Ok(rows)
}

/// (relative difference of means, mean paired difference, p) of `metric`, paired by seed.
fn versus(metric: &str, runs: &[SeqRunSummary], reference: &[SeqRunSummary]) -> Option<(f64, f64, f64)> {
    let a: Vec<f64> = runs.iter().filter_map(|r| r.test.get(metric)).collect();
    let b: Vec<f64> = reference.iter().filter_map(|r| r.test.get(metric)).collect();
    let (ma, mb) = (mean_ci95(&a).ok()?.mean, mean_ci95(&b).ok()?.mean);
    let relative = if mb != 0.0 { ma / mb - 1.0 } else { f64::NAN };
    let (diff, p) = paired_t_test(&a, &b).unwrap_or((ma - mb, f64::NAN));
    Some((relative, diff, p))
}

fn cell(m: Option<MeanCi>) -> String {
    m.map_or("n/a".into(), |m| {
        if m.n > 1 { format!("{:.4} ± {:.4}", m.mean, m.half_width) } else { format!("{:.4}", m.mean) }
    })
}

/// The Markdown table.
pub fn markdown(c: &SeqCompareConfig, rows: &[SeqRow]) -> String {
    let reference = rows.first().map_or("", |r| r.experiment.as_str());
    let mut s = format!(
        "# {}\n\nLeave-one-out test targets, full ranking over the catalogue, {} seeds ({:?}), mean ± 95% CI \
         (Student t). Each experiment trains to its config's early stopping. Δ = relative difference of mean \
         {} to `{reference}`; p = paired t-test by seed.\n\n",
        c.name,
        c.seeds.len(),
        c.seeds,
        c.metric
    );
    let _ = writeln!(s, "| experiment | model | {} | Δ {} (p) | best epochs |", COLUMNS.join(" | "), c.metric);
    let _ = writeln!(s, "|---|---|{}---|---|", "---|".repeat(COLUMNS.len()));
    for r in rows {
        let cells: Vec<String> = COLUMNS.iter().map(|m| cell(r.stat(m))).collect();
        let delta = r.versus_reference.map_or("—".into(), |(rel, _, p)| format!("{:+.1}% (p={p:.3})", rel * 100.0));
        let epochs: Vec<String> = r.runs.iter().map(|x| x.best_epoch.to_string()).collect();
        let _ =
            writeln!(s, "| {} | {} | {} | {delta} | {} |", r.experiment, r.model, cells.join(" | "), epochs.join(","));
    }
    s
}

/// Writes `table.md`, `table.csv` (one row per experiment) and `runs.csv` (one row per run).
pub fn write_tables(c: &SeqCompareConfig, rows: &[SeqRow]) -> Result<String, SeqError> {
    let out = c.output_dir();
    std::fs::create_dir_all(&out).map_err(|e| invalid(&out, e))?;
    let md = markdown(c, rows);
    recdiff_data::write_atomic(&out.join("table.md"), md.as_bytes())?;
    let mut header = String::from("experiment,model,seeds");
    for m in COLUMNS {
        let _ = write!(header, ",{m}_mean,{m}_ci95");
    }
    let mut table = format!("{header},relative_to_reference,paired_diff,paired_p\n");
    let mut per_run = format!("experiment,model,seed,epochs_run,best_epoch,seconds_per_epoch,{}\n", COLUMNS.join(","));
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for r in rows {
        let _ = write!(table, "{},{},{}", r.experiment, r.model, r.runs.len());
        for m in COLUMNS {
            let st = r.stat(m);
            let _ = write!(table, ",{},{}", opt(st.map(|s| s.mean)), opt(st.map(|s| s.half_width)));
        }
        let v = r.versus_reference;
        let _ = writeln!(table, ",{},{},{}", opt(v.map(|x| x.0)), opt(v.map(|x| x.1)), opt(v.map(|x| x.2)));
        for x in &r.runs {
            let metrics: Vec<String> = COLUMNS.iter().map(|m| opt(x.test.get(m))).collect();
            let _ = writeln!(
                per_run,
                "{},{},{},{},{},{:.2},{}",
                r.experiment,
                r.model,
                x.seed,
                x.epochs_run,
                x.best_epoch,
                x.seconds_per_epoch,
                metrics.join(",")
            );
        }
    }
    recdiff_data::write_atomic(&out.join("table.csv"), table.as_bytes())?;
    recdiff_data::write_atomic(&out.join("runs.csv"), per_run.as_bytes())?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::SeqMetrics;

    fn summary(seed: u64, ndcg10: f64) -> SeqRunSummary {
        let metrics = SeqMetrics {
            ks: vec![10, 20, 50],
            hit_rate: vec![2.0 * ndcg10, 0.3, 0.5],
            ndcg: vec![ndcg10, 0.15, 0.2],
            recall: vec![2.0 * ndcg10, 0.3, 0.5],
            mrr: ndcg10 * 0.8,
            coverage: vec![0.2, 0.3, 0.4],
            ild: vec![0.7, 0.7, 0.7],
            queries: 943,
        };
        SeqRunSummary {
            name: "x".into(),
            model: "sasrec".into(),
            seed,
            epochs_run: 10,
            best_epoch: 5,
            train_positions: 100,
            seconds_per_epoch: 1.0,
            valid: metrics.clone(),
            test: metrics,
        }
    }

    #[test]
    fn rows_after_the_first_are_compared_to_it_by_seed() {
        let reference: Vec<_> = [(1, 0.10), (2, 0.11), (3, 0.12)].map(|(s, v)| summary(s, v)).to_vec();
        let better: Vec<_> = [(1, 0.12), (2, 0.13), (3, 0.14)].map(|(s, v)| summary(s, v)).to_vec();
        let (rel, diff, p) = versus("ndcg@10", &better, &reference).unwrap();
        assert!((rel - (0.13 / 0.11 - 1.0)).abs() < 1e-12, "{rel}");
        assert!((diff - 0.02).abs() < 1e-12 && p < 1e-6, "{diff} {p}");
        let c: SeqCompareConfig =
            toml::from_str("name = \"t\"\nexperiments = [\"a.toml\", \"b.toml\"]\nseeds = [1, 2, 3]").unwrap();
        let rows = vec![
            SeqRow { experiment: "a".into(), model: "sasrec".into(), runs: reference, versus_reference: None },
            SeqRow {
                experiment: "b".into(),
                model: "dimerec".into(),
                runs: better,
                versus_reference: Some((rel, diff, p)),
            },
        ];
        let md = markdown(&c, &rows);
        assert!(md.contains("| a | sasrec | 0.2200 ± "), "{md}");
        assert!(md.contains("| b | dimerec | 0.2600 ± "), "{md}");
        assert!(md.contains("+18.2% (p=0.000)"), "{md}");
    }

    #[test]
    fn a_key_metric_the_experiments_do_not_report_is_rejected_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let exp = "name = \"e\"\n[data]\nschema = \"s.toml\"\n[model]\nkind = \"sasrec\"\n[train]\nks = [10, 50]\n";
        std::fs::write(dir.path().join("e.toml"), exp).unwrap();
        let write = |metric: &str| {
            let path = dir.path().join("c.toml");
            std::fs::write(&path, format!("name = \"c\"\nexperiments = [\"e.toml\"]\nmetric = \"{metric}\"\n"))
                .unwrap();
            path
        };
        let (c, experiments) = SeqCompareConfig::load(&write("hr@50")).unwrap();
        assert_eq!((c.seeds, experiments[0].name.as_str()), (vec![1, 2, 3], "e"));
        for bad in ["ndcg@20", "auc", "coverage@10"] {
            let e = SeqCompareConfig::load(&write(bad)).unwrap_err().to_string();
            assert!(e.contains(&format!("metric {bad:?} is not reported by")), "{e}");
        }
    }

    #[test]
    fn unknown_keys_in_a_compare_config_are_rejected() {
        let e = toml::from_str::<SeqCompareConfig>("name = \"t\"\nexperiments = []\nbases = []").unwrap_err();
        assert!(e.to_string().contains("unknown field `bases`"), "{e}");
    }
}
