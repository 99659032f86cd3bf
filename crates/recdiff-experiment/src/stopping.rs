//! The one early-stopping rule of every family: after each validation, the run improves when the
//! watched metric is strictly better than the best so far; it stops once `patience` validations in
//! a row have not improved (Keras' and PyTorch Lightning's convention). The best weights are the
//! ones of the best validation.

use serde::{Deserialize, Serialize};

/// Where early stopping stands; saved in checkpoints so a resumed run continues the same count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StopState {
    /// Best value of the watched metric so far.
    pub best: Option<f64>,
    /// Step (or epoch) of the best value.
    pub best_at: u64,
    /// Validations since the best one.
    pub stale: usize,
}

/// What one validation means for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// New best: keep these weights.
    Improved,
    /// No improvement; keep training.
    Continue,
    /// `patience` validations without improvement: stop.
    Stop,
}

/// The rule: which direction is better, and how many stale validations end the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStopping {
    pub higher_is_better: bool,
    pub patience: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("early stopping: the watched metric {metric:?} is absent at step {at}")]
pub struct AbsentMetric {
    pub metric: String,
    pub at: u64,
}

impl EarlyStopping {
    /// Records `value` of `metric` observed at `at`.
    pub fn observe(
        &self,
        state: &mut StopState,
        metric: &str,
        value: Option<f64>,
        at: u64,
    ) -> Result<Verdict, AbsentMetric> {
        let value = value.ok_or_else(|| AbsentMetric { metric: metric.to_string(), at })?;
        let better = match state.best {
            None => true,
            Some(best) if self.higher_is_better => value > best,
            Some(best) => value < best,
        };
        if better {
            *state = StopState { best: Some(value), best_at: at, stale: 0 };
            return Ok(Verdict::Improved);
        }
        state.stale += 1;
        Ok(if state.stale >= self.patience { Verdict::Stop } else { Verdict::Continue })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_stops_after_exactly_patience_validations_without_improvement() {
        let rule = EarlyStopping { higher_is_better: true, patience: 2 };
        let mut s = StopState::default();
        let seq = [0.5, 0.6, 0.6, 0.55];
        let verdicts: Vec<_> =
            seq.iter().enumerate().map(|(i, v)| rule.observe(&mut s, "auc", Some(*v), i as u64).unwrap()).collect();
        // 0.6 then 0.6 (equal is not better) then 0.55: the second stale validation stops.
        assert_eq!(verdicts, [Verdict::Improved, Verdict::Improved, Verdict::Continue, Verdict::Stop]);
        assert_eq!((s.best, s.best_at), (Some(0.6), 1));
    }

    #[test]
    fn lower_is_better_metrics_improve_downwards_and_an_absent_value_is_an_error() {
        let rule = EarlyStopping { higher_is_better: false, patience: 1 };
        let mut s = StopState::default();
        assert_eq!(rule.observe(&mut s, "logloss", Some(0.5), 1), Ok(Verdict::Improved));
        assert_eq!(rule.observe(&mut s, "logloss", Some(0.4), 2), Ok(Verdict::Improved));
        assert_eq!(rule.observe(&mut s, "logloss", Some(0.45), 3), Ok(Verdict::Stop));
        let e = rule.observe(&mut s, "uauc", None, 4).unwrap_err();
        assert_eq!(e.to_string(), "early stopping: the watched metric \"uauc\" is absent at step 4");
    }
}
