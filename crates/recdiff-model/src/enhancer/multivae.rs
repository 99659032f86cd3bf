//! MultiVAE-style variational bottleneck on `z` (after Liang et al., "Variational Autoencoders for
//! Collaborative Filtering", WWW 2018).
//!
//! `mu = W_mu z`, `logvar = clamp(W_lv z, -8, 8)`, training uses the reparameterised
//! `z' = mu + eps · exp(logvar / 2)` (eps drawn from the experiment's seeded RNG, not burn's) in
//! `L_main = BCE(f(z'), y)`, plus `β · KL(N(mu, σ²) || N(0, I))` (summed over dimensions, averaged
//! over the batch) with β annealed linearly from 0 to `beta` over `anneal_steps` steps, as
//! MultiVAE does. Serving uses the mean: `f(mu)`.

use super::{Enhance, EnhancerKind, LatentNoise, NoisePlan};
use crate::base::Base;
use crate::ctr::{Losses, TrainInputs};
use crate::losses::{bce_with_logits, kl_standard_normal};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultiVaeConfig {
    pub beta: f32,
    pub anneal_steps: u64,
}

impl Default for MultiVaeConfig {
    fn default() -> Self {
        Self { beta: 0.2, anneal_steps: 2000 }
    }
}

impl MultiVaeConfig {
    pub fn beta_at(&self, step: u64) -> f32 {
        if self.anneal_steps == 0 { self.beta } else { self.beta * (step as f32 / self.anneal_steps as f32).min(1.0) }
    }

    pub fn init(&self, latent_dim: usize, device: &Device) -> VaeHead {
        VaeHead {
            mu: LinearConfig::new(latent_dim, latent_dim).init(device),
            logvar: LinearConfig::new(latent_dim, latent_dim).init(device),
            cfg: self.clone(),
        }
    }
}

#[derive(Module, Debug)]
pub struct VaeHead {
    mu: Linear,
    logvar: Linear,
    #[module(skip)]
    cfg: MultiVaeConfig,
}

impl VaeHead {
    /// (mu, logvar), each `[B, latent]`.
    pub fn forward(&self, z: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        (self.mu.forward(z.clone()), self.logvar.forward(z).clamp(-8.0, 8.0))
    }

    pub fn mean(&self, z: Tensor<2>) -> Tensor<2> {
        self.mu.forward(z)
    }
}

impl EnhancerKind for MultiVaeConfig {
    type Module = VaeHead;

    fn build(&self, _fields: usize, _dim: usize, latent: usize, device: &Device) -> VaeHead {
        self.init(latent, device)
    }
}

impl Enhance for VaeHead {
    fn noise_plan(&self) -> NoisePlan {
        NoisePlan::None
    }

    fn latent_noise(&self, batch: usize, latent: usize, rng: &mut dyn RngCore) -> Option<LatentNoise> {
        let eps = (0..batch * latent).map(|_| StandardNormal.sample(&mut *rng)).collect();
        Some(LatentNoise { eps, t: vec![] })
    }

    fn losses(&self, base: &Base, z: &[Tensor<2>], inp: &TrainInputs<'_>) -> Losses {
        let (mu, logvar) = self.forward(z[0].clone());
        let sample = mu.clone() + inp.noise().0 * (logvar.clone() * 0.5).exp();
        let main = bce_with_logits(base.f(sample), inp.y.clone());
        let kl = kl_standard_normal(mu, logvar);
        let total = main.clone() + kl.clone() * self.cfg.beta_at(inp.step);
        Losses { total, main, extra: vec![("kl", kl)] }
    }

    fn serve(&self, z: Tensor<2>, _s: Tensor<2>) -> Tensor<2> {
        self.mean(z)
    }
}
