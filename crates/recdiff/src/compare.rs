//! `recdiff compare`: several experiments of any family over N seeds, as one table.

use crate::families::families;
use crate::train::print_record;
use anyhow::{Context, Result};
use clap::Args;
use recdiff_experiment::compare::Plan;
use std::path::PathBuf;

#[derive(Args)]
pub struct CompareArgs {
    /// Comparison config (TOML): experiments and/or a template with variants, seeds, key metric.
    pub config: PathBuf,
    /// Override the config's seed list (e.g. `--seeds 1` first, for every row paired on one seed,
    /// then the full list: finished seeds are read back, not trained again).
    #[arg(long, value_delimiter = ',')]
    pub seeds: Vec<u64>,
}

pub fn load_plan(args: &CompareArgs) -> Result<Plan> {
    let mut plan = Plan::load(&args.config, &families()).map_err(|e| anyhow::anyhow!(e))?;
    if !args.seeds.is_empty() {
        let mut unique = args.seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        anyhow::ensure!(unique.len() == args.seeds.len(), "--seeds {:?} repeats a seed", args.seeds);
        plan.config.seeds = args.seeds.clone();
    }
    Ok(plan)
}

pub fn compare(args: CompareArgs) -> Result<()> {
    let plan = load_plan(&args)?;
    let columns = plan.columns.clone();
    let rows = plan
        .run(|label, r, reused| {
            print!("{label}: ");
            print_record(r, &columns);
            if reused {
                println!("  (read back)");
            }
        })
        .map_err(|e| anyhow::anyhow!(e))
        .with_context(|| format!("comparison '{}'", plan.config.name))?;
    let intro = format!(
        "`recdiff compare {}`: {} seeds ({:?}); every row trains to its own config's early stopping.",
        args.config.display(),
        plan.config.seeds.len(),
        plan.config.seeds
    );
    let out = plan.output_dir();
    let md =
        recdiff_experiment::table::write_tables(&out, &plan.config.name, &intro, &rows, &plan.columns, &plan.metric)
            .map_err(|e| anyhow::anyhow!(e))?;
    println!("\n{md}\ntables: {}/table.md, table.csv, runs.csv", out.display());
    Ok(())
}
