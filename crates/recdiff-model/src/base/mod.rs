//! Base ranking models, each split into a feature extractor `h` (embedded input -> latent `z`) and
//! a head `f` (`z` -> logit) so that any enhancer can work on `z`.

pub mod dcn;
pub mod deepfm;
pub mod mlp;

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Int, Tensor};
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
        match self {
            BaseConfig::DcnV2(c) => Base::DcnV2(c.init(fields * dim, device)),
            BaseConfig::DeepFm(c) => Base::DeepFm(c.init(fields, dim, device)),
            BaseConfig::Mlp(c) => Base::Mlp(c.init(fields * dim, device)),
        }
    }
}

/// The part of a batch's input that is the same in every row (one user and context scored
/// against many candidates), so the first layers' products with it are computed once.
pub struct SharedInput {
    /// `[1, F*D]`: the shared fields' embeddings, zeros in the per-row columns.
    pub row: Tensor<2>,
    /// Indices of the per-row input columns, `[k]`, `k > 0`.
    pub own: Tensor<1, Int>,
}

/// `x W + b` where every row of `x` equals `shared.row` outside the `shared.own` columns:
/// `x[:, own] W[own, :] + (shared.row W + b)`, the second term once for the whole batch.
pub fn linear_shared(layer: &Linear, x: &Tensor<2>, shared: &SharedInput) -> Tensor<2> {
    let w = layer.weight.val();
    let mut constant = shared.row.clone().matmul(w.clone());
    if let Some(b) = &layer.bias {
        constant = constant + b.val().unsqueeze::<2>();
    }
    let own = x.clone().select(1, shared.own.clone()).matmul(w.select(0, shared.own.clone()));
    own + constant
}

/// The base ranker: one arm per base file.
#[derive(Module, Debug)]
pub enum Base {
    DcnV2(dcn::DcnV2),
    DeepFm(deepfm::DeepFm),
    Mlp(mlp::Mlp),
}

/// Checkpoint key rewrites (regex, replacement) for CTR runs saved while the base, DCN-V2's cross
/// layers and the enhancer were structs of `Option`s (`base.dcn.cross.0.full.weight`,
/// `enhancer.asym.layers.0.weight`).
pub const LEGACY_KEYS: [(&str, &str); 10] = [
    (r"^base\.dcn\.", "base.DcnV2."),
    (r"^base\.deepfm\.", "base.DeepFm."),
    (r"^base\.mlp\.", "base.Mlp."),
    (r"\.cross\.(\d+)\.full\.", ".cross.$1.Full."),
    (r"\.cross\.(\d+)\.(down|up|gate)\.", ".cross.$1.Mixture.$2."),
    (r"^enhancer\.asym\.", "enhancer.AsymDiffRec."),
    (r"^enhancer\.cdae\.", "enhancer.Cdae."),
    (r"^enhancer\.vae\.", "enhancer.MultiVae."),
    (r"^enhancer\.ssl\.", "enhancer.Ssl."),
    (r"^enhancer\.diffrec\.", "enhancer.DiffRec."),
];

impl Base {
    /// `[B, F*D]` -> `[B, latent_dim]`.
    pub fn h(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Base::DcnV2(m) => m.h(x),
            Base::DeepFm(m) => m.h(x),
            Base::Mlp(m) => m.h(x),
        }
    }

    /// [`Base::h`] with the first layers' shared part computed once (DCN-V2; the others run `h`).
    pub fn h_shared(&self, x: Tensor<2>, shared: &SharedInput) -> Tensor<2> {
        match self {
            Base::DcnV2(m) => m.h_shared(x, shared),
            other => other.h(x),
        }
    }

    /// `[B, latent_dim]` -> logits `[B, 1]`.
    pub fn f(&self, z: Tensor<2>) -> Tensor<2> {
        match self {
            Base::DcnV2(m) => m.f(z),
            Base::DeepFm(m) => m.f(z),
            Base::Mlp(m) => m.f(z),
        }
    }
}
