//! The training log: one `log.jsonl` line per validation ([`EvalRecord`]), the loss sums
//! between validations behind it, and the log trimmed to a checkpoint on resume.

use crate::TrainError;
use crate::engine::StepLosses;
use crate::eval::EvalMetrics;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// One line of `log.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalRecord {
    pub epoch: usize,
    pub step: u64,
    pub train_loss: f64,
    pub train_main: f64,
    /// The enhancer's extra loss terms (e.g. recon, aux, kl, ssl), averaged.
    pub train_extra: std::collections::BTreeMap<String, f64>,
    pub lr: f64,
    pub samples_per_s: f64,
    pub valid: EvalMetrics,
    pub improved: bool,
}

/// Running sums of training losses between evaluations.
#[derive(Default)]
pub(crate) struct LossSums {
    total: f64,
    main: f64,
    extra: std::collections::BTreeMap<String, f64>,
    batches: usize,
    pub(crate) samples: usize,
}

impl LossSums {
    pub(crate) fn add(&mut self, p: &StepLosses, samples: usize) {
        self.total += p.total;
        self.main += p.main;
        for (name, v) in &p.extra {
            *self.extra.entry(name.to_string()).or_default() += v;
        }
        self.batches += 1;
        self.samples += samples;
    }

    pub(crate) fn record(
        &self,
        epoch: usize,
        step: u64,
        lr: f64,
        started: Instant,
        valid: EvalMetrics,
        improved: bool,
    ) -> EvalRecord {
        let n = self.batches.max(1) as f64;
        EvalRecord {
            epoch,
            step,
            train_loss: self.total / n,
            train_main: self.main / n,
            train_extra: self.extra.iter().map(|(k, v)| (k.clone(), v / n)).collect(),
            lr,
            samples_per_s: self.samples as f64 / started.elapsed().as_secs_f64().max(1e-9),
            valid,
            improved,
        }
    }
}

/// Keeps the lines of `log.jsonl` up to `step` (the checkpoint resumed from), so steps replayed
/// after a resume are not logged twice; without a step (a fresh run) the log is removed.
pub(crate) fn trim_log(path: &Path, step: Option<u64>) -> Result<(), TrainError> {
    let Some(step) = step else {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(TrainError::io(path, e)),
            _ => Ok(()),
        };
    };
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let mut kept = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        // A line cut short by a crash does not parse: it is dropped with the lines after it.
        match serde_json::from_str::<EvalRecord>(line) {
            Ok(r) if r.step <= step => {
                kept.push_str(line);
                kept.push('\n');
            }
            _ => break,
        }
    }
    if kept.len() != text.len() {
        recdiff_data::write_atomic(path, kept.as_bytes())?;
    }
    Ok(())
}
