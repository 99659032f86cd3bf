//! `recdiff bench seq`: seconds per training epoch of a sequential config.

use anyhow::Result;
use clap::Args;
use recdiff_seq::SeqExperimentConfig;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct SeqBenchArgs {
    /// Experiment configs to time (default: the shipped MovieLens-100K SASRec, DreamRec, PreferDiff, DimeRec).
    configs: Vec<PathBuf>,
    /// Timed epochs per model (after one warm-up epoch).
    #[arg(long, default_value_t = 2)]
    epochs: usize,
}

/// Training epoch time per model over the config's leave-one-out windows.
pub fn bench(a: SeqBenchArgs) -> Result<()> {
    use rand::SeedableRng;
    let configs = if a.configs.is_empty() {
        ["sasrec", "dreamrec", "preferdiff", "dimerec"]
            .iter()
            .map(|m| PathBuf::from(format!("configs/seq-ml100k-{m}.toml")))
            .collect()
    } else {
        a.configs.clone()
    };
    println!("recdiff bench seq: training epochs (1 warm-up, then {} timed)", a.epochs);
    println!(
        "{:<24} {:>10} {:>8} {:>7} {:>10} {:>14} {:>10}",
        "experiment", "positions", "batch", "max_len", "s/epoch", "positions/s", "params"
    );
    for path in &configs {
        let cfg = SeqExperimentConfig::load(path)?;
        let (data, split) = recdiff_run::seq::load_data(&cfg)?;
        let windows = split.windows(cfg.data.max_len);
        let positions: usize = windows.iter().map(|w| w.targets.iter().filter(|&&t| t != 0).count()).sum();
        let device = burn::tensor::Device::flex().autodiff();
        let mut model = Some(recdiff_run::seq::init_model(&cfg, &data.items, &device)?);
        let params = model.as_ref().map_or(0, burn::module::Module::num_params);
        let mut optim = recdiff_experiment::optim::adam(cfg.train.weight_decay);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed);
        recdiff_seq::train::train_epoch(&mut model, &mut optim, &cfg, &windows, &mut rng, &device)?;
        let started = Instant::now();
        for _ in 0..a.epochs {
            recdiff_seq::train::train_epoch(&mut model, &mut optim, &cfg, &windows, &mut rng, &device)?;
        }
        let per_epoch = started.elapsed().as_secs_f64() / a.epochs.max(1) as f64;
        println!(
            "{:<24} {:>10} {:>8} {:>7} {:>10.2} {:>14.0} {:>10}",
            cfg.name,
            positions,
            cfg.train.batch_size,
            cfg.data.max_len,
            per_epoch,
            positions as f64 / per_epoch,
            params
        );
    }
    Ok(())
}
