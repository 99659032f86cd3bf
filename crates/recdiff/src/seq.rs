//! `recdiff seq train` (sequential retrieval experiments, several configs x seeds, one table) and
//! `recdiff bench seq` (SASRec epoch time).

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use recdiff_metrics::mean_ci95;
use recdiff_seq::{SeqExperimentConfig, SeqRunSummary};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Subcommand)]
pub enum SeqCommand {
    /// Train sequential experiments (SASRec, DreamRec, DimeRec) with early stopping; with several
    /// configs or seeds, also a table of test metrics (mean ± 95% CI).
    Train(SeqTrainArgs),
}

#[derive(Args)]
pub struct SeqTrainArgs {
    /// Experiment configs (TOML).
    #[arg(required = true)]
    configs: Vec<PathBuf>,
    /// Seeds to run each config with (default: the config's seed).
    #[arg(long, value_delimiter = ',')]
    seeds: Vec<u64>,
    /// Where the table goes (table.md, runs.csv).
    #[arg(long, default_value = "runs/seq-compare")]
    out: PathBuf,
    /// Cap on epochs (default: the config's).
    #[arg(long)]
    epochs: Option<usize>,
}

const COLUMNS: [&str; 7] = ["hr@10", "hr@50", "ndcg@10", "ndcg@50", "mrr", "coverage@10", "ild@10"];

pub fn run(cmd: SeqCommand) -> Result<()> {
    let SeqCommand::Train(a) = cmd;
    let mut rows: Vec<(String, Vec<SeqRunSummary>)> = Vec::new();
    for path in &a.configs {
        let cfg = SeqExperimentConfig::load(path)?;
        let seeds = if a.seeds.is_empty() { vec![cfg.seed] } else { a.seeds.clone() };
        let mut runs = Vec::new();
        for &seed in &seeds {
            let mut c = cfg.clone();
            c.seed = seed;
            c.output = Some(cfg.output_dir().join(format!("seed-{seed}")));
            if let Some(e) = a.epochs {
                c.train.epochs = e;
            }
            let started = Instant::now();
            let s = recdiff_seq::run(&c).with_context(|| format!("training {} (seed {seed})", c.name))?;
            println!(
                "{} seed {seed}: best epoch {}/{} ({:.1} s/epoch, {:.0} s), test HR@10 {:.4} NDCG@10 {:.4} HR@50 {:.4}",
                c.name,
                s.best_epoch,
                s.epochs_run,
                s.seconds_per_epoch,
                started.elapsed().as_secs_f64(),
                s.test.get("hr@10").unwrap_or(f64::NAN),
                s.test.get("ndcg@10").unwrap_or(f64::NAN),
                s.test.get("hr@50").unwrap_or(f64::NAN),
            );
            runs.push(s);
        }
        rows.push((cfg.name.clone(), runs));
    }
    write_table(&a.out, &rows)
}

fn write_table(out: &std::path::Path, rows: &[(String, Vec<SeqRunSummary>)]) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut md = format!("| experiment | model | seeds | {} | epochs |\n|---|---|---|", COLUMNS.join(" | "));
    md.push_str(&"---|".repeat(COLUMNS.len() + 1));
    md.push('\n');
    let mut csv = format!("experiment,model,seed,best_epoch,{}\n", COLUMNS.join(","));
    for (name, runs) in rows {
        let cells: Vec<String> = COLUMNS
            .iter()
            .map(|c| {
                let v: Vec<f64> = runs.iter().filter_map(|r| r.test.get(c)).collect();
                match mean_ci95(&v) {
                    Ok(m) if v.len() > 1 => format!("{:.4} ± {:.4}", m.mean, m.half_width),
                    _ => v.first().map_or("n/a".into(), |x| format!("{x:.4}")),
                }
            })
            .collect();
        let epochs: Vec<String> = runs.iter().map(|r| r.best_epoch.to_string()).collect();
        let model = runs.first().map_or("", |r| r.model.as_str());
        md.push_str(&format!("| {name} | {model} | {} | {} | {} |\n", runs.len(), cells.join(" | "), epochs.join(",")));
        for r in runs {
            let v: Vec<String> =
                COLUMNS.iter().map(|c| r.test.get(c).map_or(String::new(), |x| format!("{x:.6}"))).collect();
            csv.push_str(&format!("{name},{},{},{},{}\n", r.model, r.seed, r.best_epoch, v.join(",")));
        }
    }
    recdiff_data::write_atomic(&out.join("table.md"), md.as_bytes())?;
    recdiff_data::write_atomic(&out.join("runs.csv"), csv.as_bytes())?;
    println!("\n{md}");
    Ok(())
}

#[derive(Args)]
pub struct SeqBenchArgs {
    /// Experiment configs to time (default: the shipped MovieLens-100K SASRec, DreamRec, DimeRec).
    configs: Vec<PathBuf>,
    /// Timed epochs per model (after one warm-up epoch).
    #[arg(long, default_value_t = 2)]
    epochs: usize,
}

/// Training epoch time per model over the config's leave-one-out windows.
pub fn bench(a: SeqBenchArgs) -> Result<()> {
    use rand::SeedableRng;
    let configs = if a.configs.is_empty() {
        ["sasrec", "dreamrec", "dimerec"]
            .iter()
            .map(|m| PathBuf::from(format!("configs/seq-ml100k-{m}.toml")))
            .collect()
    } else {
        a.configs.clone()
    };
    println!("recdiff bench seq: training epochs (1 warm-up, then {} timed)", a.epochs);
    println!(
        "{:<24} {:>10} {:>8} {:>7} {:>10} {:>14}",
        "experiment", "positions", "batch", "max_len", "s/epoch", "positions/s"
    );
    for path in &configs {
        let cfg = SeqExperimentConfig::load(path)?;
        let (data, split) = recdiff_seq::train::load_data(&cfg)?;
        let windows = split.windows(cfg.data.max_len);
        let positions: usize = windows.iter().map(|w| w.targets.iter().filter(|&&t| t != 0).count()).sum();
        let device = burn::tensor::Device::flex().autodiff();
        let mut model = Some(cfg.model.init(data.n_items(), cfg.data.max_len, cfg.seed, &device));
        let mut optim = burn::optim::AdamConfig::new().init();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed);
        recdiff_seq::train::train_epoch(&mut model, &mut optim, &cfg, &windows, &mut rng, &device)?;
        let started = Instant::now();
        for _ in 0..a.epochs {
            recdiff_seq::train::train_epoch(&mut model, &mut optim, &cfg, &windows, &mut rng, &device)?;
        }
        let per_epoch = started.elapsed().as_secs_f64() / a.epochs.max(1) as f64;
        println!(
            "{:<24} {:>10} {:>8} {:>7} {:>10.2} {:>14.0}",
            cfg.name,
            positions,
            cfg.train.batch_size,
            cfg.data.max_len,
            per_epoch,
            positions as f64 / per_epoch
        );
    }
    Ok(())
}
