//! CDAE-style denoising autoencoder (after Wu et al., "Collaborative Denoising Auto-Encoders",
//! WSDM 2016), as an enhancer on the base's input embeddings.
//!
//! Choices where a CTR setting leaves room: the corruption is *field* dropout (each present field
//! dropped with probability `corruption`, the dropped copy stacked under the clean batch and sent
//! through the same `h`); a ReLU MLP decoder maps the corrupted latent back to the embedded input
//! `[B, F*D]`; the reconstruction loss is the squared error over the clean sample's *present*
//! fields only (missing fields have no target), against the clean embeddings with stop-gradient.
//! Loss `L_main + w_recon · L_recon`; serving is the plain `f(h(x))`.

use super::{Enhance, EnhancerKind, NoisePlan};
use crate::base::Base;
use crate::base::mlp::{relu_stack, run_stack};
use crate::ctr::{Losses, TrainInputs};
use crate::losses::{bce_with_logits, masked_mse};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CdaeConfig {
    /// Probability of dropping each present field.
    pub corruption: f64,
    pub hidden: Vec<usize>,
    pub recon_weight: f32,
}

impl Default for CdaeConfig {
    fn default() -> Self {
        Self { corruption: 0.2, hidden: vec![256], recon_weight: 1.0 }
    }
}

#[derive(Module, Debug)]
pub struct CdaeDecoder {
    hidden: Vec<Linear>,
    out: Linear,
    /// Embedded fields and their width (the reconstruction target is `[B, fields * dim]`).
    fields: usize,
    dim: usize,
    #[module(skip)]
    cfg: CdaeConfig,
}

impl CdaeConfig {
    /// A decoder from the base's latent to `fields` embeddings of width `dim`.
    pub fn init(&self, latent_dim: usize, fields: usize, dim: usize, device: &Device) -> CdaeDecoder {
        let (hidden, width) = relu_stack(latent_dim, &self.hidden, device);
        let out = LinearConfig::new(width, fields * dim).init(device);
        CdaeDecoder { hidden, out, fields, dim, cfg: self.clone() }
    }
}

impl CdaeDecoder {
    /// `[B, latent]` -> reconstructed embeddings `[B, F*D]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        self.out.forward(run_stack(&self.hidden, z))
    }
}

impl EnhancerKind for CdaeConfig {
    type Module = CdaeDecoder;

    fn build(&self, fields: usize, dim: usize, latent: usize, device: &Device) -> CdaeDecoder {
        self.init(latent, fields, dim, device)
    }
}

impl Enhance for CdaeDecoder {
    fn noise_plan(&self) -> NoisePlan {
        NoisePlan::BernoulliDrop { p: self.cfg.corruption }
    }

    /// Reconstructs the clean rows' present-field embeddings (stop-gradient) from `z[1]`, the
    /// latent of the field-dropped copy.
    fn losses(&self, base: &Base, z: &[Tensor<2>], inp: &TrainInputs<'_>) -> Losses {
        let b = inp.y.dims()[0];
        let main = bce_with_logits(base.f(z[0].clone()), inp.y.clone());
        let clean = inp.x.clone().narrow(0, 0, b).detach();
        let present = (inp.clean_mask.clone().neg() + 1.0).reshape([b, self.fields, 1]).repeat_dim(2, self.dim);
        let recon = masked_mse(self.forward(z[1].clone()), clean, present.reshape([b, self.fields * self.dim]));
        let total = main.clone() + recon.clone() * self.cfg.recon_weight;
        Losses { total, main, extra: vec![("recon", recon)] }
    }

    fn serve(&self, z: Tensor<2>, _s: Tensor<2>) -> Tensor<2> {
        z
    }
}
