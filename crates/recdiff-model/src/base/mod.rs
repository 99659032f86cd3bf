//! Base ranking models, each split into a feature extractor `h` (embedded input -> latent `z`) and
//! a head `f` (`z` -> logit) so that any enhancer can work on `z`.

pub mod dcn;
pub mod deepfm;
pub mod mlp;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BaseConfig {
    #[serde(rename = "dcnv2")]
    DcnV2(dcn::DcnV2Config),
    #[serde(rename = "deepfm")]
    DeepFm(deepfm::DeepFmConfig),
    Mlp(mlp::MlpConfig),
}

impl Default for BaseConfig {
    fn default() -> Self {
        BaseConfig::DcnV2(dcn::DcnV2Config::default())
    }
}

impl BaseConfig {
    pub fn name(&self) -> &'static str {
        match self {
            BaseConfig::DcnV2(_) => "dcnv2",
            BaseConfig::DeepFm(_) => "deepfm",
            BaseConfig::Mlp(_) => "mlp",
        }
    }

    pub fn latent_dim(&self) -> usize {
        match self {
            BaseConfig::DcnV2(c) => c.latent_dim,
            BaseConfig::DeepFm(c) => c.latent_dim,
            BaseConfig::Mlp(c) => c.latent_dim,
        }
    }

    pub fn init(&self, fields: usize, dim: usize, device: &Device) -> Base {
        let mut base = Base { dcn: None, deepfm: None, mlp: None, latent_dim: self.latent_dim() };
        match self {
            BaseConfig::DcnV2(c) => base.dcn = Some(c.init(fields * dim, device)),
            BaseConfig::DeepFm(c) => base.deepfm = Some(c.init(fields, dim, device)),
            BaseConfig::Mlp(c) => base.mlp = Some(c.init(fields * dim, device)),
        }
        base
    }
}

/// Exactly one of the variants is present.
#[derive(Module, Debug)]
pub struct Base {
    dcn: Option<dcn::DcnV2>,
    deepfm: Option<deepfm::DeepFm>,
    mlp: Option<mlp::Mlp>,
    pub latent_dim: usize,
}

impl Base {
    /// `[B, F*D]` -> `[B, latent_dim]`.
    pub fn h(&self, x: Tensor<2>) -> Tensor<2> {
        match (&self.dcn, &self.deepfm, &self.mlp) {
            (Some(m), _, _) => m.h(x),
            (_, Some(m), _) => m.h(x),
            (_, _, Some(m)) => m.h(x),
            _ => x,
        }
    }

    /// `[B, latent_dim]` -> logits `[B, 1]`.
    pub fn f(&self, z: Tensor<2>) -> Tensor<2> {
        match (&self.dcn, &self.deepfm, &self.mlp) {
            (Some(m), _, _) => m.f(z),
            (_, Some(m), _) => m.f(z),
            (_, _, Some(m)) => m.f(z),
            _ => z,
        }
    }
}
