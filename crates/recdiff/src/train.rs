//! `recdiff eval` and `recdiff predict`: a trained run read back, never written.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use recdiff_data::split::{NAMES, TEST, TRAIN, VALID};
use recdiff_train::eval::{evaluate_run, show};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum SplitArg {
    Train,
    Valid,
    Test,
}

#[derive(Args)]
pub struct EvalArgs {
    /// Run directory written by `recdiff train` (any family).
    pub run: PathBuf,
    /// CTR runs: the split to score.
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    /// CTR runs: also hide this share of each sample's present fields (robustness probe).
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    pub remove: f64,
}

/// A share in [0, 1] (NaN and infinities refused).
pub fn share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        Ok(x) => Err(format!("{x} is not a share in [0, 1]")),
        Err(e) => Err(e.to_string()),
    }
}

pub fn eval(args: EvalArgs) -> Result<()> {
    if crate::experiment::family_of_run(&args.run)? == recdiff_seq::family::FAMILY {
        return crate::seq::eval_run(&args.run, &[], &[]);
    }
    let run = recdiff_run::CtrRun::open(&args.run).context("opening the run")?;
    let s = match args.split {
        SplitArg::Train => TRAIN,
        SplitArg::Valid => VALID,
        SplitArg::Test => TEST,
    };
    let split = run.split(s)?;
    let m = evaluate_run(&run, &split, &recdiff_train::batch::Probe::Random(args.remove))?;
    println!(
        "{} split ({} rows{}): AUC {:.5}  UAUC {} ({} users)  LogLoss {:.5}",
        NAMES[s as usize],
        m.rows,
        if args.remove > 0.0 {
            format!(", {:.0}% of present fields removed", args.remove * 100.0)
        } else {
            String::new()
        },
        m.auc,
        show(m.uauc),
        m.uauc_users,
        m.logloss
    );
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
