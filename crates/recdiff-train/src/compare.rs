//! `recdiff compare`: every (base × enhancer) cell over N seeds with the same data split and the
//! same training budget (the template experiment's `[train]` section — no per-method tuning), in
//! the AsymDiffRec paper's table layout: AUC, RelaImpr, UAUC, RelaImpr, LogLoss, each mean ± 95% CI,
//! plus a paired t-test (by seed) of each row's AUC against its base without enhancer.
//!
//! ```toml
//! name = "ml100k-compare"
//! template = "ml100k-dcnv2.toml"     # data, embeddings and training budget for every cell
//! seeds = [1, 2, 3, 4, 5]
//! [[bases]]
//! kind = "dcnv2"
//! [[enhancers]]
//! kind = "none"                      # the reference row of each base
//! [[enhancers]]
//! kind = "asymdiffrec"
//! ```
//!
//! Each run lands in `<output>/<base>/<enhancer>/seed-<k>`; a run whose `results.json` exists is
//! not redone, so an interrupted comparison resumes. Writes `table.md`, `table.csv` and `runs.csv`
//! (one row per run).

use crate::train::RunSummary;
use crate::{ExperimentConfig, TrainError};
use recdiff_metrics::{MeanCi, mean_ci95, paired_t_test, rela_impr};
use recdiff_model::EnhancerConfig;
use recdiff_model::base::BaseConfig;
use serde::{Deserialize, Serialize};

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareConfig {
    pub name: String,
    /// Experiment config every cell starts from (relative to this file).
    pub template: PathBuf,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Default: `runs/<name>`.
    #[serde(default)]
    pub output: Option<PathBuf>,
    /// Default: the template's base.
    #[serde(default)]
    pub bases: Vec<BaseConfig>,
    /// Default: none and AsymDiffRec. A `none` row is added when absent (the reference).
    #[serde(default)]
    pub enhancers: Vec<EnhancerConfig>,
}

fn default_seeds() -> Vec<u64> {
    vec![1, 2, 3, 4, 5]
}

/// One (base, enhancer) row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub base: String,
    pub enhancer: String,
    pub auc: MeanCi,
    pub uauc: MeanCi,
    pub logloss: MeanCi,
    pub auc_impr: Option<f64>,
    pub uauc_impr: Option<f64>,
    /// (mean AUC difference to the base row, p-value), paired by seed.
    pub paired: Option<(f64, f64)>,
    pub runs: Vec<RunSummary>,
}

fn invalid(path: &Path, message: impl std::fmt::Display) -> TrainError {
    TrainError::Other(format!("{}: {message}", path.display()))
}

impl CompareConfig {
    pub fn load(path: &Path) -> Result<(Self, ExperimentConfig), TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let mut c: CompareConfig = toml::from_str(&text).map_err(|e| invalid(path, e))?;
        if c.seeds.is_empty() {
            return Err(invalid(path, "seeds must not be empty"));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        c.template = dir.join(&c.template);
        let template = ExperimentConfig::load(&c.template)?;
        if c.bases.is_empty() {
            c.bases.push(template.model.base.clone());
        }
        if c.enhancers.is_empty() {
            c.enhancers.push(EnhancerConfig::AsymDiffRec(Default::default()));
        }
        if !c.enhancers.contains(&EnhancerConfig::None) {
            c.enhancers.insert(0, EnhancerConfig::None);
        }
        Ok((c, template))
    }

    pub fn output_dir(&self) -> PathBuf {
        self.output.clone().unwrap_or_else(|| PathBuf::from("runs").join(&self.name))
    }
}

/// Trains (or reads back) one cell's runs.
fn cell_runs(
    c: &CompareConfig,
    t: &ExperimentConfig,
    base: &BaseConfig,
    enh: &EnhancerConfig,
) -> Result<Vec<RunSummary>, TrainError> {
    let dir = c.output_dir().join(base.name()).join(enh.name());
    let shared_data = t.data.encoded.clone().unwrap_or_else(|| c.output_dir().join("data"));
    let mut runs = Vec::new();
    for &seed in &c.seeds {
        let out = dir.join(format!("seed-{seed}"));
        let done: Option<RunSummary> =
            std::fs::read(out.join("results.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let summary = match done {
            Some(s) => s,
            None => {
                let mut cfg = t.clone();
                cfg.name = format!("{}/{}/{}", c.name, base.name(), enh.name());
                cfg.seed = seed;
                cfg.output = Some(out);
                cfg.data.encoded = Some(shared_data.clone());
                cfg.model.base = base.clone();
                cfg.model.enhancer = enh.clone();
                tracing::info!("training {} seed {seed}", cfg.name);
                crate::run(&cfg, true)?
            }
        };
        runs.push(summary);
    }
    Ok(runs)
}

fn stat(runs: &[RunSummary], f: fn(&RunSummary) -> f64) -> Result<MeanCi, TrainError> {
    Ok(mean_ci95(&runs.iter().map(f).collect::<Vec<_>>()).map_err(crate::eval::EvalError::from)?)
}

/// Runs every cell (resuming finished ones) and returns the table rows.
pub fn run(c: &CompareConfig, t: &ExperimentConfig) -> Result<Vec<Row>, TrainError> {
    let mut rows = Vec::new();
    for base in &c.bases {
        let mut reference: Option<Vec<RunSummary>> = None;
        for enh in &c.enhancers {
            let runs = cell_runs(c, t, base, enh)?;
            let (auc, uauc, logloss) =
                (stat(&runs, |r| r.test.auc)?, stat(&runs, |r| r.test.uauc)?, stat(&runs, |r| r.test.logloss)?);
            let (mut auc_impr, mut uauc_impr, mut paired) = (None, None, None);
            if let Some(r) = &reference {
                let (ra, ru) = (stat(r, |x| x.test.auc)?, stat(r, |x| x.test.uauc)?);
                auc_impr = rela_impr(auc.mean, ra.mean).ok();
                uauc_impr = rela_impr(uauc.mean, ru.mean).ok();
                let a: Vec<f64> = runs.iter().map(|x| x.test.auc).collect();
                let b: Vec<f64> = r.iter().map(|x| x.test.auc).collect();
                paired = paired_t_test(&a, &b).ok();
            }
            if *enh == EnhancerConfig::None {
                reference = Some(runs.clone());
            }
            rows.push(Row {
                base: base.name().into(),
                enhancer: enh.name().into(),
                auc,
                uauc,
                logloss,
                auc_impr,
                uauc_impr,
                paired,
                runs,
            });
        }
    }
    Ok(rows)
}

fn pm(m: &MeanCi) -> String {
    format!("{:.5} ± {:.5}", m.mean, m.half_width)
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:+.3}%", v * 100.0))
}

/// The Markdown table.
pub fn markdown(c: &CompareConfig, t: &ExperimentConfig, rows: &[Row]) -> String {
    let mut s = format!(
        "# {}\n\nTest split, {} seeds ({:?}), mean ± 95% CI (Student t). Every cell: same split and budget \
         (≤ {} epochs, patience {}, lr {}, batch {}); no per-method tuning. RelaImpr = metric / base − 1 \
         against the same base without enhancer; p = paired t-test of AUC by seed.\n\n",
        c.name,
        c.seeds.len(),
        c.seeds,
        t.train.epochs,
        t.train.patience,
        t.train.lr,
        t.train.batch_size
    );
    s.push_str("| base | enhancer | AUC | RelaImpr | UAUC | RelaImpr | LogLoss | ΔAUC (p) |\n|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let p = r.paired.map_or("—".into(), |(d, p)| format!("{d:+.5} (p={p:.3})"));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.base,
            r.enhancer,
            pm(&r.auc),
            pct(r.auc_impr),
            pm(&r.uauc),
            pct(r.uauc_impr),
            pm(&r.logloss),
            p
        );
    }
    s
}

/// Writes `table.md`, `table.csv` (one row per cell) and `runs.csv` (one row per run).
pub fn write_tables(c: &CompareConfig, t: &ExperimentConfig, rows: &[Row]) -> Result<String, TrainError> {
    let out = c.output_dir();
    std::fs::create_dir_all(&out).map_err(|e| TrainError::io(&out, e))?;
    let md = markdown(c, t, rows);
    recdiff_data::write_atomic(&out.join("table.md"), md.as_bytes())?;
    let mut csv = String::from(
        "base,enhancer,seeds,auc_mean,auc_ci95,auc_relaimpr,uauc_mean,uauc_ci95,uauc_relaimpr,logloss_mean,logloss_ci95,auc_diff,auc_p\n",
    );
    let mut per_run = String::from("base,enhancer,seed,best_step,test_auc,test_uauc,test_logloss,valid_auc,seconds\n");
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for r in rows {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.base,
            r.enhancer,
            r.runs.len(),
            r.auc.mean,
            r.auc.half_width,
            opt(r.auc_impr),
            r.uauc.mean,
            r.uauc.half_width,
            opt(r.uauc_impr),
            r.logloss.mean,
            r.logloss.half_width,
            opt(r.paired.map(|p| p.0)),
            opt(r.paired.map(|p| p.1))
        );
        for x in &r.runs {
            let _ = writeln!(
                per_run,
                "{},{},{},{},{},{},{},{},{:.1}",
                r.base,
                r.enhancer,
                x.seed,
                x.best_step,
                x.test.auc,
                x.test.uauc,
                x.test.logloss,
                x.valid.auc,
                x.seconds
            );
        }
    }
    recdiff_data::write_atomic(&out.join("table.csv"), csv.as_bytes())?;
    recdiff_data::write_atomic(&out.join("runs.csv"), per_run.as_bytes())?;
    Ok(md)
}
