//! `recdiff train`: experiments of any family from their configs, one seed or several, on one
//! process or as one rank of an MPI world; `--resume` continues a run from its last checkpoint.

use crate::families::families;
use anyhow::{Context, Result, bail};
use clap::Args;
use recdiff_experiment::compare::{Row, cap_epochs};
use recdiff_experiment::{Experiment, RunPlan, RunRecord};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct TrainArgs {
    /// Experiment config (TOML) of any family: `[data]`, `[model] kind = ...`, `[train]`.
    #[arg(required = true)]
    pub configs: Vec<PathBuf>,
    /// Continue an interrupted run from its last checkpoint (a run of the same config only).
    #[arg(long)]
    pub resume: bool,
    /// Train again into an output that holds a finished run (its results are replaced).
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Override the config's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the config's output directory.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Train once per seed into `<output>/<config-hash>/seed-<k>` (finished seeds are read back)
    /// and write the mean ± 95% CI table there.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Vec<u64>,
    /// Cap on the config's training epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Train data-parallel as one rank of an MPI world (`mpirun -np N recdiff train cfg.toml
    /// --distributed`; `srun` on Slurm): each rank trains on its shard of every batch, rank 0
    /// writes the run. Needs a build with `--features mpi`.
    #[arg(long, conflicts_with = "seeds")]
    pub distributed: bool,
    /// Most memory a run may need, in GiB (default: what the system reports available); a config
    /// whose tables, layers and batch need more is refused before anything is allocated.
    #[arg(long, value_parser = crate::train::gib)]
    pub max_memory: Option<u64>,
}

/// A positive number of GiB, as bytes.
pub fn gib(s: &str) -> Result<u64, String> {
    let g: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if !(g.is_finite() && g > 0.0 && g < 1e9) {
        return Err(format!("{s}: give a positive number of GiB"));
    }
    Ok((g * (1u64 << 30) as f64) as u64)
}

/// The MPI world of this process (`--distributed`).
#[cfg(feature = "mpi")]
fn mpi_world() -> Result<std::sync::Arc<dyn recdiff_dist::Collective>> {
    Ok(std::sync::Arc::new(recdiff_dist::mpi::MpiWorld::init().context("starting MPI")?))
}

#[cfg(not(feature = "mpi"))]
fn mpi_world() -> Result<std::sync::Arc<dyn recdiff_dist::Collective>> {
    bail!("--distributed needs a recdiff built with MPI: cargo build --release -p recdiff --features mpi")
}

/// Loads `path` with the command line's overrides applied.
fn load(path: &Path, args: &TrainArgs) -> Result<Box<dyn Experiment>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut table: toml::Table = text.parse().with_context(|| format!("parsing {}", path.display()))?;
    if let Some(seed) = args.seed {
        table.insert("seed".into(), toml::Value::Integer(i64::try_from(seed).context("--seed is too large")?));
    }
    if let Some(out) = &args.output {
        table.insert("output".into(), toml::Value::String(out.display().to_string()));
    }
    cap_epochs(&mut table, args.epochs);
    let family = recdiff_experiment::family::family_of(&families(), &table)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    family.load(table, path.parent().unwrap_or(Path::new(".")), path).map_err(|e| anyhow::anyhow!(e))
}

/// One line per finished run: its best epoch and the table's test metrics.
pub fn print_record(r: &RunRecord, columns: &[String]) {
    let metrics: Vec<String> =
        columns.iter().map(|m| format!("{m} {}", recdiff_experiment::metrics::cell(r.test.get(m), 5))).collect();
    println!(
        "{} (seed {}): best epoch {} of {}, {:.1}s; test {}",
        r.model,
        r.seed,
        r.best_epoch,
        r.epochs,
        r.seconds,
        metrics.join(", ")
    );
}

pub fn train(args: TrainArgs) -> Result<()> {
    if args.configs.len() > 1 && args.output.is_some() {
        bail!("--output applies to one config; give each config its own `output`");
    }
    if let Some(bytes) = args.max_memory {
        recdiff_run::budget::set_max_memory(bytes);
    }
    let world = if args.distributed { Some(mpi_world()?) } else { None };
    // Rank 0 speaks for the world; the other ranks print only their errors.
    let root = world.as_ref().is_none_or(|w| w.rank() == 0);
    for path in &args.configs {
        let exp = load(path, &args)?;
        let columns = exp.columns();
        if args.seeds.is_empty() {
            let out = exp.output_dir();
            if !args.resume && !args.force && out.join(recdiff_experiment::record::RESULTS_FILE).is_file() {
                bail!(
                    "{} holds a finished run; --resume continues it (e.g. with more epochs), --force trains it \
                     again from scratch, or give the config another `output`",
                    out.display()
                );
            }
            let plan = RunPlan { seed: exp.seed(), out: &out, cache: None, resume: args.resume, world: world.clone() };
            let made = !out.as_os_str().is_empty() && !out.exists();
            let trained = exp.run(&plan);
            if trained.is_err() && made && root {
                // A run that failed before writing anything leaves no empty directory behind.
                recdiff_run::layout::remove_empty_dirs(&out);
            }
            let r = trained.map_err(|e| anyhow::anyhow!(e)).with_context(|| format!("training '{}'", exp.name()))?;
            if root {
                print_record(&r, &columns);
                println!("run directory: {}", out.display());
            }
            continue;
        }
        let root = exp.output_dir();
        let runs = recdiff_experiment::seeds::seed_runs(exp.as_ref(), &root, &args.seeds, None, |r, reused| {
            print_record(r, &columns);
            if reused {
                println!("  (read back: finished under the same config)");
            }
        })
        .map_err(|e| anyhow::anyhow!(e))
        .with_context(|| format!("training '{}'", exp.name()))?;
        let (dir, _) = recdiff_experiment::seeds::runs_dir(exp.as_ref(), &root).map_err(|e| anyhow::anyhow!(e))?;
        let rows = [Row { label: exp.name().into(), model: exp.model(), reference: None, runs }];
        let intro = format!("`{}` over seeds {:?}.", path.display(), args.seeds);
        let md =
            recdiff_experiment::table::write_tables(&dir, exp.name(), &intro, &rows, &columns, &exp.stopping_metric())
                .map_err(|e| anyhow::anyhow!(e))?;
        println!("\n{md}\ntables: {}/table.md, table.csv, runs.csv", dir.display());
    }
    Ok(())
}
