//! `recdiff bench dist`: one data-parallel training configuration, each step split into compute
//! and communication. Run it under `mpirun -np N` with a build `--features mpi` (without MPI it
//! runs as a world of one); rank 0 prints one Markdown row per model.

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use recdiff_bench::train_step::{TrainBench, run_in};
use recdiff_dist::Collective;
use recdiff_dist::timed::Timed;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, ValueEnum)]
pub enum Tables {
    Replicated,
    RowWise,
}

#[derive(Args)]
pub struct DistBenchArgs {
    #[command(flatten)]
    shape: crate::bench::StepShape,
    /// Rows per embedding table.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u32,
    /// Where the embedding rows live.
    #[arg(long, value_enum, default_value = "replicated")]
    tables: Tables,
    /// Print the table header first.
    #[arg(long)]
    header: bool,
    /// Only the plain base (skip DCN-V2 + AsymDiffRec).
    #[arg(long)]
    base_only: bool,
    /// Also append one CSV line per model to this file (`scripts/scaling_projection.py` reads it),
    /// labelled with `--label`.
    #[arg(long)]
    csv: Option<std::path::PathBuf>,
    /// The workload label of the CSV lines.
    #[arg(long, default_value = "bench")]
    label: String,
}

const CSV_HEADER: &str =
    "label,ranks,tables,model,batch,fields,dim,rows,step_s,comm_s,dense_params,distinct_rows,bytes_per_step\n";

#[cfg(feature = "mpi")]
fn world() -> Result<Arc<dyn Collective>> {
    Ok(Arc::new(recdiff_dist::mpi::MpiWorld::init().map_err(|e| anyhow::anyhow!("starting MPI: {e}"))?))
}

#[cfg(not(feature = "mpi"))]
fn world() -> Result<Arc<dyn Collective>> {
    Ok(Arc::new(recdiff_dist::Single))
}

pub fn run(a: DistBenchArgs) -> Result<()> {
    let world = world()?;
    let (rank, ranks) = (world.rank(), world.size());
    if ranks > a.shape.batch {
        bail!("{ranks} ranks but a batch of {}: at most one rank per sample", a.shape.batch);
    }
    let timed = Arc::new(Timed::new(world));
    if a.header && rank == 0 {
        println!(
            "| ranks | tables | model | step ms | comm ms | compute ms | comm share | MB sent/step/rank | samples/s |"
        );
        println!("|---:|---|---|---:|---:|---:|---:|---:|---:|");
    }
    for asymdiffrec in [false, true].into_iter().filter(|&x| !(x && a.base_only)) {
        let cfg = TrainBench {
            rows_per_table: a.rows,
            fields: a.shape.fields,
            dim: a.shape.dim,
            batch: a.shape.batch,
            steps: a.shape.steps,
            warmup: a.shape.warmup,
            asymdiffrec,
        };
        let r = run_in(&cfg, Some(timed.clone()), a.tables == Tables::RowWise)?;
        if rank == 0 {
            let model = if asymdiffrec { "DCN-V2 + AsymDiffRec" } else { "DCN-V2" };
            let tables = if a.tables == Tables::RowWise { "row-wise" } else { "replicated" };
            let (step, comm) = (r.median_step_s * 1e3, r.median_comm_s * 1e3);
            println!(
                "| {ranks} | {tables} | {model} | {step:.1} | {comm:.1} | {:.1} | {:.0}% | {:.2} | {:.0} |",
                step - comm,
                100.0 * comm / step,
                r.bytes_per_step / 1e6,
                r.samples_per_s
            );
            if let Some(path) = &a.csv {
                use std::io::Write;
                let fresh = !path.exists();
                let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
                let line = format!(
                    "{},{ranks},{tables},{model},{},{},{},{},{},{},{},{},{}\n",
                    a.label,
                    a.shape.batch,
                    a.shape.fields,
                    a.shape.dim,
                    a.rows,
                    r.median_step_s,
                    r.median_comm_s,
                    r.dense_params,
                    r.distinct_rows,
                    r.bytes_per_step
                );
                f.write_all(format!("{}{line}", if fresh { CSV_HEADER } else { "" }).as_bytes())?;
            }
        }
    }
    Ok(())
}
