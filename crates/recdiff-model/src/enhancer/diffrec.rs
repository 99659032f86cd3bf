//! DiffRec-style symmetric Gaussian diffusion on the latent `z` (after Wang et al., "Diffusion
//! Recommender Models", SIGIR 2023), the symmetric counterpart AsymDiffRec is compared with.
//!
//! Forward: `z_t = sqrt(ᾱ_t) z0 + sqrt(1 - ᾱ_t) ε`, `t ~ U{1..steps}`, `ε` from the seeded RNG,
//! β linear from `beta_start` to `beta_end` (or cosine). Denoiser: a ReLU MLP on `[z_t, emb(t)]`
//! (sinusoidal step embedding) predicting `z0` (x0-prediction, as DiffRec). Loss
//! `L_main + w_recon · ||ẑ0 - sg(z0)||² + w_aux · BCE(f(ẑ0), y)` — the same three terms as
//! AsymDiffRec, so the comparison isolates the noise. Serving: `f(d(sqrt(ᾱ_s) z0, s))` at the
//! smallest step `s = 1` without added noise (deterministic).

use super::{Enhance, EnhancerKind, LatentNoise, NoisePlan};
use crate::base::Base;
use crate::base::mlp::{relu_stack, run_stack};
use crate::ctr::{Losses, TrainInputs};
use crate::diffusion::time_embedding;
use crate::losses::bce_with_logits;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, RngCore};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

pub use crate::diffusion::schedule::BetaSchedule;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiffRecConfig {
    pub steps: usize,
    pub schedule: BetaSchedule,
    pub beta_start: f64,
    pub beta_end: f64,
    pub hidden: Vec<usize>,
    pub time_dim: usize,
    pub recon_weight: f32,
    pub aux_weight: f32,
}

impl Default for DiffRecConfig {
    fn default() -> Self {
        Self {
            steps: 50,
            schedule: BetaSchedule::Linear,
            beta_start: 1e-4,
            beta_end: 0.02,
            hidden: vec![256],
            time_dim: 16,
            recon_weight: 1.0,
            aux_weight: 1.0,
        }
    }
}

impl DiffRecConfig {
    /// ᾱ_t for t = 1..=steps (index t - 1).
    pub fn alpha_bars(&self) -> Vec<f64> {
        crate::diffusion::schedule::alpha_bars(self.schedule, self.steps, self.beta_start, self.beta_end)
    }

    pub fn init(&self, latent_dim: usize, device: &Device) -> DiffRecDenoiser {
        let (hidden, width) = relu_stack(latent_dim + self.time_dim, &self.hidden, device);
        let out = LinearConfig::new(width, latent_dim).init(device);
        DiffRecDenoiser { hidden, out, time_dim: self.time_dim, cfg: self.clone() }
    }
}

#[derive(Module, Debug)]
pub struct DiffRecDenoiser {
    hidden: Vec<Linear>,
    out: Linear,
    time_dim: usize,
    #[module(skip)]
    cfg: DiffRecConfig,
}

impl DiffRecDenoiser {
    /// Predicts `z0` from `z_t` `[B, latent]` at steps `t`.
    pub fn forward(&self, zt: Tensor<2>, t: &[usize]) -> Tensor<2> {
        let emb = time_embedding(t, self.time_dim, &zt.device());
        self.out.forward(run_stack(&self.hidden, Tensor::cat(vec![zt, emb], 1)))
    }
}

impl EnhancerKind for DiffRecConfig {
    type Module = DiffRecDenoiser;

    fn build(&self, _fields: usize, _dim: usize, latent: usize, device: &Device) -> DiffRecDenoiser {
        self.init(latent, device)
    }
}

impl Enhance for DiffRecDenoiser {
    fn noise_plan(&self) -> NoisePlan {
        NoisePlan::None
    }

    fn latent_noise(&self, batch: usize, latent: usize, rng: &mut dyn RngCore) -> Option<LatentNoise> {
        let eps = (0..batch * latent).map(|_| StandardNormal.sample(&mut *rng)).collect();
        let t = (0..batch).map(|_| rng.random_range(1..=self.cfg.steps.max(1))).collect();
        Some(LatentNoise { eps, t })
    }

    /// `z_t = sqrt(ᾱ_t) z0 + sqrt(1 - ᾱ_t) ε` of the detached clean latent; the denoiser predicts
    /// `z0`, and `f` of the prediction is trained too.
    fn losses(&self, base: &Base, z: &[Tensor<2>], inp: &TrainInputs<'_>) -> Losses {
        let c = &self.cfg;
        let z0 = z[0].clone();
        let main = bce_with_logits(base.f(z0.clone()), inp.y.clone());
        let ab = c.alpha_bars();
        let device = z0.device();
        let (eps, t) = inp.noise();
        let a = column(t.iter().map(|&t| ab[t - 1].sqrt() as f32).collect(), &device);
        let s = column(t.iter().map(|&t| (1.0 - ab[t - 1]).sqrt() as f32).collect(), &device);
        let target = z0.detach();
        let zt = target.clone() * a + eps * s;
        let z0p = self.forward(zt, t);
        let recon = (z0p.clone() - target).powi_scalar(2).mean();
        let aux = bce_with_logits(base.f(z0p), inp.y.clone());
        let total = main.clone() + recon.clone() * c.recon_weight + aux.clone() * c.aux_weight;
        Losses { total, main, extra: vec![("recon", recon), ("aux", aux)] }
    }

    /// The denoiser at `t = 1` on `sqrt(ᾱ_1) z`, the mean of `q(z_1 | z)`: the input it was
    /// trained on at that step, without the noise.
    fn serve(&self, z: Tensor<2>, _s: Tensor<2>) -> Tensor<2> {
        let n = z.dims()[0];
        let scale = self.cfg.alpha_bars().first().map_or(1.0, |a| a.sqrt()) as f32;
        self.forward(z * scale, &vec![1; n])
    }
}

fn column(values: Vec<f32>, device: &Device) -> Tensor<2> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n, 1]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_bar_decreases_from_near_one() {
        let c = DiffRecConfig::default();
        let ab = c.alpha_bars();
        assert_eq!(ab.len(), 50);
        assert!((ab[0] - (1.0 - 1e-4)).abs() < 1e-12);
        assert!(ab.windows(2).all(|w| w[1] < w[0]));
        let cos = DiffRecConfig { schedule: BetaSchedule::Cosine, ..c }.alpha_bars();
        assert!(cos.windows(2).all(|w| w[1] <= w[0]) && cos[49] < 0.05);
    }
}
