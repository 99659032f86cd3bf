//! `recdiff train` and `recdiff eval`.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use recdiff_data::SplitFile;
use recdiff_data::split::{NAMES, TEST, TRAIN, VALID};
use recdiff_train::{EvalMetrics, ExperimentConfig, RunSummary, Session};
use std::path::PathBuf;

#[derive(Args)]
pub struct TrainArgs {
    /// Experiment config (TOML).
    pub config: PathBuf,
    /// Continue from `<output>/last` when it exists.
    #[arg(long)]
    pub resume: bool,
    /// Override the config's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the config's output directory.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Train once per seed (into `<output>/seed-<k>`) and report mean ± 95% CI.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Vec<u64>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SplitArg {
    Train,
    Valid,
    Test,
}

#[derive(Args)]
pub struct EvalArgs {
    /// Run directory written by `recdiff train`.
    pub run: PathBuf,
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    /// Also hide this share of each sample's present fields (robustness probe).
    #[arg(long, default_value_t = 0.0)]
    pub remove: f64,
}

pub fn print_summary(s: &RunSummary) {
    println!(
        "{} (seed {}): best step {} of {}, {:.1}s\n  valid AUC {:.5} UAUC {:.5} LogLoss {:.5}\n  test  AUC {:.5} UAUC {:.5} LogLoss {:.5}",
        s.model,
        s.seed,
        s.best_step,
        s.steps,
        s.seconds,
        s.valid.auc,
        s.valid.uauc,
        s.valid.logloss,
        s.test.auc,
        s.test.uauc,
        s.test.logloss
    );
}

pub fn load_config(args: &TrainArgs) -> Result<ExperimentConfig> {
    let mut cfg = ExperimentConfig::load(&args.config)?;
    if let Some(seed) = args.seed {
        cfg.seed = seed;
    }
    if let Some(out) = &args.output {
        cfg.output = Some(out.clone());
    }
    Ok(cfg)
}

pub fn train(args: TrainArgs) -> Result<()> {
    let cfg = load_config(&args)?;
    if !args.seeds.is_empty() {
        return train_seeds(&cfg, &args.seeds, args.resume);
    }
    let summary = recdiff_train::run(&cfg, args.resume).with_context(|| format!("training '{}'", cfg.name))?;
    print_summary(&summary);
    println!("run directory: {}", cfg.output_dir().display());
    Ok(())
}

pub fn eval(args: EvalArgs) -> Result<()> {
    let cfg = recdiff_train::train::load_run_config(&args.run)?;
    let cfg = ExperimentConfig { output: Some(args.run.clone()), ..cfg };
    let mut session = Session::new(&cfg, true).context("opening the run")?;
    session.load_best().context("loading the best checkpoint")?;
    let s = match args.split {
        SplitArg::Train => TRAIN,
        SplitArg::Valid => VALID,
        SplitArg::Test => TEST,
    };
    let split: SplitFile = session.split(s)?;
    let m: EvalMetrics = session.evaluate(&split, &recdiff_train::batch::Probe::Random(args.remove))?;
    println!(
        "{} split ({} rows{}): AUC {:.5}  UAUC {:.5} ({} users)  LogLoss {:.5}",
        NAMES[s as usize],
        m.rows,
        if args.remove > 0.0 {
            format!(", {:.0}% of present fields removed", args.remove * 100.0)
        } else {
            String::new()
        },
        m.auc,
        m.uauc,
        m.uauc_users,
        m.logloss
    );
    Ok(())
}

/// Reads one metric off a run summary.
type MetricOf = fn(&RunSummary) -> f64;

/// Mean ± 95% CI of each test metric over `runs`.
pub fn seed_table(runs: &[RunSummary]) -> Result<Vec<(&'static str, recdiff_metrics::MeanCi)>> {
    let pick: [(&'static str, MetricOf); 3] =
        [("AUC", |r| r.test.auc), ("UAUC", |r| r.test.uauc), ("LogLoss", |r| r.test.logloss)];
    pick.iter()
        .map(|(name, f)| Ok((*name, recdiff_metrics::mean_ci95(&runs.iter().map(f).collect::<Vec<_>>())?)))
        .collect()
}

fn train_seeds(cfg: &ExperimentConfig, seeds: &[u64], resume: bool) -> Result<()> {
    let base_out = cfg.output_dir();
    let mut runs = Vec::new();
    for &seed in seeds {
        let out = base_out.join(format!("seed-{seed}"));
        let run_cfg = ExperimentConfig { seed, output: Some(out.clone()), ..cfg.clone() };
        let done = out.join("results.json");
        let summary: RunSummary = match std::fs::read(&done).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
            Some(s) if resume => s,
            _ => {
                recdiff_train::run(&run_cfg, resume).with_context(|| format!("training '{}' seed {seed}", cfg.name))?
            }
        };
        print_summary(&summary);
        runs.push(summary);
    }
    let table = seed_table(&runs)?;
    println!("\n{} over {} seeds (test split, mean ± 95% CI):", cfg.name, runs.len());
    for (name, ci) in &table {
        println!("  {name:<8} {:.5} ± {:.5}", ci.mean, ci.half_width);
    }
    let json = serde_json::json!({
        "name": cfg.name,
        "seeds": seeds,
        "runs": runs,
        "test": table.iter().map(|(n, c)| (n.to_string(), serde_json::json!({"mean": c.mean, "ci95": c.half_width, "std": c.std}))).collect::<serde_json::Map<_, _>>(),
    });
    std::fs::write(base_out.join("seeds.json"), serde_json::to_vec_pretty(&json)?)?;
    Ok(())
}

#[derive(Args)]
pub struct PredictArgs {
    /// Run directory written by `recdiff train`.
    pub run: PathBuf,
    /// Rows to score: CSV/TSV or Parquet with the schema's feature columns.
    pub input: PathBuf,
    /// Output CSV (`line,score`).
    #[arg(short, long)]
    pub output: PathBuf,
}

pub fn predict(args: PredictArgs) -> Result<()> {
    let s = recdiff_train::predict::predict(&args.run, &args.input, &args.output)
        .with_context(|| format!("scoring {} with {}", args.input.display(), args.run.display()))?;
    println!("scored {} rows into {}", s.rows, args.output.display());
    if let Some(line) = recdiff_data::rows::skipped_summary(s.skipped, &s.skipped_examples) {
        println!("{line}");
    }
    Ok(())
}

#[derive(Args)]
pub struct CompareArgs {
    /// Comparison config (TOML): template experiment, seeds, bases, enhancers.
    pub config: PathBuf,
}

pub fn compare(args: CompareArgs) -> Result<()> {
    let (c, template) = recdiff_train::compare::CompareConfig::load(&args.config)?;
    let rows = recdiff_train::compare::run(&c, &template).with_context(|| format!("comparison '{}'", c.name))?;
    let md = recdiff_train::compare::write_tables(&c, &template, &rows)?;
    println!("{md}");
    println!("tables: {}/table.md, table.csv, runs.csv", c.output_dir().display());
    Ok(())
}

pub fn robustness(args: CompareArgs) -> Result<()> {
    let (c, _) = recdiff_train::compare::CompareConfig::load(&args.config)?;
    let curves = recdiff_train::robustness::run(&c).with_context(|| format!("robustness of '{}'", c.name))?;
    let md = recdiff_train::robustness::write(&c, &curves)?;
    println!("{md}");
    println!("plot: {}/robustness.png (and .svg), table: robustness.md, robustness.csv", c.output_dir().display());
    Ok(())
}
