//! MultiVAE (Liang et al., "Variational Autoencoders for Collaborative Filtering", WWW 2018) as a
//! top-K recommender over a user's whole interaction vector.
//!
//! * Input `x` `[B, n]` (0/1, or recency weights), L2-normalised per row, then dropout
//!   (`dropout`, 0.5 as the paper).
//! * Encoder `n -> hidden -> 2 latent` (tanh between layers): `mu`, `logvar` (clamped to ±8, our
//!   guard against overflow in `exp`; the paper leaves it unbounded).
//! * Training: `z = mu + eps * exp(logvar / 2)`, eps from the experiment's seeded RNG; decoder
//!   `latent -> hidden -> n` (tanh between layers); loss
//!   `-mean_b sum_i x_i log softmax(logits)_i + beta * KL`, with `beta` annealed linearly from 0
//!   to `beta` over `anneal_steps` steps (the paper's cap 0.2; it anneals over 200,000 steps on its
//!   datasets, we default to 20,000, about 400 epochs of MovieLens-100K in batches of 500).
//! * Scores: the decoder's logits at `z = mu` (the paper's prediction, no sampling).
//!
//! Shapes: `x` `[B, n]`, logits `[B, n]`, `mu`/`logvar` `[B, latent]`.

use super::{Shape, StepContext, TopKKind, TopKModel, TopKNet, probability};
use crate::activation::log_softmax;
use crate::activation::tanh;
use crate::dropout::Dropout;
use crate::losses::kl_standard_normal;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultiVaeConfig {
    pub hidden: usize,
    pub latent: usize,
    pub dropout: f64,
    pub beta: f64,
    pub anneal_steps: u64,
}

impl Default for MultiVaeConfig {
    fn default() -> Self {
        Self { hidden: 600, latent: 200, dropout: 0.5, beta: 0.2, anneal_steps: 20_000 }
    }
}

impl MultiVaeConfig {
    pub fn init(&self, n_items: usize, device: &Device) -> MultiVae {
        MultiVae {
            enc: LinearConfig::new(n_items, self.hidden).init(device),
            enc_out: LinearConfig::new(self.hidden, 2 * self.latent).init(device),
            dec: LinearConfig::new(self.latent, self.hidden).init(device),
            dec_out: LinearConfig::new(self.hidden, n_items).init(device),
            dropout: Dropout::new(self.dropout),
            cfg: self.clone(),
        }
    }

    /// The KL weight at `step`.
    pub fn beta_at(&self, step: u64) -> f64 {
        if self.anneal_steps == 0 { self.beta } else { self.beta * (step as f64 / self.anneal_steps as f64).min(1.0) }
    }
}

#[derive(Module, Debug)]
pub struct MultiVae {
    enc: Linear,
    enc_out: Linear,
    dec: Linear,
    dec_out: Linear,
    dropout: Dropout,
    #[module(skip)]
    cfg: MultiVaeConfig,
}

/// Rows scaled to unit L2 norm (an empty row stays zero).
pub fn l2_rows(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

impl MultiVae {
    /// (mu, logvar) of the dropped-out, normalised input.
    pub fn encode(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = tanh(self.enc.forward(self.dropout.forward(l2_rows(x))));
        let out = self.enc_out.forward(h);
        let l = self.cfg.latent;
        (out.clone().narrow(1, 0, l), out.narrow(1, l, l).clamp(-8.0, 8.0))
    }

    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        self.dec_out.forward(tanh(self.dec.forward(z)))
    }

    /// The loss of a batch: multinomial log-likelihood plus the annealed KL.
    pub fn loss(&self, x: Tensor<2>, step: u64, rng: &mut dyn RngCore) -> Tensor<1> {
        let (mu, logvar) = self.encode(x.clone());
        let [b, l] = mu.dims();
        let eps: Vec<f32> = (0..b * l).map(|_| StandardNormal.sample(&mut *rng)).collect();
        let eps = Tensor::<2>::from_data(TensorData::new(eps, [b, l]), &mu.device());
        let z = mu.clone() + eps * (logvar.clone() * 0.5).exp();
        multinomial_nll(self.decode(z), x) + kl_standard_normal(mu, logvar) * self.cfg.beta_at(step)
    }

    pub fn scores(&self, x: Tensor<2>) -> Tensor<2> {
        let (mu, _) = self.encode(x);
        self.decode(mu)
    }
}

/// `-mean_b sum_i x_bi log softmax(logits_b)_i`.
pub fn multinomial_nll(logits: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
    let b = x.dims()[0] as f64;
    (log_softmax(logits, 1) * x).sum().neg() / b
}

impl TopKKind for MultiVaeConfig {
    fn check(&self) -> Result<(), String> {
        if self.hidden == 0 || self.latent == 0 {
            return Err(format!("hidden = {}, latent = {}: both must be positive", self.hidden, self.latent));
        }
        probability("dropout", self.dropout)
    }

    fn build(&self, shape: &Shape<'_>, seed: u64, device: &Device) -> Result<TopKModel, String> {
        Ok(TopKModel::Multivae(crate::init::build_seeded(seed, || self.init(shape.items, device))))
    }
}

impl TopKNet for MultiVae {
    fn loss(&self, x: Tensor<2>, _users: Tensor<1, Int>, ctx: &mut StepContext<'_>) -> Tensor<1> {
        MultiVae::loss(self, x, ctx.step, ctx.rng)
    }

    fn scores(&self, x: Tensor<2>, _users: Tensor<1, Int>, _rng: &mut dyn RngCore) -> Tensor<2> {
        MultiVae::scores(self, x)
    }
}
