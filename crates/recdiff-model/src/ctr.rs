//! The CTR model: a DCN-V2 base with an optional AsymDiffRec enhancer, its training losses and its
//! serving score.

use crate::asymdiffrec::{AsymDenoiser, AsymDiffRecConfig};
use crate::dcn::{DcnV2, DcnV2Config};
use burn::module::Module;
use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CtrModelConfig {
    #[serde(default)]
    pub dcn: DcnV2Config,
    /// Absent: the plain base. Present: base + AsymDiffRec.
    #[serde(default)]
    pub asymdiffrec: Option<AsymDiffRecConfig>,
}

#[derive(Module, Debug)]
pub struct CtrModel {
    pub base: DcnV2,
    pub denoiser: Option<AsymDenoiser>,
}

/// Training losses of one batch (scalars, already weighted in `total`).
pub struct Losses {
    pub total: Tensor<1>,
    pub main: Tensor<1>,
    pub recon: Option<Tensor<1>>,
    pub aux: Option<Tensor<1>>,
}

impl CtrModelConfig {
    /// A model over `fields` embedded fields of `dim` each, its weights drawn from `seed`.
    pub fn init(&self, fields: usize, dim: usize, seed: u64, device: &Device) -> CtrModel {
        let base = self.dcn.init(fields * dim, device);
        let denoiser = self.asymdiffrec.as_ref().map(|a| a.init(fields, base.latent_dim, device));
        crate::init::seeded_init(CtrModel { base, denoiser }, seed)
    }
}

/// Mean binary cross-entropy of `logits` against 0/1 float `targets`, numerically stable.
pub fn bce_with_logits(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let pos = log_sigmoid(logits.clone());
    let neg = log_sigmoid(logits.neg());
    (targets.clone() * pos + (targets.neg() + 1.0) * neg).neg().mean()
}

impl CtrModel {
    /// Serving logits `[B, 1]`: `f(h(x))`, or `f(g([s, h(x)]))` with AsymDiffRec.
    pub fn logits(&self, x: Tensor<2>, s: Tensor<2>) -> Tensor<2> {
        let z = self.base.h(x);
        match &self.denoiser {
            Some(g) => self.base.f(g.forward(s, z)),
            None => self.base.f(z),
        }
    }

    /// Base training loss on `x` (`[B, F*D]`) and targets `[B, 1]`.
    pub fn base_losses(&self, x: Tensor<2>, y: Tensor<2>) -> Losses {
        let main = bce_with_logits(self.base.f(self.base.h(x)), y);
        Losses { total: main.clone(), main, recon: None, aux: None }
    }

    /// AsymDiffRec training losses. `x` stacks the clean batch over its feature-dropped copy
    /// (`[2B, F*D]`, one pass of `h` over both), `s_noisy` is the noisy copy's mask `[B, F]`.
    pub fn asym_losses(&self, x: Tensor<2>, s_noisy: Tensor<2>, y: Tensor<2>, cfg: &AsymDiffRecConfig) -> Losses {
        let Some(g) = &self.denoiser else {
            return self.base_losses(x, y);
        };
        let b = y.dims()[0];
        let z = self.base.h(x);
        let z0 = z.clone().narrow(0, 0, b);
        let zt = z.narrow(0, b, b);
        let main = bce_with_logits(self.base.f(z0.clone()), y.clone());
        let z0p = g.forward(s_noisy, zt);
        let target = if cfg.stop_gradient { z0.detach() } else { z0 };
        let recon = (z0p.clone() - target).powi_scalar(2).mean();
        let aux = bce_with_logits(self.base.f(z0p), y);
        let total = main.clone() * cfg.main_weight + recon.clone() * cfg.recon_weight + aux.clone() * cfg.aux_weight;
        Losses { total, main, recon: Some(recon), aux: Some(aux) }
    }
}
