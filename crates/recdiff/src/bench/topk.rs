//! `recdiff bench topk`: training seconds per epoch of each top-K model on MovieLens-100K, and a
//! DiffRec epoch on a synthetic 100k-user x 50k-item matrix (timed steps, extrapolated to the
//! epoch) with the process's peak memory.

use anyhow::{Context, Result};
use clap::Args;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Zipf};
use recdiff_data::histories::Interactions;
use recdiff_data::user_item::UserItemSplit;
use recdiff_model::topk::TopKModelConfig;
use recdiff_topk::TopKExperimentConfig;
use recdiff_topk::train::Trainer;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct TopKBenchArgs {
    /// The DiffRec config whose data and settings the MovieLens rows use.
    #[arg(long, default_value = "configs/topk-ml100k-diffrec.toml")]
    config: PathBuf,
    /// Timed epochs per model on MovieLens-100K (after one untimed).
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Users and items of the synthetic matrix.
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    #[arg(long, default_value_t = 50_000)]
    items: usize,
    /// Interactions per synthetic user (items drawn Zipf 1.0).
    #[arg(long, default_value_t = 20)]
    per_user: usize,
    /// Timed DiffRec steps on the synthetic matrix (after two untimed).
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Only these MovieLens rows (comma-separated model kinds, e.g. `diffrec`); the synthetic
    /// matrix is skipped unless `diffrec` is among them.
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
}

fn timed_epochs(cfg: &TopKExperimentConfig, split: &UserItemSplit, epochs: usize) -> Result<f64> {
    let mut t = Trainer::new(cfg, split)?;
    t.epoch().map_err(|e| anyhow::anyhow!(e))?;
    let started = Instant::now();
    for _ in 0..epochs {
        t.epoch().map_err(|e| anyhow::anyhow!(e))?;
    }
    Ok(started.elapsed().as_secs_f64() / epochs.max(1) as f64)
}

fn synthetic(users: usize, items: usize, per_user: usize) -> Result<UserItemSplit> {
    let zipf = Zipf::new(items as f64, 1.0).context("zipf over the items")?;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let histories = (0..users).map(|_| (0..per_user).map(|_| zipf.sample(&mut rng) as u32).collect()).collect();
    let data = Interactions {
        items: (0..=items).map(|i| i.to_string()).collect(),
        users: (0..users).map(|u| u.to_string()).collect(),
        attributes: vec![vec![]; items + 1],
        histories,
    };
    Ok(UserItemSplit::new(&data, [0.8, 0.1, 0.1], 42))
}

pub fn run(args: TopKBenchArgs) -> Result<()> {
    let base = TopKExperimentConfig::load(&args.config).with_context(|| format!("{}", args.config.display()))?;
    let (_, split) = recdiff_topk::train::load_data(&base).map_err(|e| anyhow::anyhow!(e))?;
    println!("MovieLens-100K ({} users x {} items), training seconds per epoch:", split.n_users, split.n_items);
    let models = [
        base.model.clone(),
        TopKModelConfig::Tdiffrec(Default::default()),
        TopKModelConfig::Multivae(Default::default()),
        TopKModelConfig::Cdae(Default::default()),
    ];
    let wanted = |name: &str| args.models.is_empty() || args.models.iter().any(|m| m == name);
    if let Some(unknown) = args.models.iter().find(|m| !models.iter().any(|k| k.name() == m.as_str())) {
        anyhow::bail!("--models {unknown}: not one of {:?}", models.iter().map(|m| m.name()).collect::<Vec<_>>());
    }
    for model in models.into_iter().filter(|m| wanted(m.name())) {
        let cfg = TopKExperimentConfig { model, ..base.clone() };
        println!("  {:<10} {:.3} s", cfg.model.name(), timed_epochs(&cfg, &split, args.epochs)?);
    }
    if !wanted("diffrec") {
        return Ok(());
    }
    let big = synthetic(args.users, args.items, args.per_user)?;
    let cfg =
        TopKExperimentConfig { train: recdiff_topk::TopKTrainConfig { batch_size: 400, ..base.train.clone() }, ..base };
    let mut t = Trainer::new(&cfg, &big)?;
    t.epoch_steps(2).map_err(|e| anyhow::anyhow!(e))?;
    let started = Instant::now();
    t.epoch_steps(args.steps).map_err(|e| anyhow::anyhow!(e))?;
    let per_step = started.elapsed().as_secs_f64() / args.steps.max(1) as f64;
    let steps = big.train_users().len().div_ceil(400);
    println!(
        "synthetic {} users x {} items ({} train entries), DiffRec batch 400: {:.3} s/step, {} steps/epoch, \
         epoch ~{:.0} s; peak RSS {:.0} MiB",
        big.n_users,
        big.n_items,
        big.train.nnz(),
        per_step,
        steps,
        per_step * steps as f64,
        crate::data::peak_rss_bytes().unwrap_or(0) as f64 / (1 << 20) as f64
    );
    Ok(())
}
