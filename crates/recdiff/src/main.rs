//! `recdiff`: the command-line program. A thin layer over the library crates: it parses arguments,
//! calls the library and prints; errors are printed as a chain and exit with code 2. One file per
//! subcommand (`train.rs` is `recdiff train`, `data/fetch.rs` is `recdiff data fetch`, …);
//! `families.rs` is the one list of model families.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod compare;
mod data;
mod eval;
mod families;
mod predict;
mod progress;
mod quickstart;
mod recommend;
mod robustness;
mod seq;
mod serve;
mod train;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "recdiff", version, about = "Train, evaluate and serve diffusion-based recommenders")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Datasets: statistics, the synthetic generator, encoding into recdiff's format.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Benchmarks that print a table.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Train experiments of any family from their configs (TOML), one seed or several.
    Train(train::TrainArgs),
    /// Evaluate a trained run read-only (CTR: AUC, UAUC, LogLoss on a split; sequential: valid and test;
    /// top-K: every metric on the valid or test split).
    Eval(eval::EvalArgs),
    /// Score a CSV or Parquet file with a trained run (missing features handled as in training).
    Predict(predict::PredictArgs),
    /// Top-K items of a sequential or top-K run for a user of its data (or a history), read-only.
    Recommend(recommend::RecommendArgs),
    /// Several experiments of any family over N seeds: mean ± CI, Δ, paired t-test and MDE.
    Compare(compare::CompareArgs),
    /// Score a comparison's trained CTR models with growing shares of fields removed (plot + table).
    Robustness(compare::CompareArgs),
    /// Sequential retrieval: `seq eval` sweeps DreamRec's sampler; `seq train`/`seq compare` are aliases.
    #[command(subcommand)]
    Seq(seq::SeqCommand),
    /// Serve a trained run over HTTP: /v1/score, /v1/score:batch, /healthz, /readyz, /metrics, /admin/reload.
    Serve(serve::ServeArgs),
    /// The embedded default job: generate the synthetic log, summarise and encode it.
    Quickstart(quickstart::QuickstartArgs),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Data(cmd) => data::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Quickstart(args) => quickstart::run(args),
        Command::Train(args) => train::train(args),
        Command::Eval(args) => eval::eval(args),
        Command::Predict(args) => predict::predict(args),
        Command::Recommend(args) => recommend::recommend(args),
        Command::Compare(args) => compare::compare(args),
        Command::Robustness(args) => robustness::robustness(args),
        Command::Serve(args) => serve::serve(args),
        Command::Seq(cmd) => seq::run(cmd),
    }
}

fn main() {
    let cli = Cli::parse();
    // A server logs its loads and reloads by default; other commands only warnings and errors.
    let default = if matches!(cli.command, Command::Serve(_)) { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RECDIFF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    progress::install();
    if let Err(e) = run(cli) {
        eprintln!("error: {e}");
        for cause in e.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(2);
    }
}
