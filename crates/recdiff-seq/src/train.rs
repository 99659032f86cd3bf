//! Training a sequential model: seeded shuffling of the leave-one-out windows, Adam, validation
//! every few epochs with early stopping on the configured metric, the best weights kept and saved
//! (`best.safetensors`, written to a temporary file and renamed), test metrics of the best model,
//! `log.jsonl` per evaluation and `results.json`.

use crate::eval::{EvalSpec, SeqMetrics, evaluate};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use recdiff_data::histories::Window;
use recdiff_experiment::data_parallel::Ranks;
use recdiff_experiment::{EarlyStopping, RunRecord, StopState, Verdict};
use recdiff_model::seq::{SeqModel, ids_tensor};
use recdiff_run::seq::{ITEMS_FILE, WEIGHTS_FILE, load_data};
use recdiff_run::seq_config::SeqExperimentConfig;
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum SeqError {
    #[error(transparent)]
    Data(#[from] recdiff_data::DataError),
    #[error(transparent)]
    Config(#[from] recdiff_run::config::ConfigError),
    #[error(transparent)]
    Run(#[from] recdiff_run::RunError),
    #[error(transparent)]
    Metric(#[from] recdiff_metrics::MetricError),
    #[error("{0}")]
    Other(String),
}

/// What a finished run reports: its `results.json` record and the metrics behind it.
#[derive(Debug, Clone)]
pub struct SeqRunSummary {
    pub record: RunRecord,
    pub train_positions: usize,
    pub valid: SeqMetrics,
    pub test: SeqMetrics,
}

#[derive(Serialize)]
struct LogRecord<'a> {
    epoch: usize,
    loss: f64,
    seconds: f64,
    valid: &'a SeqMetrics,
}

/// One epoch over `windows` in seeded random order; returns the mean loss.
pub fn train_epoch(
    model: &mut Option<SeqModel>,
    optim: &mut ModuleOptimizer,
    cfg: &SeqExperimentConfig,
    windows: &[Window],
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Result<f64, SeqError> {
    train_epoch_in(model, optim, cfg, windows, rng, device, &mut Ranks::single())
}

/// [`train_epoch`] as one rank of `ranks`: the order is shuffled alike on every rank, each rank
/// steps on its shard of every batch (its model draws from its own stream), and the dense
/// gradients of the whole batch update every rank's replica alike.
pub fn train_epoch_in(
    model: &mut Option<SeqModel>,
    optim: &mut ModuleOptimizer,
    cfg: &SeqExperimentConfig,
    windows: &[Window],
    rng: &mut ChaCha8Rng,
    device: &Device,
    ranks: &mut Ranks,
) -> Result<f64, SeqError> {
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.shuffle(rng);
    let (mut total, mut batches) = (0.0, 0usize);
    let bar = recdiff_experiment::progress::bar(
        cfg.train.progress && ranks.dp.is_root(),
        &cfg.name,
        order.len().div_ceil(cfg.train.batch_size) as u64,
    );
    let seed = ranks.dp.rank_seed(cfg.seed);
    for global in order.chunks(cfg.train.batch_size) {
        let chunk = ranks.dp.shard(global);
        let inputs: Vec<Vec<u32>> = chunk.iter().map(|&i| windows[i].inputs.clone()).collect();
        let targets: Vec<u32> = chunk.iter().flat_map(|&i| windows[i].targets.iter().copied()).collect();
        let m = model.take().ok_or_else(|| SeqError::Other("model missing".into()))?;
        // burn's dropout masks for this batch come from a stream of the experiment seed.
        let stream = rng.random::<u64>();
        let (grads, value) = if chunk.is_empty() {
            // A rank whose shard of a short last batch is empty still joins the exchange.
            (GradientsParams::new(), 0.0)
        } else {
            let draws = ranks.draws(rng);
            let loss = recdiff_model::seeding::seeded_forward(device, seed, stream, || {
                m.loss(ids_tensor(&inputs, device), &targets, draws)
            });
            let value = loss.clone().into_scalar::<f32>() as f64;
            (GradientsParams::from_grads(loss.backward(), &m), value)
        };
        let (grads, value) = ranks
            .combine(grads, value, &m, device, (chunk.len(), global.len()))
            .map_err(|e| SeqError::Other(e.to_string()))?;
        if !value.is_finite() {
            return Err(SeqError::Other(format!("loss became {value} at batch {batches}")));
        }
        *model = Some(optim.step(cfg.train.lr, m, grads));
        total += value;
        batches += 1;
        bar.message(format!("loss {:.4}", total / batches as f64));
        bar.inc(1);
    }
    Ok(total / batches.max(1) as f64)
}

/// Trains `cfg` to convergence (early stopping) and evaluates the best epoch on the test targets.
pub fn run(cfg: &SeqExperimentConfig) -> Result<SeqRunSummary, SeqError> {
    run_in(cfg, Ranks::single())
}

/// [`run`] as one rank of a data-parallel world (`recdiff train --distributed`): the world is
/// checked first, each rank trains on its shard of every batch ([`train_epoch_in`]), every rank
/// evaluates its (identical) replica, and rank 0 alone writes the run.
pub fn run_in(cfg: &SeqExperimentConfig, mut ranks: Ranks) -> Result<SeqRunSummary, SeqError> {
    let started_run = Instant::now();
    let out = cfg.output_dir();
    let resolved = toml::to_string_pretty(cfg).map_err(|e| SeqError::Other(e.to_string()))?;
    ranks
        .dp
        .check(&resolved, cfg.train.batch_size)
        .map_err(|e| SeqError::Other(format!("data-parallel training: {e}")))?;
    let root = ranks.dp.is_root();
    std::fs::create_dir_all(&out).map_err(|e| SeqError::Other(format!("{}: {e}", out.display())))?;
    let write =
        |name: &str, bytes: &[u8]| if root { recdiff_data::write_atomic(&out.join(name), bytes) } else { Ok(()) };
    write("config.resolved.toml", resolved.as_bytes())?;
    let (data, split) = load_data(cfg)?;
    // Item keys by id travel with the run, so serving needs no access to the training data.
    let items = serde_json::to_vec(&data.items).map_err(|e| SeqError::Other(e.to_string()))?;
    write(ITEMS_FILE, &items)?;
    let windows = split.windows(cfg.data.max_len);
    let positions = windows.iter().map(|w| w.targets.iter().filter(|&&t| t != 0).count()).sum();
    let device = Device::flex().autodiff();
    let mut model = Some(recdiff_run::seq::init_model(cfg, &data.items, &device)?);
    let mut optim = recdiff_experiment::optim::adam(cfg.train.weight_decay);
    let spec = EvalSpec::of(cfg);
    let inner = device.clone().inner();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let rule = EarlyStopping { higher_is_better: true, patience: cfg.train.patience };
    let (mut stop, mut best, mut epochs_run, mut train_secs) = (StopState::default(), None, 0, 0.0);
    let mut log = String::new();
    for epoch in 1..=cfg.train.epochs {
        let started = Instant::now();
        let loss = train_epoch_in(&mut model, &mut optim, cfg, &windows, &mut rng, &device, &mut ranks)?;
        train_secs += started.elapsed().as_secs_f64();
        epochs_run = epoch;
        if epoch % cfg.train.eval_every_epochs != 0 && epoch != cfg.train.epochs {
            continue;
        }
        let current = model.as_ref().ok_or_else(|| SeqError::Other("model missing".into()))?.valid();
        let valid = evaluate(&current, &data, &split, false, &spec, &inner)?;
        let score = valid.get(&cfg.train.metric);
        let verdict = rule
            .observe(&mut stop, &cfg.train.metric, score, epoch as u64)
            .map_err(|e| SeqError::Other(e.to_string()))?;
        let record = LogRecord { epoch, loss, seconds: started.elapsed().as_secs_f64(), valid: &valid };
        log.push_str(&serde_json::to_string(&record).map_err(|e| SeqError::Other(e.to_string()))?);
        log.push('\n');
        write("log.jsonl", log.as_bytes())?;
        tracing::info!(
            "{} epoch {epoch}: loss {loss:.4}, valid {} {}",
            cfg.name,
            cfg.train.metric,
            score.unwrap_or_default()
        );
        match verdict {
            Verdict::Improved => best = Some(current),
            Verdict::Continue => {}
            Verdict::Stop => break,
        }
    }
    let best = best.ok_or_else(|| SeqError::Other("no evaluation ran".into()))?;
    if root {
        let weights = recdiff_run::manifest::save_weights(&best, &out.join(WEIGHTS_FILE))?;
        let fingerprint = recdiff_run::seq::fingerprint(cfg, data.items.len());
        recdiff_run::manifest::Manifest::new(fingerprint, &[(WEIGHTS_FILE, &weights), (ITEMS_FILE, &items)])
            .save(&out)
            .map_err(|e| SeqError::Other(e.to_string()))?;
    }
    let valid = evaluate(&best, &data, &split, false, &spec, &inner)?;
    let test = evaluate(&best, &data, &split, true, &spec, &inner)?;
    let steps_per_epoch = windows.len().div_ceil(cfg.train.batch_size) as u64;
    let record = RunRecord {
        name: cfg.name.clone(),
        family: crate::family::FAMILY.into(),
        model: cfg.model.name().into(),
        seed: cfg.seed,
        config_hash: recdiff_experiment::hash::config_hash(cfg).map_err(|e| SeqError::Other(e.to_string()))?,
        epochs: epochs_run,
        steps: steps_per_epoch * epochs_run as u64,
        best_epoch: stop.best_at as usize,
        best_step: steps_per_epoch * stop.best_at,
        seconds: started_run.elapsed().as_secs_f64(),
        seconds_per_epoch: train_secs / epochs_run.max(1) as f64,
        valid: valid.to_metrics(),
        test: test.to_metrics(),
    };
    if root {
        record.save(&out).map_err(|e| SeqError::Other(e.to_string()))?;
    }
    Ok(SeqRunSummary { record, train_positions: positions, valid, test })
}
