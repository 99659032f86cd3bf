//! T-DiffRec (Wang et al. 2023, sec. 3.5): DiffRec on interaction vectors reweighted by recency,
//! `w = w_min + (w_max - w_min) * r` for a training item of recency rank `r` in `[0, 1]` (0 the
//! user's oldest training interaction, 1 the newest), instead of 1. The network is DiffRec's
//! (its checkpoint tensors are named `Diffrec.…`); only the input differs.

use super::diffrec::DiffRecConfig;
use super::{Shape, TopKKind, TopKModel};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TDiffRecConfig {
    pub w_min: f64,
    pub w_max: f64,
    pub diffusion: DiffRecConfig,
}

impl Default for TDiffRecConfig {
    fn default() -> Self {
        Self { w_min: 0.1, w_max: 1.0, diffusion: DiffRecConfig::default() }
    }
}

impl TopKKind for TDiffRecConfig {
    fn check(&self) -> Result<(), String> {
        if !(self.w_min > 0.0 && self.w_min <= self.w_max) {
            return Err(format!("w_min = {}, w_max = {}: need 0 < w_min <= w_max", self.w_min, self.w_max));
        }
        self.diffusion.validate().map_err(|e| format!("diffusion.{e}"))
    }

    fn recency(&self) -> Option<(f32, f32)> {
        Some((self.w_min as f32, self.w_max as f32))
    }

    fn diffusion(&self) -> Option<&DiffRecConfig> {
        Some(&self.diffusion)
    }

    fn build(&self, shape: &Shape<'_>, seed: u64, device: &Device) -> Result<TopKModel, String> {
        self.diffusion.build(shape, seed, device)
    }
}
