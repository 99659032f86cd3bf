//! `recdiff eval`: a trained run of any family scored again, read-only.

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
    match crate::families::family_of_run(&args.run)? {
        recdiff_seq::family::FAMILY => return crate::seq::eval_run(&args.run, &[], &[]),
        recdiff_topk::family::FAMILY => return eval_topk(&args),
        _ => {}
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

/// A top-K run's metrics on its validation or test items, the user's other known items masked.
fn eval_topk(args: &EvalArgs) -> Result<()> {
    let test = match args.split {
        SplitArg::Valid => false,
        SplitArg::Test => true,
        SplitArg::Train => {
            anyhow::bail!("top-K runs are evaluated on --split valid or test (train items are the input)")
        }
    };
    if args.remove > 0.0 {
        anyhow::bail!("--remove applies to CTR runs (fields removed from each sample)");
    }
    let device = burn::tensor::Device::flex();
    let run = recdiff_run::TopKRun::open(&args.run, &device).context("opening the run")?;
    let m = recdiff_topk::eval::evaluate(&run.model, &run.split, test, &run.cfg, &device)?;
    let name = if test { "test" } else { "valid" };
    println!("{} ({}), {name} split, {} users:", args.run.display(), run.cfg.model.name(), m.users);
    for (metric, value) in &m.values {
        println!("  {metric:<14} {value:.5}");
    }
    Ok(())
}
