//! DiffRec's timestep sampling: uniform, or importance sampling by recorded losses (the paper's
//! loss-aware sampling, after Nichol & Dhariwal 2021).
//!
//! Each step keeps its last `history` weighted losses. Until every step has `history` of them,
//! draws are uniform and carry weight 1. Then step `t` is drawn with probability
//! `p_t = 0.999 * sqrt(E[L_t²]) / Σ_s sqrt(E[L_s²]) + 0.001 / T` (the small uniform share keeps
//! every step reachable, as the paper's code does) and its loss is multiplied by `1 / (T p_t)`,
//! so the expected loss matches the uniform one.

use super::StepContext;
use super::diffrec::{DiffRec, Diffusion, Input};
use burn::tensor::Tensor;
use rand::{Rng, RngCore};
use std::collections::VecDeque;

/// Serialisable, so a resumed run continues its loss history.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StepSampler {
    importance: bool,
    history: usize,
    losses: Vec<VecDeque<f64>>,
}

const UNIFORM_SHARE: f64 = 0.001;

impl StepSampler {
    pub fn new(steps: usize, importance: bool, history: usize) -> Self {
        Self { importance, history, losses: vec![VecDeque::new(); steps] }
    }

    /// Whether every step has its full loss history (importance draws have started).
    pub fn warm(&self) -> bool {
        self.importance && self.losses.iter().all(|l| l.len() >= self.history)
    }

    /// The current step probabilities.
    pub fn probabilities(&self) -> Vec<f64> {
        let t = self.losses.len() as f64;
        if !self.warm() {
            return vec![1.0 / t; self.losses.len()];
        }
        let rms: Vec<f64> =
            self.losses.iter().map(|l| (l.iter().map(|x| x * x).sum::<f64>() / l.len() as f64).sqrt()).collect();
        let total: f64 = rms.iter().sum();
        if total <= 0.0 || !total.is_finite() {
            return vec![1.0 / t; self.losses.len()];
        }
        rms.iter().map(|r| (1.0 - UNIFORM_SHARE) * r / total + UNIFORM_SHARE / t).collect()
    }

    /// `n` steps and the weight `1 / (T p_t)` of each.
    pub fn draw(&self, n: usize, rng: &mut dyn RngCore) -> (Vec<usize>, Vec<f64>) {
        let p = self.probabilities();
        let t = p.len() as f64;
        let mut cumulative = Vec::with_capacity(p.len());
        let mut acc = 0.0;
        for x in &p {
            acc += x;
            cumulative.push(acc);
        }
        (0..n)
            .map(|_| {
                let u: f64 = rng.random::<f64>() * acc;
                let s = cumulative.partition_point(|&c| c <= u).min(p.len() - 1);
                (s, 1.0 / (t * p[s]))
            })
            .unzip()
    }

    /// Records one weighted loss per drawn step.
    pub fn record(&mut self, steps: &[usize], losses: &[f64]) {
        for (&s, &l) in steps.iter().zip(losses) {
            let h = &mut self.losses[s];
            h.push_back(l);
            while h.len() > self.history {
                h.pop_front();
            }
        }
    }
}

/// DiffRec's loss of a batch `x0` `[B, n]` under the step sampler (importance weights, recorded
/// losses), and its x0 prediction.
pub fn diffusion_loss(m: &DiffRec, x0: Tensor<2>, input: Input, ctx: &mut StepContext<'_>) -> (Tensor<1>, Tensor<2>) {
    let b = x0.dims()[0];
    let (t, importance) = ctx.sampler.draw(b, ctx.rng);
    let (terms, x0_hat) = m.terms_and_x0(x0, &t, ctx.rng, input);
    let values: Vec<f64> = terms.clone().into_data().iter::<f32>().map(f64::from).collect();
    ctx.sampler.record(&t, &values);
    let w = Diffusion::column(importance.iter().map(|&v| v as f32).collect(), &terms.device());
    ((terms.reshape([b, 1]) * w).mean(), x0_hat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn uniform_until_warm_then_proportional_to_rms_loss() {
        let mut s = StepSampler::new(2, true, 2);
        assert_eq!(s.probabilities(), vec![0.5, 0.5]);
        s.record(&[0, 0, 1], &[3.0, 4.0, 1.0]);
        assert!(!s.warm(), "step 1 has one loss of two");
        s.record(&[1], &[1.0]);
        // rms: sqrt((9 + 16) / 2) = 3.5355, 1.0
        let p = s.probabilities();
        let r0 = (12.5f64).sqrt();
        assert!((p[0] - (0.999 * r0 / (r0 + 1.0) + 0.0005)).abs() < 1e-12, "{p:?}");
        assert!((p[0] + p[1] - 1.0).abs() < 1e-12);
        let (steps, w) = s.draw(4000, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
        let share = steps.iter().filter(|&&x| x == 0).count() as f64 / 4000.0;
        assert!((share - p[0]).abs() < 0.03, "drawn share {share} vs {}", p[0]);
        let i = steps.iter().position(|&x| x == 1).unwrap();
        assert!((w[i] - 1.0 / (2.0 * p[1])).abs() < 1e-12);
    }

    #[test]
    fn a_uniform_sampler_never_reweights() {
        let mut s = StepSampler::new(3, false, 1);
        s.record(&[0, 1, 2], &[5.0, 1.0, 1.0]);
        let (_, w) = s.draw(10, &mut rand_chacha::ChaCha8Rng::seed_from_u64(2));
        assert!(w.iter().all(|&x| (x - 1.0).abs() < 1e-12));
    }
}
