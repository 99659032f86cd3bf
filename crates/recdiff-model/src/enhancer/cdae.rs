//! CDAE-style denoising autoencoder (after Wu et al., "Collaborative Denoising Auto-Encoders",
//! WSDM 2016), as an enhancer on the base's input embeddings.
//!
//! Choices where a CTR setting leaves room: the corruption is *field* dropout (each present field
//! dropped with probability `corruption`, the dropped copy stacked under the clean batch and sent
//! through the same `h`); a ReLU MLP decoder maps the corrupted latent back to the embedded input
//! `[B, F*D]`; the reconstruction loss is the squared error over the clean sample's *present*
//! fields only (missing fields have no target), against the clean embeddings with stop-gradient.
//! Loss `L_main + w_recon · L_recon`; serving is the plain `f(h(x))`.

use crate::base::mlp::{relu_stack, run_stack};
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
}

impl CdaeConfig {
    pub fn init(&self, latent_dim: usize, input_width: usize, device: &Device) -> CdaeDecoder {
        let (hidden, width) = relu_stack(latent_dim, &self.hidden, device);
        CdaeDecoder { hidden, out: LinearConfig::new(width, input_width).init(device) }
    }
}

impl CdaeDecoder {
    /// `[B, latent]` -> reconstructed embeddings `[B, F*D]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        self.out.forward(run_stack(&self.hidden, z))
    }
}
