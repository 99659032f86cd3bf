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
    let m: EvalMetrics = session.evaluate(&split, args.remove)?;
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
