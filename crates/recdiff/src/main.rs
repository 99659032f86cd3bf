//! `recdiff`: the command-line program. A thin layer over the library crates: it parses arguments,
//! calls the library and prints; errors are printed as a chain and exit with code 2.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod data;
mod quickstart;
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
    /// Train an experiment from its config (TOML).
    Train(train::TrainArgs),
    /// Evaluate a trained run on a split (AUC, UAUC, LogLoss).
    Eval(train::EvalArgs),
    /// Score a CSV or Parquet file with a trained run (missing features handled as in training).
    Predict(train::PredictArgs),
    /// Every (base x enhancer) cell over N seeds: the paper's table with CIs and paired tests.
    Compare(train::CompareArgs),
    /// Score a comparison's trained models with growing shares of fields removed (plot + table).
    Robustness(train::CompareArgs),
    /// Sequential retrieval: SASRec, DreamRec, DimeRec on leave-one-out histories.
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
        Command::Eval(args) => train::eval(args),
        Command::Predict(args) => train::predict(args),
        Command::Compare(args) => train::compare(args),
        Command::Robustness(args) => train::robustness(args),
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
    if let Err(e) = run(cli) {
        eprintln!("error: {e}");
        for cause in e.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(2);
    }
}
