//! `recdiff quickstart`: the README's main job on the embedded default dataset.
//!
//! Generates the default synthetic impression log (40 fields with planted missingness; 150,000
//! impressions, or the default's 1M with `--full`), trains the
//! DCN-V2 base and DCN-V2 + AsymDiffRec on a seeded 8:1:1 split with early stopping, and prints
//! AUC, UAUC and RelaImpr (AsymDiffRec's `metric/base - 1`) on the test split as logged and with an
//! extra share of each sample's present fields removed.

use anyhow::{Context, Result};
use clap::Args;
use recdiff_data::SplitSpec;
use recdiff_data::split::TEST;
use recdiff_data::synth::{self, SynthConfig};
use recdiff_experiment::metrics::cell;
use recdiff_model::EnhancerConfig;
use recdiff_model::base::BaseConfig;
use recdiff_model::base::dcn::DcnV2Config;
use recdiff_model::enhancer::asymdiffrec::AsymDiffRecConfig;
use recdiff_train::config::{DataConfig, ModelConfig, TrainConfig};
use recdiff_train::eval::evaluate_run;
use recdiff_train::{EvalMetrics, ExperimentConfig};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
pub struct QuickstartArgs {
    /// Where the data, runs and table go.
    #[arg(long, default_value = "runs/quickstart")]
    out: PathBuf,
    /// Rows of the synthetic log (default: 150,000; 1,000,000 with --full).
    #[arg(long)]
    rows: Option<u64>,
    /// Seed of the synthetic log, the split and the training runs.
    #[arg(long, default_value_t = SynthConfig::default().seed)]
    seed: u64,
    /// Maximum training epochs per model, early stopping on valid AUC (default: 2; 4 with --full).
    #[arg(long)]
    epochs: Option<usize>,
    /// The whole default: 1M impressions and up to 4 epochs per model (minutes, not seconds).
    #[arg(long)]
    full: bool,
}

/// Rows and epochs of the quick run (about 2 minutes on 2 cores), and of `--full`.
const QUICK: (u64, usize) = (150_000, 2);
const FULL_EPOCHS: usize = 4;

/// Shares of present fields removed from each test sample in the table.
const REMOVED: [f64; 3] = [0.0, 0.3, 0.6];

/// DCN-V2 (with AsymDiffRec when `asym`) on the synthetic log in `data`, trained into `out/<name>`.
pub(crate) fn experiment(
    name: &str,
    data: &Path,
    out: &Path,
    seed: u64,
    epochs: usize,
    asym: bool,
) -> ExperimentConfig {
    ExperimentConfig {
        name: name.into(),
        seed,
        output: Some(out.join(name)),
        data: DataConfig {
            schema: data.join(synth::SCHEMA_FILE),
            split: SplitSpec::Random { ratios: [0.8, 0.1, 0.1], seed },
            encoded: Some(out.join("encoded")),
        },
        model: ModelConfig {
            base: BaseConfig::DcnV2(DcnV2Config { deep: vec![256, 128], ..DcnV2Config::default() }),
            enhancer: if asym {
                EnhancerConfig::AsymDiffRec(AsymDiffRecConfig::default())
            } else {
                EnhancerConfig::None
            },
            ..ModelConfig::default()
        },
        train: TrainConfig { batch_size: 2048, epochs, lr: 1e-3, patience: 2, ..TrainConfig::default() },
        distributed: Default::default(),
    }
}

/// Trains `cfg` and returns test metrics at each share in [`REMOVED`].
fn train_and_probe(cfg: &ExperimentConfig) -> Result<Vec<EvalMetrics>> {
    let started = Instant::now();
    let summary = recdiff_train::run(cfg, false).with_context(|| format!("training {}", cfg.name))?;
    crate::train::print_record(&summary.record, &["auc".into(), "uauc".into(), "logloss".into()]);
    let run = recdiff_run::CtrRun::open(&cfg.output_dir())?;
    let test = run.split(TEST)?;
    let probes = REMOVED
        .iter()
        .map(|&r| evaluate_run(&run, &test, &recdiff_train::batch::Probe::Random(r)))
        .collect::<Result<Vec<_>, _>>()?;
    println!("  ({:.1}s with probes)", started.elapsed().as_secs_f64());
    Ok(probes)
}

fn pct(m: Option<f64>, b: Option<f64>) -> String {
    match (m, b) {
        (Some(m), Some(b)) => recdiff_metrics::rela_impr(m, b).map_or("n/a".into(), |v| format!("{:+.3}%", v * 100.0)),
        _ => "—".into(),
    }
}

pub fn run(args: QuickstartArgs) -> Result<()> {
    let started = Instant::now();
    let (rows, epochs) = if args.full { (SynthConfig::default().rows, FULL_EPOCHS) } else { QUICK };
    let (rows, epochs) = (args.rows.unwrap_or(rows), args.epochs.unwrap_or(epochs));
    let config = SynthConfig { rows, seed: args.seed, ..SynthConfig::default() };
    let data = args.out.join("data");
    let planted = synth::generate(&config, &data).context("generating the synthetic log")?;
    println!(
        "1/3 generated {} impressions x {} fields ({:.1}% clicks, oracle AUC {:.4} all features, {:.4} as logged) in {}",
        config.rows,
        config.fields,
        planted.positive_rate * 100.0,
        planted.oracle_auc,
        planted.as_logged_oracle_auc,
        data.display()
    );
    println!("2/3 training DCN-V2, then DCN-V2 + AsymDiffRec (early stopping on valid AUC)");
    let base = train_and_probe(&experiment("dcnv2", &data, &args.out, args.seed, epochs, false))?;
    let asym = train_and_probe(&experiment("asymdiffrec", &data, &args.out, args.seed, epochs, true))?;
    println!("\n3/3 test split, seed {}:\n", args.seed);
    let header = format!(
        "{:<26} {:>8} {:>8}   {:>8} {:>8}   {:>9} {:>9}",
        "test samples", "AUC", "UAUC", "AUC", "UAUC", "RelaImpr", "RelaImpr"
    );
    println!("{:<26} {:^17}   {:^17}   {:^19}", "", "DCN-V2", "+ AsymDiffRec", "AUC / UAUC");
    println!("{header}");
    let mut table = format!("{header}\n");
    for ((share, b), a) in REMOVED.iter().zip(&base).zip(&asym) {
        let label =
            if *share == 0.0 { "as logged".to_string() } else { format!("{:.0}% of fields removed", share * 100.0) };
        let line = format!(
            "{label:<26} {:>8.4} {:>8}   {:>8.4} {:>8}   {:>9} {:>9}",
            b.auc,
            cell(b.uauc, 4),
            a.auc,
            cell(a.uauc, 4),
            pct(Some(a.auc), Some(b.auc)),
            pct(a.uauc, b.uauc)
        );
        println!("{line}");
        table.push_str(&line);
        table.push('\n');
    }
    std::fs::write(args.out.join("table.txt"), table).context("writing table.txt")?;
    println!(
        "\nRelaImpr = metric / base - 1 (AsymDiffRec's definition). Done in {:.0}s.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
