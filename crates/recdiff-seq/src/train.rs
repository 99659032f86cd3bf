//! Training a sequential model: one epoch is a seeded shuffle of the leave-one-out windows in
//! batches, each an Adam step ([`train_epoch_in`]); the epochs, validation, early stopping, the
//! `last/` checkpoint, the best weights (`best.safetensors`), `log.jsonl` and `results.json` are
//! the experiment layer's [`fit`], driving this family's [`SeqTask`].

use crate::task::SeqTask;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use recdiff_data::histories::Window;
use recdiff_experiment::RunRecord;
use recdiff_experiment::data_parallel::Ranks;
use recdiff_experiment::fit::{FitSpec, RunDir, fit};
use recdiff_model::seq::{SeqModel, ids_tensor};
use recdiff_run::seq::ITEMS_FILE;
use recdiff_run::seq_config::SeqExperimentConfig;

/// The family's error: the one the epoch-based families share.
pub use recdiff_experiment::TaskError as SeqError;

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
        let m = model.take().ok_or(SeqError::ModelMissing)?;
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
        let (grads, value) = ranks.combine(grads, value, &m, device, (chunk.len(), global.len()))?;
        if !value.is_finite() {
            return Err(SeqError::NonFinite { value, at: format!("batch {batches} of the epoch") });
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
pub fn run(cfg: &SeqExperimentConfig) -> Result<RunRecord, SeqError> {
    run_in(cfg, Ranks::single(), false)
}

/// [`run`] as one rank of a data-parallel world (`recdiff train --distributed`), continuing the
/// run's `last/` checkpoint when `resume` is set: the world is checked first, each rank trains on
/// its shard of every batch ([`train_epoch_in`]), every rank evaluates its (identical) replica,
/// and rank 0 alone writes the run. The loop is the experiment layer's [`fit`].
pub fn run_in(cfg: &SeqExperimentConfig, ranks: Ranks, resume: bool) -> Result<RunRecord, SeqError> {
    let run = RunDir::open(cfg, &ranks.dp, resume)?;
    let mut task = SeqTask::new(cfg, ranks)?;
    run.write(ITEMS_FILE, &task.items_json)?;
    let spec = FitSpec::new(cfg, crate::family::FAMILY, task.fingerprint(), &run, resume)?;
    Ok(fit(&spec, &mut task)?)
}
