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

pub mod asymdiffrec;
pub mod cdae;
pub mod diffrec;
pub mod multivae;
pub mod ssl;

use burn::module::Module;
use burn::tensor::Device;
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

impl EnhancerConfig {
    pub fn name(&self) -> &'static str {
        match self {
            EnhancerConfig::None => "none",
            EnhancerConfig::AsymDiffRec(a) if a.recon_weight == 0.0 => "asymdiffrec-wo-recon",
            EnhancerConfig::AsymDiffRec(a) if a.aux_weight == 0.0 => "asymdiffrec-wo-aux",
            EnhancerConfig::AsymDiffRec(_) => "asymdiffrec",
            EnhancerConfig::Cdae(_) => "cdae",
            EnhancerConfig::MultiVae(_) => "multivae",
            EnhancerConfig::Ssl(_) => "ssl",
            EnhancerConfig::DiffRec(_) => "diffrec",
        }
    }

    pub fn noise_plan(&self) -> NoisePlan {
        match self {
            EnhancerConfig::AsymDiffRec(a) => NoisePlan::UniformDrop { max_fraction: a.max_drop_fraction },
            EnhancerConfig::Cdae(c) => NoisePlan::BernoulliDrop { p: c.corruption },
            EnhancerConfig::Ssl(s) => {
                NoisePlan::TwoViews { p: s.mask_rate, correlated: s.masking == ssl::Masking::Correlated }
            }
            _ => NoisePlan::None,
        }
    }

    /// Whether training draws standard-normal latent noise (and diffusion steps).
    pub fn latent_noise(&self) -> bool {
        matches!(self, EnhancerConfig::MultiVae(_) | EnhancerConfig::DiffRec(_))
    }

    pub fn init(&self, fields: usize, dim: usize, latent: usize, device: &Device) -> Enhancer {
        let mut e = Enhancer { asym: None, cdae: None, vae: None, ssl: None, diffrec: None };
        match self {
            EnhancerConfig::None => {}
            EnhancerConfig::AsymDiffRec(c) => e.asym = Some(c.init(fields, latent, device)),
            EnhancerConfig::Cdae(c) => e.cdae = Some(c.init(latent, fields * dim, device)),
            EnhancerConfig::MultiVae(c) => e.vae = Some(c.init(latent, device)),
            EnhancerConfig::Ssl(c) => e.ssl = Some(c.init(latent, device)),
            EnhancerConfig::DiffRec(c) => e.diffrec = Some(c.init(latent, device)),
        }
        e
    }
}

/// The enhancer's own networks; the one matching the config is present.
#[derive(Module, Debug)]
pub struct Enhancer {
    pub asym: Option<asymdiffrec::AsymDenoiser>,
    pub cdae: Option<cdae::CdaeDecoder>,
    pub vae: Option<multivae::VaeHead>,
    pub ssl: Option<ssl::Projector>,
    pub diffrec: Option<diffrec::DiffRecDenoiser>,
}
