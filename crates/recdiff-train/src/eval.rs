//! Scoring a split with a trained model and computing AUC, UAUC and LogLoss.

use crate::batch;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use recdiff_data::SplitFile;
use recdiff_model::{CtrModel, EmbeddingStore};
use serde::{Deserialize, Serialize};

/// The CTR family's evaluation of one split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalMetrics {
    pub auc: f64,
    /// Per-user AUC weighted by the user's rows; `None` without a user key (or when no user has
    /// both classes), never NaN.
    pub uauc: Option<f64>,
    /// Users whose AUC entered UAUC (both classes present).
    pub uauc_users: usize,
    pub logloss: f64,
    pub rows: usize,
}

impl EvalMetrics {
    pub fn get(&self, m: crate::config::Metric) -> Option<f64> {
        match m {
            crate::config::Metric::Auc => Some(self.auc),
            crate::config::Metric::Uauc => self.uauc,
            crate::config::Metric::Logloss => Some(self.logloss),
        }
    }

    /// The metrics by name, as every family reports them (`auc`, `uauc`, `logloss`).
    pub fn to_metrics(&self) -> recdiff_experiment::Metrics {
        let mut m = recdiff_experiment::Metrics::new();
        m.set("auc", Some(self.auc)).set("uauc", self.uauc).set("logloss", Some(self.logloss));
        m
    }
}

/// "0.71234" or "—" for an absent value.
pub fn show(v: Option<f64>) -> String {
    recdiff_experiment::metrics::cell(v, 5)
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("metric: {0}")]
    Metric(#[from] recdiff_metrics::MetricError),
    #[error("tensor data: {0}")]
    Tensor(String),
}

/// How a split is scored: rows per batch, the seed of the probe's random choices, and the label
/// of a progress bar (none without one).
#[derive(Debug, Clone, Copy)]
pub struct Scoring<'a> {
    pub batch_size: usize,
    pub seed: u64,
    pub progress: Option<&'a str>,
}

/// Click probabilities for every row of `split`, with `probe` hiding fields on top of each row's
/// own missing ones (random choices seeded by `how.seed`); the model sees them as missing.
pub fn predict_split(
    model: &CtrModel,
    store: &EmbeddingStore,
    split: &SplitFile,
    device: &Device,
    probe: &batch::Probe,
    how: Scoring<'_>,
) -> Result<Vec<f32>, EvalError> {
    predict_rows(model, store, split, 0..split.len(), device, probe, how)
}

/// Click probabilities for rows `range` of `split` (a rank's shard in distributed evaluation),
/// as [`predict_split`] scores them. The probe's random choices start from `how.seed` at the
/// range's first row, so a shard other than the whole split matches [`predict_split`] only for
/// probes that draw nothing (`Probe::NONE`, `Probe::Fields`).
pub fn predict_rows(
    model: &CtrModel,
    store: &EmbeddingStore,
    split: &SplitFile,
    range: std::ops::Range<usize>,
    device: &Device,
    probe: &batch::Probe,
    how: Scoring<'_>,
) -> Result<Vec<f32>, EvalError> {
    let fields = store.fields();
    let batch_size = how.batch_size.max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(how.seed);
    let bar = recdiff_experiment::progress::bar(
        how.progress.is_some(),
        how.progress.unwrap_or_default(),
        range.len().div_ceil(batch_size) as u64,
    );
    let mut probs = Vec::with_capacity(range.len());
    let mut buf = Vec::new();
    let all: Vec<u32> = (range.start as u32..range.end as u32).collect();
    for chunk in all.chunks(batch_size) {
        let b = batch::build_eval(split, chunk, fields, probe, &mut rng);
        probs.extend(score_batch(model, store, &b, device, &mut buf)?);
        bar.inc(1);
    }
    Ok(probs)
}

/// Metrics of a trained run (opened read-only) on `split`, with `probe` hiding fields.
pub fn evaluate_run(
    run: &recdiff_run::CtrRun,
    split: &SplitFile,
    probe: &batch::Probe,
) -> Result<EvalMetrics, EvalError> {
    let t = &run.cfg.train;
    let how = Scoring { batch_size: t.eval_batch_size, seed: run.cfg.seed, progress: t.progress.then_some("scoring") };
    let probs = predict_split(&run.model, &run.store, split, &run.device, probe, how)?;
    metrics(&probs, split)
}

/// Probabilities of one batch; `buf` is reused between calls.
pub fn score_batch(
    model: &CtrModel,
    store: &EmbeddingStore,
    b: &batch::Batch<'_>,
    device: &Device,
    buf: &mut Vec<f32>,
) -> Result<Vec<f32>, EvalError> {
    buf.resize(b.rows.len() * store.width(), 0.0);
    store.gather(&b.rows, &b.masks, buf);
    score_gathered(model, b, buf, store.fields(), device)
}

/// Probabilities of batch `b` from its embedded input `x` (`[rows, fields * dim]`, gathered).
pub fn score_gathered(
    model: &CtrModel,
    b: &batch::Batch<'_>,
    x: &[f32],
    fields: usize,
    device: &Device,
) -> Result<Vec<f32>, EvalError> {
    let n = b.rows.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let width = x.len() / n;
    let x = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [n, width]), device);
    let s = Tensor::<2>::from_data(TensorData::new(b.masks.to_f32(), [n, fields]), device);
    let p = sigmoid(model.logits(x, s));
    p.into_data().try_into_vec::<f32>().map_err(|e| EvalError::Tensor(format!("{e:?}")))
}

/// AUC, UAUC (per user, weighted by sample count) and LogLoss of `probs` on `split`.
pub fn metrics(probs: &[f32], split: &SplitFile) -> Result<EvalMetrics, EvalError> {
    let labels: Vec<f32> = (0..split.len()).map(|i| split.row(i).label()).collect();
    let auc = recdiff_metrics::auc(probs, &labels)?;
    let logloss = recdiff_metrics::logloss(probs, &labels)?;
    // UAUC over the rows that carry a user.
    let (mut p, mut l, mut users) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..split.len() {
        if let Some(u) = split.row(i).user() {
            p.push(probs[i]);
            l.push(labels[i]);
            users.push(u);
        }
    }
    let (uauc, uauc_users) = match recdiff_metrics::uauc(&p, &l, &users) {
        Ok(u) => (Some(u.value), u.users_used),
        Err(recdiff_metrics::MetricError::NoUsableUser { .. } | recdiff_metrics::MetricError::Empty) => (None, 0),
        Err(e) => return Err(e.into()),
    };
    Ok(EvalMetrics { auc, uauc, uauc_users, logloss, rows: probs.len() })
}
