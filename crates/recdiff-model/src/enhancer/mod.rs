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
//! Each enhancer is one file: its config (`[model.enhancer] kind = …`) with [`EnhancerKind`], its
//! module, and its [`Enhance`] impl (noise, losses, serving transform); plus one line in the
//! registry (`enhancers!` below), from which [`EnhancerConfig`], [`Enhancer`] and [`KINDS`] come.

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

/// An enhancer's config, implemented in its file: what `enhancers!` needs to build the config
/// and module enums, [`KINDS`] and their dispatch.
pub trait EnhancerKind {
    /// The module this config builds.
    type Module: Enhance;
    /// The enhancer's part of the model's label (`dcnv2+<label>`): its `kind` unless overridden.
    fn label(&self, kind: &'static str) -> &'static str {
        kind
    }
    /// The module for `fields` embedded fields of `dim` each and a base latent width `latent`.
    fn build(&self, fields: usize, dim: usize, latent: usize, device: &Device) -> Self::Module;
}

/// The registry of enhancers: one line per enhancer, `Variant("kind"): Config => Module`. It
/// defines [`EnhancerConfig`] (`[model.enhancer] kind = "…"`; `none`, the default, is the bare
/// base), [`Enhancer`] (burn names checkpoint tensors by the variant), [`KINDS`] and the dispatch.
macro_rules! enhancers {
    ($($variant:ident($kind:literal): $config:ty => $module:ty,)+) => {
        /// The `[model.enhancer] kind`s, `none` first.
        pub const KINDS: [&str; 1 + [$($kind),+].len()] = ["none", $($kind),+];

        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
        #[serde(tag = "kind")]
        pub enum EnhancerConfig {
            #[default]
            #[serde(rename = "none")]
            None,
            $(#[serde(rename = $kind)] $variant($config),)+
        }

        /// The enhancer's networks: one arm per enhancer file.
        #[derive(Module, Debug)]
        pub enum Enhancer {
            None(plain::Plain),
            $($variant($module),)+
        }

        impl EnhancerConfig {
            /// The enhancer's part of the model's label: its kind, or the ablation it is.
            pub fn name(&self) -> &'static str {
                match self {
                    EnhancerConfig::None => "none",
                    $(EnhancerConfig::$variant(c) => c.label($kind),)+
                }
            }

            /// The enhancer's module for `fields` embedded fields of `dim` each and a base latent width.
            pub fn init(&self, fields: usize, dim: usize, latent: usize, device: &Device) -> Enhancer {
                match self {
                    EnhancerConfig::None => Enhancer::None(plain::Plain::default()),
                    $(EnhancerConfig::$variant(c) => Enhancer::$variant(c.build(fields, dim, latent, device)),)+
                }
            }
        }

        impl Enhancer {
            /// The enhancer behind its [`Enhance`] interface.
            pub fn get(&self) -> &dyn Enhance {
                match self {
                    Enhancer::None(e) => e,
                    $(Enhancer::$variant(e) => e,)+
                }
            }
        }
    };
}

enhancers! {
    AsymDiffRec("asymdiffrec"): asymdiffrec::AsymDiffRecConfig => asymdiffrec::AsymDenoiser,
    Cdae("cdae"): cdae::CdaeConfig => cdae::CdaeDecoder,
    MultiVae("multivae"): multivae::MultiVaeConfig => multivae::VaeHead,
    Ssl("ssl"): ssl::SslConfig => ssl::Projector,
    DiffRec("diffrec"): diffrec::DiffRecConfig => diffrec::DiffRecDenoiser,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_enhancer_parses_to_its_variant_and_names_itself() {
        for kind in KINDS {
            let cfg: EnhancerConfig = serde_json::from_str(&format!("{{\"kind\": \"{kind}\"}}")).unwrap();
            assert_eq!(cfg.name(), kind);
            assert!(serde_json::to_string(&cfg).unwrap().starts_with(&format!("{{\"kind\":\"{kind}\"")));
        }
        let ablation: EnhancerConfig = serde_json::from_str(r#"{"kind": "asymdiffrec", "aux_weight": 0.0}"#).unwrap();
        assert_eq!(ablation.name(), "asymdiffrec-wo-aux");
        let e = serde_json::from_str::<EnhancerConfig>(r#"{"kind": "dae"}"#).unwrap_err().to_string();
        assert!(e.contains("dae") && e.contains("asymdiffrec"), "{e}");
    }
}
