//! L-DiffRec (Wang et al., "Diffusion Recommender Model", SIGIR 2023, sec. 3.4): DiffRec in a
//! compressed latent space. Items are clustered into `clusters` groups; each group's slice of the
//! interaction vector has its own VAE encoder and decoder; the diffusion runs on the concatenated
//! latent.
//!
//! * Groups: k-means on SVD item embeddings of the training matrix (`recdiff_topk::clusters`,
//!   which the trainer runs; the groups travel with the run in `groups.json`).
//! * Encoder of group `c`: `dropout(x_c) -> Linear(n_c, 2 l_c)` giving `μ_c, log σ²_c`; latent
//!   sizes `l_c` split `latent` in proportion to the group sizes (at least 1 each), as the
//!   official code does. Decoder of group `c`: `Linear(l_c, n_c)`; the group outputs are put back
//!   in item order.
//! * Training (the official objective): `z = μ + σ ε`; the DiffRec loss on `z` (its timestep
//!   sampler and reweighting), whose x0 prediction `ẑ0` is decoded;
//!   `L = λ_s L_diffusion + (-mean_b Σ_i x_i log softmax(dec(ẑ0))_i) + β_s KL`, with
//!   `λ_s = max((1 - s / lambda_anneal_steps) λ, lambda_min)` and `β_s = min(kl_cap, s / kl_anneal_steps)`
//!   at step `s`.
//! * Inference: `z = μ(x)`, DiffRec's reverse process from it (`noise_steps`, `sample_steps`),
//!   then decode; the decoder's logits rank the items.
//!
//! Choices the paper leaves open: the official code anneals `λ` per epoch over 500 epochs; here
//! per step (`lambda_anneal_steps`), since epochs differ in length across datasets. Its item
//! embeddings come from a pre-trained LightGCN; here from an SVD of the training matrix, so no
//! second model has to be trained first. Encoders have no hidden layer (the official `in_dims`
//! of one entry).
//!
//! With `recency = [w_min, w_max]` the input is T-DiffRec's recency-weighted vector (the paper's
//! LT-DiffRec).
//!
//! Shapes: `x` `[B, n]`, latent `[B, L]`, scores `[B, n]`.

use super::diffrec::{DiffRec, DiffRecConfig, gaussian};
use super::{Shape, StepContext, TopKKind, TopKModel, TopKNet};
use crate::activation::log_softmax;
use crate::dropout::Dropout;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LDiffRecConfig {
    /// `k`: item groups.
    pub clusters: usize,
    /// Dimension of the SVD item embeddings the groups are clustered on.
    pub svd_dim: usize,
    /// Total latent size `L`, split over the groups.
    pub latent: usize,
    pub dropout: f64,
    /// Weight `λ` of the diffusion loss, annealed down to `lambda_min`.
    pub lambda: f64,
    pub lambda_min: f64,
    pub lambda_anneal_steps: u64,
    /// Cap of the KL weight, reached linearly after `kl_anneal_steps`.
    pub kl_cap: f64,
    pub kl_anneal_steps: u64,
    /// The diffusion over the latent.
    pub diffusion: DiffRecConfig,
    /// T-DiffRec's recency weighting of the input (`[w_min, w_max]`, LT-DiffRec); absent: 0/1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recency: Option<[f64; 2]>,
}

impl Default for LDiffRecConfig {
    fn default() -> Self {
        Self {
            clusters: 2,
            svd_dim: 64,
            latent: 300,
            dropout: 0.5,
            lambda: 0.03,
            lambda_min: 0.005,
            lambda_anneal_steps: 4_000,
            kl_cap: 0.3,
            kl_anneal_steps: 200,
            diffusion: DiffRecConfig { hidden: vec![300], ..DiffRecConfig::default() },
            recency: None,
        }
    }
}

/// Items per group (original ids, ascending) and each group's latent size.
#[derive(Debug, Clone, PartialEq)]
pub struct Groups {
    pub items: Vec<Vec<i64>>,
    pub latent: Vec<usize>,
    /// For each original item, its column in the group-ordered concatenation.
    pub inverse: Vec<i64>,
}

impl Groups {
    /// Groups from a group id per item, with `latent` split in proportion to group sizes.
    pub fn new(of_item: &[usize], latent: usize) -> Self {
        let k = of_item.iter().max().map_or(0, |m| m + 1);
        let mut items = vec![Vec::new(); k];
        for (i, &g) in of_item.iter().enumerate() {
            items[g].push(i as i64);
        }
        items.retain(|g| !g.is_empty());
        let n = of_item.len().max(1);
        let sizes: Vec<usize> = items.iter().map(|g| (latent * g.len() / n).max(1)).collect();
        let mut inverse = vec![0i64; of_item.len()];
        for (col, &i) in items.iter().flatten().enumerate() {
            inverse[i as usize] = col as i64;
        }
        Self { items, latent: sizes, inverse }
    }

    pub fn total_latent(&self) -> usize {
        self.latent.iter().sum()
    }
}

impl LDiffRecConfig {
    /// Settings the model cannot be built with, named by key (before the data are seen).
    pub fn validate(&self) -> Result<(), String> {
        if self.clusters == 0 || self.svd_dim == 0 || self.latent < self.clusters {
            return Err(format!(
                "clusters = {}, svd_dim = {}, latent = {}: need clusters, svd_dim >= 1 and latent >= clusters",
                self.clusters, self.svd_dim, self.latent
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout = {}: a probability must lie in [0, 1)", self.dropout));
        }
        if !(self.lambda >= self.lambda_min && self.lambda_min >= 0.0 && self.kl_cap >= 0.0) {
            return Err(format!(
                "lambda = {}, lambda_min = {}, kl_cap = {}: need lambda >= lambda_min >= 0 and kl_cap >= 0",
                self.lambda, self.lambda_min, self.kl_cap
            ));
        }
        if let Some([lo, hi]) = self.recency
            && !(lo > 0.0 && lo <= hi)
        {
            return Err(format!("recency = [{lo}, {hi}]: need 0 < w_min <= w_max"));
        }
        self.diffusion.validate().map_err(|e| format!("diffusion.{e}"))
    }

    /// The model over `groups`.
    pub fn model(&self, groups: Groups, device: &Device) -> LDiffRec {
        let lin = |a: usize, b: usize| LinearConfig::new(a, b).init(device);
        LDiffRec {
            encoders: groups.items.iter().zip(&groups.latent).map(|(g, &l)| lin(g.len(), 2 * l)).collect(),
            decoders: groups.items.iter().zip(&groups.latent).map(|(g, &l)| lin(l, g.len())).collect(),
            diffusion: self.diffusion.model(groups.total_latent(), device),
            dropout: Dropout::new(self.dropout),
            groups,
            cfg: self.clone(),
        }
    }

    pub fn lambda_at(&self, step: u64) -> f64 {
        let frac = if self.lambda_anneal_steps == 0 { 0.0 } else { step as f64 / self.lambda_anneal_steps as f64 };
        ((1.0 - frac) * self.lambda).max(self.lambda_min)
    }

    pub fn kl_at(&self, step: u64) -> f64 {
        if self.kl_anneal_steps == 0 { self.kl_cap } else { self.kl_cap.min(step as f64 / self.kl_anneal_steps as f64) }
    }
}

#[derive(Module, Debug)]
pub struct LDiffRec {
    encoders: Vec<Linear>,
    decoders: Vec<Linear>,
    pub diffusion: DiffRec,
    dropout: Dropout,
    #[module(skip)]
    groups: Groups,
    #[module(skip)]
    cfg: LDiffRecConfig,
}

fn ids(v: &[i64], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

impl LDiffRec {
    pub fn config(&self) -> &LDiffRecConfig {
        &self.cfg
    }

    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    /// `(μ, log σ²)`, each `[B, L]`, group latents concatenated in group order.
    pub fn encode(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let device = x.device();
        let x = self.dropout.forward(x);
        let (mut mu, mut logvar) = (Vec::new(), Vec::new());
        for ((enc, items), &l) in self.encoders.iter().zip(&self.groups.items).zip(&self.groups.latent) {
            let h = enc.forward(x.clone().select(1, ids(items, &device)));
            mu.push(h.clone().narrow(1, 0, l));
            logvar.push(h.narrow(1, l, l));
        }
        (Tensor::cat(mu, 1), Tensor::cat(logvar, 1))
    }

    /// Item logits `[B, n]` in the original item order from a latent `[B, L]`.
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        let device = z.device();
        let mut parts = Vec::new();
        let mut offset = 0;
        for (dec, &l) in self.decoders.iter().zip(&self.groups.latent) {
            parts.push(dec.forward(z.clone().narrow(1, offset, l)));
            offset += l;
        }
        Tensor::cat(parts, 1).select(1, ids(&self.groups.inverse, &device))
    }

    /// The VAE part of the loss and the sampled latent: `(z, KL)` with `KL` averaged over rows.
    pub fn sample_latent(&self, x: Tensor<2>, rng: &mut dyn rand::RngCore) -> (Tensor<2>, Tensor<1>) {
        let (mu, logvar) = self.encode(x);
        let [b, l] = mu.dims();
        let eps = gaussian(b, l, rng, &mu.device());
        let z = mu.clone() + (logvar.clone() * 0.5).exp() * eps;
        let kl = ((logvar.clone() + 1.0 - mu.powi_scalar(2) - logvar.exp()).sum_dim(1) * -0.5).mean();
        (z, kl)
    }

    /// `-mean_b Σ_i x_i log softmax(logits)_i`.
    pub fn multinomial_nll(logits: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
        (log_softmax(logits, 1) * x).sum_dim(1).mean().neg()
    }

    /// Scores `[B, n]`: the encoder mean, DiffRec's reverse process over it, decoded.
    pub fn scores(&self, x: Tensor<2>, rng: &mut dyn rand::RngCore) -> Tensor<2> {
        let (mu, _) = self.encode(x);
        self.decode(self.diffusion.scores(mu, rng))
    }
}

impl TopKKind for LDiffRecConfig {
    fn check(&self) -> Result<(), String> {
        self.validate()
    }

    fn recency(&self) -> Option<(f32, f32)> {
        self.recency.map(|[lo, hi]| (lo as f32, hi as f32))
    }

    fn diffusion(&self) -> Option<&DiffRecConfig> {
        Some(&self.diffusion)
    }

    fn item_clusters(&self) -> Option<(usize, usize)> {
        Some((self.clusters, self.svd_dim))
    }

    /// One encoder and decoder per group of `shape.item_groups`, weights drawn from `seed`.
    fn build(&self, shape: &Shape<'_>, seed: u64, device: &Device) -> Result<TopKModel, String> {
        let of_item = shape.item_groups.ok_or("clusters: L-DiffRec needs the item groups")?;
        if of_item.len() != shape.items {
            return Err(format!("clusters: {} item groups for {} items", of_item.len(), shape.items));
        }
        let groups = Groups::new(of_item, self.latent);
        Ok(TopKModel::Ldiffrec(crate::init::build_seeded(seed, || self.model(groups.clone(), device))))
    }
}

impl TopKNet for LDiffRec {
    /// The VAE's KL and the decoder's likelihood around DiffRec's loss on the latent, each weighted
    /// by its schedule.
    fn loss(&self, x: Tensor<2>, _users: Tensor<1, Int>, ctx: &mut StepContext<'_>) -> Tensor<1> {
        let cfg = self.config();
        let (z, kl) = self.sample_latent(x.clone(), ctx.rng);
        let (elbo, z_hat) = super::timesteps::diffusion_loss(&self.diffusion, z, super::diffrec::Input::Tracked, ctx);
        let nll = LDiffRec::multinomial_nll(self.decode(z_hat), x);
        elbo * cfg.lambda_at(ctx.step) + nll + kl * cfg.kl_at(ctx.step)
    }

    fn scores(&self, x: Tensor<2>, _users: Tensor<1, Int>, rng: &mut dyn rand::RngCore) -> Tensor<2> {
        LDiffRec::scores(self, x, rng)
    }
}
