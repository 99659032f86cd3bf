//! Enhancers: add training losses around a base's `h`/`f` and may transform `z` at serving.
//!
//! | enhancer | extra copies `h` sees | serving |
//! |---|---|---|
//! | none | — | `f(h(x))` |
//! | AsymDiffRec | feature-dropped copy (`T ~ U{0..N}`) | `f(g([s, h(x)]))` |
//! | CDAE | field-dropout copy | `f(h(x))` |
//! | MultiVAE | — (latent noise) | `f(mu(h(x)))` |
//! | SSL | two masked views | `f(h(x))` |
//! | DiffRec | — (latent Gaussian noise) | `f(d(z, 1))` |
//!
//! Each enhancer is one file: its config (`[model.enhancer] kind = …`), its module, and its
//! [`Enhance`] impl (noise, losses, serving transform). [`EnhancerConfig`] and [`Enhancer`] have one
//! arm per file.

pub mod asymdiffrec;
pub mod cdae;
pub mod diffrec;
pub mod multivae;
pub mod plain;
pub mod ssl;

use crate::base::Base;
use crate::ctr::{Losses, TrainInputs};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rand::RngCore;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EnhancerConfig {
    #[default]
    None,
    #[serde(rename = "asymdiffrec")]
    AsymDiffRec(asymdiffrec::AsymDiffRecConfig),
    Cdae(cdae::CdaeConfig),
    #[serde(rename = "multivae")]
    MultiVae(multivae::MultiVaeConfig),
    Ssl(ssl::SslConfig),
    #[serde(rename = "diffrec")]
    DiffRec(diffrec::DiffRecConfig),
}

/// Which corrupted copies of the batch the enhancer needs stacked under the clean rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoisePlan {
    None,
    /// One copy; per sample `T ~ U{0..N}` present fields dropped (AsymDiffRec).
    UniformDrop {
        max_fraction: f64,
    },
    /// One copy; each present field dropped with probability `p` (CDAE).
    BernoulliDrop {
        p: f64,
    },
    /// Two copies (SSL views): random masks at rate `p`, or complementary group masks.
    TwoViews {
        p: f64,
        correlated: bool,
    },
}

impl NoisePlan {
    /// Corrupted copies this plan stacks under the clean rows.
    pub fn copies(self) -> usize {
        match self {
            NoisePlan::None => 0,
            NoisePlan::UniformDrop { .. } | NoisePlan::BernoulliDrop { .. } => 1,
            NoisePlan::TwoViews { .. } => 2,
        }
    }
}

/// Latent noise an enhancer draws per batch from the experiment's seeded RNG.
pub struct LatentNoise {
    /// Standard-normal `[B * latent]`, row-major.
    pub eps: Vec<f32>,
    /// Diffusion steps per sample, 1-based (empty when the enhancer has none).
    pub t: Vec<usize>,
}

/// What an enhancer does, implemented in its own file.
pub trait Enhance {
    /// The corrupted copies of the batch it trains on.
    fn noise_plan(&self) -> NoisePlan;
    /// Latent noise for a batch of `batch` samples with latent width `latent`; `None` when the
    /// enhancer draws none.
    fn latent_noise(&self, _batch: usize, _latent: usize, _rng: &mut dyn RngCore) -> Option<LatentNoise> {
        None
    }
    /// The weighted training loss. `z[0]` is `h` of the clean rows, `z[1..]` of each corrupted copy
    /// (as many as [`Enhance::noise_plan`] asks for).
    fn losses(&self, base: &Base, z: &[Tensor<2>], inp: &TrainInputs<'_>) -> Losses;
    /// The serving transform of `z` (`[B, latent]`) given the missing mask `s` (`[B, F]`).
    fn serve(&self, z: Tensor<2>, s: Tensor<2>) -> Tensor<2>;
}

impl EnhancerConfig {
    pub fn name(&self) -> &'static str {
        match self {
            EnhancerConfig::None => "none",
            EnhancerConfig::AsymDiffRec(a) => a.name(),
            EnhancerConfig::Cdae(_) => "cdae",
            EnhancerConfig::MultiVae(_) => "multivae",
            EnhancerConfig::Ssl(_) => "ssl",
            EnhancerConfig::DiffRec(_) => "diffrec",
        }
    }

    /// The enhancer's module for `fields` embedded fields of `dim` each and a base latent width.
    pub fn init(&self, fields: usize, dim: usize, latent: usize, device: &Device) -> Enhancer {
        match self {
            EnhancerConfig::None => Enhancer::None(plain::Plain::default()),
            EnhancerConfig::AsymDiffRec(c) => Enhancer::AsymDiffRec(c.init(fields, latent, device)),
            EnhancerConfig::Cdae(c) => Enhancer::Cdae(c.init(latent, fields, dim, device)),
            EnhancerConfig::MultiVae(c) => Enhancer::MultiVae(c.init(latent, device)),
            EnhancerConfig::Ssl(c) => Enhancer::Ssl(c.init(latent, device)),
            EnhancerConfig::DiffRec(c) => Enhancer::DiffRec(c.init(latent, device)),
        }
    }
}

/// The enhancer's networks: one arm per enhancer file.
#[derive(Module, Debug)]
pub enum Enhancer {
    None(plain::Plain),
    AsymDiffRec(asymdiffrec::AsymDenoiser),
    Cdae(cdae::CdaeDecoder),
    MultiVae(multivae::VaeHead),
    Ssl(ssl::Projector),
    DiffRec(diffrec::DiffRecDenoiser),
}

impl Enhancer {
    /// The enhancer behind its [`Enhance`] interface.
    pub fn get(&self) -> &dyn Enhance {
        match self {
            Enhancer::None(e) => e,
            Enhancer::AsymDiffRec(e) => e,
            Enhancer::Cdae(e) => e,
            Enhancer::MultiVae(e) => e,
            Enhancer::Ssl(e) => e,
            Enhancer::DiffRec(e) => e,
        }
    }
}
