//! `recdiff quickstart`: the README's main job on the embedded default dataset.
//!
//! Today it generates the default synthetic impression log, prints its statistics and encodes it
//! with a seeded 8:1:1 random split; training and the AsymDiffRec comparison join it as they land.

use anyhow::{Context, Result};
use clap::Args;
use recdiff_data::synth::{self, SynthConfig};
use recdiff_data::{Schema, SplitSpec};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct QuickstartArgs {
    /// Where the data and the encoded splits go.
    #[arg(long, default_value = "runs/quickstart")]
    out: PathBuf,
    /// Rows of the synthetic log.
    #[arg(long, default_value_t = SynthConfig::default().rows)]
    rows: u64,
    #[arg(long, default_value_t = SynthConfig::default().seed)]
    seed: u64,
}

pub fn run(args: QuickstartArgs) -> Result<()> {
    let config = SynthConfig { rows: args.rows, seed: args.seed, ..SynthConfig::default() };
    let started = Instant::now();
    let planted = synth::generate(&config, &args.out.join("data")).context("generating the synthetic log")?;
    println!(
        "1/3 generated {} impressions x {} fields in {:.1}s (oracle AUC {:.4})",
        config.rows,
        config.fields,
        started.elapsed().as_secs_f64(),
        planted.oracle_auc
    );
    let schema = Schema::load(&planted.schema_file)?;
    let stats = recdiff_data::stats::compute(&schema, 0)?;
    println!("2/3 statistics of {}:\n", planted.data_file.display());
    crate::data::print_stats(&schema, &stats);
    let started = Instant::now();
    let split = SplitSpec::Random { ratios: [0.8, 0.1, 0.1], seed: args.seed };
    let out = args.out.join("encoded");
    let meta = recdiff_data::encode(&schema, &split, &out, args.seed)?;
    print!("\n3/3 ");
    crate::data::print_encoded(&meta, &out, started.elapsed().as_secs_f64());
    Ok(())
}
