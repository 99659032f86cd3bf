//! SSL for CTR (after Yao et al., "Self-supervised Learning for Large-scale Item Recommendations",
//! CIKM 2021): two augmented views of each sample by feature masking, a projection head, and an
//! InfoNCE loss between the views with in-batch negatives and a temperature.
//!
//! Masking: `random` drops each present field with probability `mask_rate` independently per view;
//! `correlated` (the paper's CFM, with the schema's field groups standing in for its mutual-
//! information clusters) drops one random group's fields in view 1 and the remaining fields in
//! view 2, so the views are complementary. Both views go through `h` with the clean batch (one
//! stacked pass). Loss `L_main + w_ssl · InfoNCE`; serving is the plain `f(h(x))`.

use super::{Enhance, EnhancerKind, NoisePlan};
use crate::base::Base;
use crate::base::mlp::{relu_stack, run_stack};
use crate::ctr::{Losses, TrainInputs};
use crate::losses::{bce_with_logits, info_nce};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Masking {
    Random,
    Correlated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SslConfig {
    pub masking: Masking,
    pub mask_rate: f64,
    pub temperature: f64,
    pub projection: Vec<usize>,
    pub ssl_weight: f32,
}

impl Default for SslConfig {
    fn default() -> Self {
        Self { masking: Masking::Random, mask_rate: 0.3, temperature: 0.1, projection: vec![128, 64], ssl_weight: 0.1 }
    }
}

#[derive(Module, Debug)]
pub struct Projector {
    layers: Vec<Linear>,
    out: Linear,
    #[module(skip)]
    cfg: SslConfig,
}

impl SslConfig {
    pub fn init(&self, latent_dim: usize, device: &Device) -> Projector {
        let (hidden, last) = self.projection.split_last().map_or((&[][..], latent_dim), |(l, h)| (h, *l));
        let (layers, width) = relu_stack(latent_dim, hidden, device);
        Projector { layers, out: LinearConfig::new(width, last).init(device), cfg: self.clone() }
    }
}

impl Projector {
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        self.out.forward(run_stack(&self.layers, z))
    }
}

impl EnhancerKind for SslConfig {
    type Module = Projector;

    fn build(&self, _fields: usize, _dim: usize, latent: usize, device: &Device) -> Projector {
        self.init(latent, device)
    }
}

impl Enhance for Projector {
    fn noise_plan(&self) -> NoisePlan {
        NoisePlan::TwoViews { p: self.cfg.mask_rate, correlated: self.cfg.masking == Masking::Correlated }
    }

    /// InfoNCE between the projections of the two masked views `z[1]`, `z[2]`.
    fn losses(&self, base: &Base, z: &[Tensor<2>], inp: &TrainInputs<'_>) -> Losses {
        let main = bce_with_logits(base.f(z[0].clone()), inp.y.clone());
        let ssl = info_nce(self.forward(z[1].clone()), self.forward(z[2].clone()), self.cfg.temperature);
        let total = main.clone() + ssl.clone() * self.cfg.ssl_weight;
        Losses { total, main, extra: vec![("ssl", ssl)] }
    }

    fn serve(&self, z: Tensor<2>, _s: Tensor<2>) -> Tensor<2> {
        z
    }
}
