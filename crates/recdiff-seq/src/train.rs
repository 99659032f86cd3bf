//! Training a sequential model: seeded shuffling of the leave-one-out windows, Adam, validation
//! every few epochs with early stopping on the configured metric, the best weights kept and saved
//! (`best.safetensors`, written to a temporary file and renamed), test metrics of the best model,
//! `log.jsonl` per evaluation and `results.json`.

use crate::config::SeqExperimentConfig;
use crate::data::{Interactions, LeaveOneOut, Window};
use crate::eval::{EvalSpec, SeqMetrics, evaluate};
use crate::model::SeqModel;
use crate::sasrec::ids_tensor;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use recdiff_experiment::{EarlyStopping, RunRecord, StopState, Verdict};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// Item keys by id (`items[0]` is padding), saved in every run.
pub const ITEMS_FILE: &str = "items.json";

#[derive(Debug, thiserror::Error)]
pub enum SeqError {
    #[error(transparent)]
    Data(#[from] recdiff_data::DataError),
    #[error(transparent)]
    Config(#[from] crate::config::SeqConfigError),
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

/// Loads the data a config names: interactions and the leave-one-out split.
pub fn load_data(cfg: &SeqExperimentConfig) -> Result<(Interactions, LeaveOneOut), SeqError> {
    let schema = recdiff_data::Schema::load(&cfg.data.schema)?;
    let data = Interactions::load(&schema, cfg.data.attribute.as_deref())?;
    let split = LeaveOneOut::new(&data.histories);
    Ok((data, split))
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
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.shuffle(rng);
    let (mut total, mut batches) = (0.0, 0usize);
    let bar = recdiff_experiment::progress::bar(
        cfg.train.progress,
        &cfg.name,
        order.len().div_ceil(cfg.train.batch_size) as u64,
    );
    for chunk in order.chunks(cfg.train.batch_size) {
        let inputs: Vec<Vec<u32>> = chunk.iter().map(|&i| windows[i].inputs.clone()).collect();
        let targets: Vec<u32> = chunk.iter().flat_map(|&i| windows[i].targets.iter().copied()).collect();
        let m = model.take().ok_or_else(|| SeqError::Other("model missing".into()))?;
        // burn's dropout masks for this batch come from a stream of the experiment seed.
        let stream = rng.random::<u64>();
        let loss = recdiff_model::seeding::seeded_forward(device, cfg.seed, stream, || {
            m.loss(&cfg.model, ids_tensor(&inputs, device), &targets, rng)
        });
        let value = loss.clone().into_scalar::<f32>() as f64;
        if !value.is_finite() {
            return Err(SeqError::Other(format!("loss became {value} at batch {batches}")));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &m);
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
    let started_run = Instant::now();
    let out = cfg.output_dir();
    std::fs::create_dir_all(&out).map_err(|e| SeqError::Other(format!("{}: {e}", out.display())))?;
    let resolved = toml::to_string_pretty(cfg).map_err(|e| SeqError::Other(e.to_string()))?;
    recdiff_data::write_atomic(&out.join("config.resolved.toml"), resolved.as_bytes())?;
    let (data, split) = load_data(cfg)?;
    // Item keys by id travel with the run, so serving needs no access to the training data.
    let items = serde_json::to_vec(&data.items).map_err(|e| SeqError::Other(e.to_string()))?;
    recdiff_data::write_atomic(&out.join(ITEMS_FILE), &items)?;
    let windows = split.windows(cfg.data.max_len);
    let positions = windows.iter().map(|w| w.targets.iter().filter(|&&t| t != 0).count()).sum();
    let device = Device::flex().autodiff();
    let mut model = Some(cfg.model.init(data.n_items(), cfg.data.max_len, cfg.seed, &device));
    let mut optim = recdiff_experiment::optim::adam(cfg.train.weight_decay);
    let spec = EvalSpec::of(cfg);
    let inner = device.clone().inner();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let rule = EarlyStopping { higher_is_better: true, patience: cfg.train.patience };
    let (mut stop, mut best, mut epochs_run, mut train_secs) = (StopState::default(), None, 0, 0.0);
    let mut log = String::new();
    for epoch in 1..=cfg.train.epochs {
        let started = Instant::now();
        let loss = train_epoch(&mut model, &mut optim, cfg, &windows, &mut rng, &device)?;
        train_secs += started.elapsed().as_secs_f64();
        epochs_run = epoch;
        if epoch % cfg.train.eval_every_epochs != 0 && epoch != cfg.train.epochs {
            continue;
        }
        let current = model.as_ref().ok_or_else(|| SeqError::Other("model missing".into()))?.valid();
        let valid = evaluate(&current, &cfg.model, &data, &split, false, &spec, &inner)?;
        let score = valid.get(&cfg.train.metric);
        let verdict = rule
            .observe(&mut stop, &cfg.train.metric, score, epoch as u64)
            .map_err(|e| SeqError::Other(e.to_string()))?;
        let record = LogRecord { epoch, loss, seconds: started.elapsed().as_secs_f64(), valid: &valid };
        log.push_str(&serde_json::to_string(&record).map_err(|e| SeqError::Other(e.to_string()))?);
        log.push('\n');
        recdiff_data::write_atomic(&out.join("log.jsonl"), log.as_bytes())?;
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
    save_weights(&best, &out.join("best.safetensors"))?;
    let valid = evaluate(&best, &cfg.model, &data, &split, false, &spec, &inner)?;
    let test = evaluate(&best, &cfg.model, &data, &split, true, &spec, &inner)?;
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
    record.save(&out).map_err(|e| SeqError::Other(e.to_string()))?;
    Ok(SeqRunSummary { record, train_positions: positions, valid, test })
}

/// A finished run read back for inference: its resolved config, item keys by id (`items[0]` is
/// padding) and best weights on `device`.
pub struct LoadedRun {
    pub cfg: SeqExperimentConfig,
    pub items: Vec<String>,
    pub model: SeqModel,
}

/// Reads `run` (a directory written by [`run`]); runs from before `items.json` was written get the
/// item keys from the training data the config names.
pub fn load_run(run: &Path, device: &Device) -> Result<LoadedRun, SeqError> {
    let fail = |path: &Path, message: String| SeqError::Other(format!("{}: {message}", path.display()));
    let cfg_path = run.join("config.resolved.toml");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| fail(&cfg_path, e.to_string()))?;
    let cfg: SeqExperimentConfig = toml::from_str(&text).map_err(|e| fail(&cfg_path, e.to_string()))?;
    cfg.validate().map_err(|e| fail(&cfg_path, e))?;
    let items_path = run.join(ITEMS_FILE);
    let items: Vec<String> = match std::fs::read(&items_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| fail(&items_path, e.to_string()))?,
        Err(_) => load_data(&cfg)?.0.items,
    };
    if items.len() < 2 {
        return Err(fail(&items_path, "no items".into()));
    }
    let mut model = cfg.model.init(items.len() - 1, cfg.data.max_len, cfg.seed, device);
    let weights = run.join("best.safetensors");
    let bytes = std::fs::read(&weights).map_err(|e| fail(&weights, e.to_string()))?;
    let applied = model
        .load_from(&mut SafetensorsStore::from_bytes(Some(bytes)))
        .map_err(|e| fail(&weights, format!("{e:?}")))?;
    if !applied.missing.is_empty() {
        return Err(fail(&weights, format!("missing tensors {:?}", applied.missing)));
    }
    Ok(LoadedRun { cfg, items, model })
}

/// The model's weights as safetensors, written to a temporary file and renamed.
pub fn save_weights(model: &SeqModel, path: &Path) -> Result<(), SeqError> {
    let mut store = SafetensorsStore::from_bytes(None);
    model.save_into(&mut store).map_err(|e| SeqError::Other(format!("{e:?}")))?;
    let bytes = store.get_bytes().map_err(|e| SeqError::Other(format!("{e:?}")))?;
    recdiff_data::write_atomic(path, &bytes)?;
    Ok(())
}
