//! CDAE (Wu et al., "Collaborative Denoising Auto-Encoders for Top-N Recommender Systems", WSDM
//! 2016) as a top-K recommender.
//!
//! * Corruption: each input entry dropped with probability `q` (`dropout`), survivors scaled by
//!   `1 / (1 - q)` (the paper's unbiased mask-out noise); none at scoring.
//! * Hidden `h = sigmoid(W x~ + V_u + b)`, `hidden` units (the paper's K, 50 there), with a learned
//!   vector `V_u` per user: the "user node".
//! * Output `y = sigmoid(W' h + b')`; loss: binary cross-entropy over every item, summed over items
//!   and averaged over the batch. The paper also allows square loss and negative sampling of the
//!   zeros; we take its logistic loss over all items, which a batch's dense `[B, n]` holds anyway.
//! * L2 regularisation is the optimiser's weight decay (`[train] weight_decay`).
//!
//! The user node is a burn `Embedding` (`[n_users, hidden]`): dense gradients, fine at MovieLens
//! scale; at a million users it should move to the sparse tables of `recdiff-embed`.
//!
//! Shapes: `x` `[B, n]`, users `[B]`, logits `[B, n]`.

use super::{Shape, StepContext, TopKKind, TopKModel, TopKNet, probability};
use crate::dropout::Dropout;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Int, Tensor};
use rand::RngCore;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CdaeConfig {
    pub hidden: usize,
    pub dropout: f64,
}

impl Default for CdaeConfig {
    fn default() -> Self {
        Self { hidden: 200, dropout: 0.5 }
    }
}

impl CdaeConfig {
    pub fn init(&self, n_users: usize, n_items: usize, device: &Device) -> Cdae {
        Cdae {
            enc: LinearConfig::new(n_items, self.hidden).init(device),
            users: EmbeddingConfig::new(n_users.max(1), self.hidden).init(device),
            dec: LinearConfig::new(self.hidden, n_items).init(device),
            dropout: Dropout::new(self.dropout),
        }
    }
}

#[derive(Module, Debug)]
pub struct Cdae {
    enc: Linear,
    users: Embedding,
    dec: Linear,
    dropout: Dropout,
}

impl Cdae {
    /// Output logits `[B, n]` of the (corrupted, in training) input.
    pub fn logits(&self, x: Tensor<2>, users: Tensor<1, Int>) -> Tensor<2> {
        let b = users.dims()[0];
        let node = self.users.forward(users.reshape([1, b])).squeeze_dim::<2>(0);
        let h = sigmoid(self.enc.forward(self.dropout.forward(x)) + node);
        self.dec.forward(h)
    }

    /// Binary cross-entropy over every item, summed over items, averaged over the batch.
    pub fn loss(&self, x: Tensor<2>, users: Tensor<1, Int>) -> Tensor<1> {
        let b = x.dims()[0] as f64;
        let logits = self.logits(x.clone(), users);
        let pos = burn::tensor::activation::log_sigmoid(logits.clone());
        let neg = burn::tensor::activation::log_sigmoid(logits.neg());
        (x.clone() * pos + (x.neg() + 1.0) * neg).sum().neg() / b
    }
}

impl TopKKind for CdaeConfig {
    fn check(&self) -> Result<(), String> {
        if self.hidden == 0 {
            return Err("hidden = 0: must be positive".into());
        }
        probability("dropout", self.dropout)
    }

    /// One user node per user of the training matrix.
    fn build(&self, shape: &Shape<'_>, seed: u64, device: &Device) -> Result<TopKModel, String> {
        Ok(TopKModel::Cdae(crate::init::build_seeded(seed, || self.init(shape.users, shape.items, device))))
    }
}

impl TopKNet for Cdae {
    fn loss(&self, x: Tensor<2>, users: Tensor<1, Int>, _ctx: &mut StepContext<'_>) -> Tensor<1> {
        Cdae::loss(self, x, users)
    }

    fn scores(&self, x: Tensor<2>, users: Tensor<1, Int>, _rng: &mut dyn RngCore) -> Tensor<2> {
        self.logits(x, users)
    }
}
