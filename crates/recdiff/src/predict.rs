//! `recdiff predict`: a CTR run scores a CSV or Parquet file, read-only.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

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
    crate::families::require(
        &args.run,
        &[recdiff_train::family::FAMILY],
        "predict",
        "a sequential or top-K run recommends items: recdiff recommend RUN --user U",
    )?;
    let s = recdiff_train::predict::predict(&args.run, &args.input, &args.output)
        .with_context(|| format!("scoring {} with {}", args.input.display(), args.run.display()))?;
    println!("scored {} rows into {}", s.rows, args.output.display());
    if let Some(line) = recdiff_data::rows::skipped_summary(s.skipped, &s.skipped_examples) {
        println!("{line}");
    }
    Ok(())
}
