//! AsymDiffRec (Zhu et al., "Asymmetric Diffusion Recommendation Model", CIKM 2025) as an enhancer
//! of any base exposing `h` and `f`.
//!
//! * Forward process: feature dropout in raw feature space ([`crate::diffusion::feature_dropout`]).
//! * Reverse process, asymmetric, in latent space: `z0' = g([s, h(x_T)])`, `g` a ReLU MLP (two
//!   layers by default), `s` the 0/1 missing mask of the noisy sample.
//! * Loss `w_main·BCE(f(h(x0)), y) + w_recon·||z0' - z0||² + w_aux·BCE(f(z0'), y)`. The recon term is
//!   the per-dimension mean of the squared error (`||·||² / latent_dim`), so its weight does not
//!   depend on the latent width.
//! * `stop_gradient` (default true) detaches the target `z0`: the reconstruction then teaches `g` to
//!   map noisy latents onto clean ones without also pulling the clean latents towards the noisy
//!   reconstructions, which would let `h` shrink both sides (a collapse the main loss alone must
//!   then resist). The paper does not say; the ablation is one switch away.
//! * Serving: `f(g([s, h(x)]))` with `s` the sample's real missing mask, also for complete samples.
//! * Ablations: `recon_weight = 0` (without L_recon) and `aux_weight = 0` (without L_aux).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AsymDiffRecConfig {
    /// Hidden width of `g`.
    pub hidden: usize,
    /// Linear layers in `g` (at least 1).
    pub layers: usize,
    pub main_weight: f32,
    pub recon_weight: f32,
    pub aux_weight: f32,
    pub stop_gradient: bool,
    /// At most this share of a sample's present fields is dropped.
    pub max_drop_fraction: f64,
}

impl Default for AsymDiffRecConfig {
    fn default() -> Self {
        Self {
            hidden: 256,
            layers: 2,
            main_weight: 1.0,
            recon_weight: 1.0,
            aux_weight: 1.0,
            stop_gradient: true,
            max_drop_fraction: 1.0,
        }
    }
}

/// The reverse-process network `g([s, z])`.
#[derive(Module, Debug)]
pub struct AsymDenoiser {
    layers: Vec<Linear>,
}

impl AsymDiffRecConfig {
    pub fn init(&self, fields: usize, latent_dim: usize, device: &Device) -> AsymDenoiser {
        let mut widths = vec![fields + latent_dim];
        widths.extend(std::iter::repeat_n(self.hidden, self.layers.max(1) - 1));
        widths.push(latent_dim);
        let layers = widths.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect();
        AsymDenoiser { layers }
    }
}

impl AsymDenoiser {
    /// `s`: `[B, fields]` 0/1 mask; `z`: `[B, latent]` -> `z0'`: `[B, latent]`.
    pub fn forward(&self, s: Tensor<2>, z: Tensor<2>) -> Tensor<2> {
        let mut x = Tensor::cat(vec![s, z], 1);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }
}
