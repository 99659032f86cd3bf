//! The CTR family's side of `log.jsonl` (whose schema and durability rule every family shares,
//! `recdiff_experiment::log`): the loss sums between validations behind a line, and the log
//! trimmed to a checkpoint on resume.

use crate::TrainError;
use crate::engine::StepLosses;
use crate::eval::EvalMetrics;
use recdiff_experiment::log::{LogLine, read_log, write_log};
use std::path::Path;
use std::time::Instant;

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
    ) -> LogLine {
        let n = self.batches.max(1) as f64;
        let seconds = started.elapsed().as_secs_f64();
        let mut train_terms: std::collections::BTreeMap<String, f64> =
            self.extra.iter().map(|(k, v)| (k.clone(), v / n)).collect();
        train_terms.insert("main".into(), self.main / n);
        LogLine {
            epoch,
            step,
            train_loss: self.total / n,
            train_terms,
            seconds,
            lr: Some(lr),
            samples_per_s: Some(self.samples as f64 / seconds.max(1e-9)),
            valid: valid.to_metrics(),
            valid_rows: Some(valid.rows as u64),
            improved,
        }
    }
}

/// Keeps the lines of `<out>/log.jsonl` up to `step` (the checkpoint resumed from), so steps
/// replayed after a resume are not logged twice; without a step (a fresh run) the log is removed.
/// A line cut short by a crash does not parse: it is dropped with the lines after it.
pub(crate) fn trim_log(out: &Path, step: Option<u64>) -> Result<(), TrainError> {
    let path = out.join(recdiff_experiment::log::LOG_FILE);
    let Some(step) = step else {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(TrainError::io(&path, e)),
            _ => Ok(()),
        };
    };
    if !path.exists() {
        return Ok(());
    }
    let kept: Vec<LogLine> = read_log(out).into_iter().take_while(|l| l.step <= step).collect();
    write_log(out, &kept)?;
    Ok(())
}

/// Appends `line` to `<out>/log.jsonl`, rewriting the file whole (the rule every family's log
/// follows).
pub(crate) fn append_log(out: &Path, line: LogLine) -> Result<(), TrainError> {
    let mut lines = read_log(out);
    lines.push(line);
    write_log(out, &lines)?;
    Ok(())
}
