//! `recdiff seq train` (one or more sequential experiments x seeds), `recdiff seq compare` (a
//! compare config: experiments x seeds, one table), `recdiff seq eval` (a finished run again, with
//! DreamRec's sampler settings swept) and `recdiff bench seq` (epoch time).

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use recdiff_seq::SeqExperimentConfig;
use recdiff_seq::compare::SeqCompareConfig;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Subcommand)]
pub enum SeqCommand {
    /// Train sequential experiments (SASRec, DreamRec, DimeRec) with early stopping; each run
    /// writes its results.json, log.jsonl and best weights.
    Train(SeqTrainArgs),
    /// Every experiment of a compare config over its seeds (finished runs are read back), then
    /// table.md / table.csv / runs.csv: test metrics as mean ± 95% CI, Δ to the first experiment.
    Compare(SeqCompareArgs),
    /// Re-evaluate a finished run's best weights on valid and test, optionally sweeping DreamRec's
    /// guidance weight and sampler steps (choose them on valid, report test).
    Eval(SeqEvalArgs),
}

#[derive(Args)]
pub struct SeqEvalArgs {
    /// A run directory written by `seq train` / `seq compare`.
    run: PathBuf,
    /// DreamRec guidance weights w to evaluate (default: the run's).
    #[arg(long, value_delimiter = ',')]
    guidance: Vec<f64>,
    /// DreamRec sampler steps to evaluate (default: the run's).
    #[arg(long, value_delimiter = ',')]
    sample_steps: Vec<usize>,
}

#[derive(Args)]
pub struct SeqTrainArgs {
    /// Experiment configs (TOML).
    #[arg(required = true)]
    configs: Vec<PathBuf>,
    /// Seeds to run each config with (default: the config's seed); runs go to `<output>/seed-<k>`.
    #[arg(long, value_delimiter = ',')]
    seeds: Vec<u64>,
    /// Cap on epochs (default: the config's).
    #[arg(long)]
    epochs: Option<usize>,
}

#[derive(Args)]
pub struct SeqCompareArgs {
    /// Compare config (TOML), e.g. configs/seq-ml100k-compare.toml.
    config: PathBuf,
}

pub fn run(cmd: SeqCommand) -> Result<()> {
    match cmd {
        SeqCommand::Train(a) => train(a),
        SeqCommand::Compare(a) => compare(a),
        SeqCommand::Eval(a) => eval(a),
    }
}

fn eval(a: SeqEvalArgs) -> Result<()> {
    use recdiff_seq::eval::{EvalSpec, evaluate};
    use recdiff_seq::model::SeqModelConfig;
    let device = burn::tensor::Device::flex();
    let run = recdiff_seq::train::load_run(&a.run, &device)?;
    let cfg = &run.cfg;
    let (data, split) = recdiff_seq::train::load_data(cfg)?;
    let spec = EvalSpec::of(cfg);
    let variants: Vec<SeqModelConfig> = match &cfg.model {
        SeqModelConfig::Dreamrec(d) => {
            let ws = if a.guidance.is_empty() { vec![d.guidance] } else { a.guidance.clone() };
            let steps = if a.sample_steps.is_empty() { vec![d.sample_steps] } else { a.sample_steps.clone() };
            if let Some(s) = steps.iter().find(|&&s| s == 0 || s > d.steps) {
                anyhow::bail!("--sample-steps {s}: must be 1..={}", d.steps);
            }
            let mut v = Vec::new();
            for &w in &ws {
                for &s in &steps {
                    v.push(SeqModelConfig::Dreamrec(recdiff_seq::dreamrec::DreamRecConfig {
                        guidance: w,
                        sample_steps: s,
                        ..d.clone()
                    }));
                }
            }
            v
        }
        other if a.guidance.is_empty() && a.sample_steps.is_empty() => vec![other.clone()],
        other => anyhow::bail!("--guidance and --sample-steps apply to DreamRec runs, this is {}", other.name()),
    };
    println!("{} ({}), {}", a.run.display(), cfg.model.name(), cfg.train.metric);
    println!("{:>6} {:>6} {:>12} {:>12} {:>10} {:>10}", "w", "steps", "valid", "test", "test hr@10", "test hr@50");
    for v in &variants {
        let valid = evaluate(&run.model, v, &data, &split, false, &spec, &device)?;
        let test = evaluate(&run.model, v, &data, &split, true, &spec, &device)?;
        let (w, s) = match v {
            SeqModelConfig::Dreamrec(d) => (format!("{}", d.guidance), d.sample_steps.to_string()),
            _ => ("-".into(), "-".into()),
        };
        let get = |m: &recdiff_seq::eval::SeqMetrics, k: &str| m.get(k).unwrap_or(f64::NAN);
        println!(
            "{w:>6} {s:>6} {:>12.4} {:>12.4} {:>10.4} {:>10.4}",
            get(&valid, &cfg.train.metric),
            get(&test, &cfg.train.metric),
            get(&test, "hr@10"),
            get(&test, "hr@50")
        );
    }
    Ok(())
}

fn compare(a: SeqCompareArgs) -> Result<()> {
    let (c, experiments) = SeqCompareConfig::load(&a.config)?;
    let rows = recdiff_seq::compare::run(&c, &experiments).context("sequential comparison")?;
    let md = recdiff_seq::compare::write_tables(&c, &rows)?;
    println!("{md}\nwritten to {}", c.output_dir().display());
    Ok(())
}

fn train(a: SeqTrainArgs) -> Result<()> {
    for path in &a.configs {
        let cfg = SeqExperimentConfig::load(path)?;
        let seeds = if a.seeds.is_empty() { vec![cfg.seed] } else { a.seeds.clone() };
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
        }
    }
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
