//! DDPM noise schedules: `β_t` for `t = 1..=T` and the cumulative `ᾱ_t = Π (1 - β_s)`.
//!
//! * `linear`: `β` evenly from `beta_start` to `beta_end` (Ho et al. 2020).
//! * `cosine`: `ᾱ_t = f(t)/f(0)`, `f(t) = cos²((t/T + s)/(1 + s) · π/2)`, `s = 0.008`, each `β`
//!   clipped at 0.999 (Nichol & Dhariwal 2021).
//! * `exp`: `β` geometric from `beta_start` to `beta_end` (evenly spaced in log space), the
//!   exponential schedule DreamRec offers beside linear and cosine.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BetaSchedule {
    Linear,
    Cosine,
    Exp,
}

/// `β_t`, index `t - 1`.
pub fn betas(kind: BetaSchedule, steps: usize, beta_start: f64, beta_end: f64) -> Vec<f64> {
    let n = steps.max(1);
    let frac = |i: usize| i as f64 / (n.max(2) - 1) as f64;
    match kind {
        BetaSchedule::Linear => (0..n).map(|i| beta_start + (beta_end - beta_start) * frac(i)).collect(),
        BetaSchedule::Exp => {
            let (a, b) = (beta_start.max(1e-12).ln(), beta_end.max(1e-12).ln());
            (0..n).map(|i| (a + (b - a) * frac(i)).exp()).collect()
        }
        BetaSchedule::Cosine => {
            let f = |t: f64| ((t / n as f64 + 0.008) / 1.008 * std::f64::consts::FRAC_PI_2).cos().powi(2);
            (0..n).map(|i| (1.0 - f(i as f64 + 1.0) / f(i as f64)).clamp(0.0, 0.999)).collect()
        }
    }
}

/// `ᾱ_t`, index `t - 1`.
pub fn alpha_bars(kind: BetaSchedule, steps: usize, beta_start: f64, beta_end: f64) -> Vec<f64> {
    let mut acc = 1.0;
    betas(kind, steps, beta_start, beta_end)
        .iter()
        .map(|b| {
            acc *= 1.0 - b;
            acc
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schedule_decreases_from_near_one_towards_zero() {
        for kind in [BetaSchedule::Linear, BetaSchedule::Cosine, BetaSchedule::Exp] {
            let ab = alpha_bars(kind, 200, 1e-4, 0.02);
            assert_eq!(ab.len(), 200);
            assert!(ab[0] > 0.99 && ab[199] < 0.5, "{kind:?}: {} .. {}", ab[0], ab[199]);
            assert!(ab.windows(2).all(|w| w[1] < w[0]), "{kind:?} not decreasing");
        }
        let exp = betas(BetaSchedule::Exp, 3, 1e-4, 1e-2);
        assert!((exp[1] - 1e-3).abs() < 1e-12, "geometric midpoint: {exp:?}");
    }
}
