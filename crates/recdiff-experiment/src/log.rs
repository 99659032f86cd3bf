//! `log.jsonl`: one line per validation, one schema for every family ([`LogLine`]), and one
//! durability rule: the file is rewritten whole (temporary file, fsync, rename) after each
//! validation, so a crash leaves the previous log or the new one, never a torn line.
//!
//! Lines written before the families shared this schema read back: the CTR family's former
//! `train_main` / `train_extra` become [`LogLine::train_terms`], its `valid.rows` becomes
//! [`LogLine::valid_rows`], and `uauc_users` is dropped.

use crate::metrics::Metrics;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The log in a run directory.
pub const LOG_FILE: &str = "log.jsonl";

/// One validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawLine")]
pub struct LogLine {
    /// The epoch the validation ran in (1-based) and the optimiser steps so far.
    pub epoch: usize,
    pub step: u64,
    /// The mean training loss since the previous validation.
    pub train_loss: f64,
    /// Its terms, averaged the same way (CTR: `main` and the enhancer's, e.g. `recon`, `aux`);
    /// empty where the loss is one term.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub train_terms: BTreeMap<String, f64>,
    /// Seconds of training and validation since the previous line.
    pub seconds: f64,
    /// The learning rate at the validation, where a schedule moves it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Training throughput since the previous validation, where the family counts samples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples_per_s: Option<f64>,
    /// The validation metrics by name.
    pub valid: Metrics,
    /// Rows the validation scored, where it scores rows (CTR).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_rows: Option<u64>,
    /// Whether this validation is the best so far (its weights are kept).
    pub improved: bool,
}

/// What a line may hold, today's schema or the CTR family's former one.
#[derive(Deserialize)]
struct RawLine {
    epoch: usize,
    step: u64,
    train_loss: f64,
    #[serde(default)]
    train_terms: BTreeMap<String, f64>,
    #[serde(default)]
    train_main: Option<f64>,
    #[serde(default)]
    train_extra: BTreeMap<String, f64>,
    #[serde(default)]
    seconds: f64,
    #[serde(default)]
    lr: Option<f64>,
    #[serde(default)]
    samples_per_s: Option<f64>,
    valid: BTreeMap<String, Option<f64>>,
    #[serde(default)]
    valid_rows: Option<u64>,
    improved: bool,
}

impl From<RawLine> for LogLine {
    fn from(r: RawLine) -> Self {
        let mut terms = r.train_terms;
        if let Some(main) = r.train_main {
            terms.insert("main".into(), main);
        }
        terms.extend(r.train_extra);
        let mut valid = r.valid;
        let rows = valid.remove("rows").flatten().map(|v| v as u64);
        valid.remove("uauc_users");
        let mut metrics = Metrics::new();
        for (name, value) in valid {
            metrics.set(recdiff_metrics::names::canonical(&name).into_owned(), value);
        }
        LogLine {
            epoch: r.epoch,
            step: r.step,
            train_loss: r.train_loss,
            train_terms: terms,
            seconds: r.seconds,
            lr: r.lr,
            samples_per_s: r.samples_per_s,
            valid: metrics,
            valid_rows: r.valid_rows.or(rows),
            improved: r.improved,
        }
    }
}

/// Why the log could not be written.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{path}: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error(transparent)]
    Write(#[from] recdiff_data::DataError),
}

/// Rewrites `<out>/log.jsonl` with `lines` (temporary file, fsync, rename).
pub fn write_log(out: &Path, lines: &[LogLine]) -> Result<(), LogError> {
    let path = out.join(LOG_FILE);
    let mut text = String::new();
    for line in lines {
        let json = serde_json::to_string(line)
            .map_err(|source| LogError::Json { path: path.display().to_string(), source })?;
        text.push_str(&json);
        text.push('\n');
    }
    recdiff_data::write_atomic(&path, text.as_bytes())?;
    Ok(())
}

/// The lines of `<out>/log.jsonl` up to the first that does not parse (none when it is absent).
pub fn read_log(out: &Path) -> Vec<LogLine> {
    let Ok(text) = std::fs::read_to_string(out.join(LOG_FILE)) else { return Vec::new() };
    text.lines().filter(|l| !l.trim().is_empty()).map_while(|l| serde_json::from_str::<LogLine>(l).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ctr_line_of_the_former_schema_reads_as_todays_with_its_terms_and_rows() {
        let old = r#"{"epoch":1,"step":40,"train_loss":0.7,"train_main":0.5,"train_extra":{"recon":0.1,"aux":0.1},"lr":0.001,"samples_per_s":900.0,"valid":{"auc":0.75,"uauc":null,"uauc_users":0,"logloss":0.6,"rows":500},"improved":true}"#;
        let line: LogLine = serde_json::from_str(old).unwrap();
        let terms: Vec<(&str, f64)> = line.train_terms.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(terms, [("aux", 0.1), ("main", 0.5), ("recon", 0.1)]);
        assert_eq!(
            (line.valid.get("auc"), line.valid.reports("uauc"), line.valid.reports("rows")),
            (Some(0.75), true, false)
        );
        assert_eq!((line.valid_rows, line.lr, line.step, line.seconds), (Some(500), Some(0.001), 40, 0.0));
        let again: LogLine = serde_json::from_str(&serde_json::to_string(&line).unwrap()).unwrap();
        assert_eq!(again, line, "today's schema reads back as written");
    }

    #[test]
    fn a_ranking_line_writes_only_the_shared_fields() {
        let mut valid = Metrics::new();
        valid.set("ndcg@10", Some(0.25));
        let line =
            LogLine { epoch: 2, step: 8, train_loss: 1.5, seconds: 3.0, valid, improved: false, ..LogLine::default() };
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"epoch":2,"step":8,"train_loss":1.5,"seconds":3.0,"valid":{"ndcg@10":0.25},"improved":false}"#
        );
    }

    #[test]
    fn reading_stops_at_a_torn_line_and_an_absent_log_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_log(dir.path()).is_empty());
        let good = r#"{"epoch":1,"step":1,"train_loss":1.0,"seconds":1.0,"valid":{},"improved":true}"#;
        std::fs::write(dir.path().join(LOG_FILE), format!("{good}\n{good}\n{{\"epoch\":1,\"st\n{good}\n")).unwrap();
        assert_eq!(read_log(dir.path()).len(), 2);
    }
}
