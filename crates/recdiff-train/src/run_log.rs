//! The CTR family's side of `log.jsonl` (whose schema and durability rule every family shares,
//! `recdiff_experiment::log`): the loss sums of a chunk of steps behind a line.

use crate::engine::StepLosses;
use recdiff_experiment::fit::Trained;
use std::collections::BTreeMap;

/// Running sums of training losses between evaluations.
#[derive(Default)]
pub(crate) struct LossSums {
    total: f64,
    main: f64,
    extra: BTreeMap<String, f64>,
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

    /// What the steps summed report for the log: the mean loss and the mean of each term, the
    /// learning rate `lr` and the samples seen.
    pub(crate) fn trained(&self, lr: f64) -> Trained {
        let n = self.batches.max(1) as f64;
        let mut terms: BTreeMap<String, f64> = self.extra.iter().map(|(k, v)| (k.clone(), v / n)).collect();
        terms.insert("main".into(), self.main / n);
        Trained { loss: self.total / n, terms, lr: Some(lr), samples: Some(self.samples as u64) }
    }
}
