//! SASRec (Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018): item and learned
//! positional embeddings, a causal Transformer encoder (pre-norm, ReLU feed-forward, dropout), a
//! final layer norm; position `i`'s state scores every item by inner product with the (shared)
//! item embedding table. Also the history encoder of DreamRec and the item table of DimeRec.
//! The encoder's parameters are burn's `TransformerEncoder`; its forward is [`super::encoder`]'s
//! (burn's operations, recdiff's one-pass dropout: the same masks and values bit for bit).
//!
//! Shapes: histories `[B, L]` item ids (0 = padding, left-padded) -> states `[B, L, d]`.
//! Embeddings are scaled by `sqrt(d)` as in the paper's implementation; padded positions are
//! masked as attention keys, and their outputs are never scored.
//!
//! [`SasRecModel`] is SASRec as a next-item model: the encoder trained with a full softmax over the
//! catalogue (`negatives = 0`) or a sampled softmax against `negatives` items shared by the batch.
//!
//! Deviation from the paper: SASRec trains with binary cross-entropy, the target against one
//! random negative per position. recdiff uses the softmax (full, or sampled with the row's own
//! target left out of its negatives), the objective later work found stronger for the same encoder
//! (Klenitskiy & Vasilev, RecSys 2023) and the one DreamRec and DimeRec are compared under here. A
//! BCE switch is not offered: `negatives = 1` gives a two-way softmax, which is BCE on the logit
//! difference rather than the paper's per-logit BCE.

use super::{NextItem, SeqKind};
use crate::activation::log_softmax;
use crate::dropout::Dropout;
use burn::module::Module;
use burn::nn::attention::generate_autoregressive_mask;
use burn::nn::transformer::{TransformerEncoder, TransformerEncoderConfig};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SasRecConfig {
    pub dim: usize,
    pub heads: usize,
    pub layers: usize,
    pub dropout: f64,
}

impl Default for SasRecConfig {
    fn default() -> Self {
        Self { dim: 64, heads: 2, layers: 2, dropout: 0.2 }
    }
}

impl SasRecConfig {
    pub fn init(&self, n_items: usize, max_len: usize, device: &Device) -> SasRec {
        let encoder = TransformerEncoderConfig::new(self.dim, self.dim * 4, self.heads, self.layers)
            .with_dropout(self.dropout)
            .with_norm_first(true)
            .with_activation(burn::nn::activation::ActivationConfig::Relu)
            .init(device);
        SasRec {
            items: EmbeddingConfig::new(n_items + 1, self.dim).init(device),
            positions: EmbeddingConfig::new(max_len, self.dim).init(device),
            encoder,
            norm: LayerNormConfig::new(self.dim).init(device),
            dropout: Dropout::new(self.dropout),
            dim: self.dim,
        }
    }
}

#[derive(Module, Debug)]
pub struct SasRec {
    pub items: Embedding,
    positions: Embedding,
    encoder: TransformerEncoder,
    norm: LayerNorm,
    dropout: Dropout,
    pub dim: usize,
}

/// SASRec and its loss: full softmax (`negatives = 0`) or sampled softmax.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SasRecTraining {
    #[serde(flatten)]
    pub encoder: SasRecConfig,
    pub negatives: usize,
}

impl SasRecTraining {
    pub fn init(&self, n_items: usize, max_len: usize, device: &Device) -> SasRecModel {
        SasRecModel { encoder: self.encoder.init(n_items, max_len, device), cfg: self.clone() }
    }
}

impl SasRecConfig {
    /// Sizes the encoder cannot be built with, named by key (`at` prefixes the keys).
    pub fn check_at(&self, at: &str) -> Result<(), String> {
        if self.dim == 0 || self.heads == 0 || self.layers == 0 || !self.dim.is_multiple_of(self.heads) {
            return Err(format!(
                "{at}dim = {}, heads = {}, layers = {}: all must be positive and heads must divide dim",
                self.dim, self.heads, self.layers
            ));
        }
        Ok(())
    }
}

impl SeqKind for SasRecTraining {
    type Model = SasRecModel;

    fn check(&self) -> Result<(), String> {
        self.encoder.check_at("")
    }

    fn build(&self, n_items: usize, max_len: usize, seed: u64, device: &Device) -> SasRecModel {
        crate::init::build_seeded(seed, || self.init(n_items, max_len, device))
    }
}

/// SASRec as a next-item model.
#[derive(Module, Debug)]
pub struct SasRecModel {
    pub encoder: SasRec,
    #[module(skip)]
    cfg: SasRecTraining,
}

impl NextItem for SasRecModel {
    fn loss(&self, seq: Tensor<2, Int>, targets: &[u32], rng: &mut dyn RngCore) -> Tensor<1> {
        let n_items = self.encoder.item_table().dims()[0] - 1;
        let negatives: Vec<i64> = (0..self.cfg.negatives).map(|_| rng.random_range(1..=n_items) as i64).collect();
        self.encoder.next_item_loss(seq, targets, &negatives)
    }

    fn item_vectors(&self) -> Tensor<2> {
        self.encoder.item_table()
    }

    fn query(&self, seq: Tensor<2, Int>, _rng: &mut dyn RngCore) -> Tensor<2> {
        self.encoder.last_state(seq)
    }

    fn items(&self) -> &Embedding {
        &self.encoder.items
    }

    fn items_mut(&mut self) -> &mut Embedding {
        &mut self.encoder.items
    }
}

impl SasRec {
    /// States of every position, `[B, L, d]`.
    pub fn encode(&self, seq: Tensor<2, Int>) -> Tensor<3> {
        let [b, l] = seq.dims();
        let device = seq.device();
        let pad: Tensor<2, Bool> = seq.clone().equal_elem(0);
        let pos = Tensor::<1, Int>::arange(0..l as i64, &device).reshape([1, l]).repeat_dim(0, b);
        let x = self.items.forward(seq) * (self.dim as f64).sqrt() + self.positions.forward(pos);
        let x = self.dropout.forward(x);
        let causal = generate_autoregressive_mask(b, l, &device);
        self.norm.forward(super::encoder::forward(&self.encoder, x, &pad, &causal))
    }

    /// The state of the last position, `[B, d]` (histories are left-padded, so it is the newest).
    pub fn last_state(&self, seq: Tensor<2, Int>) -> Tensor<2> {
        let [b, l] = seq.dims();
        let h = self.encode(seq);
        h.narrow(1, l - 1, 1).reshape([b, self.dim])
    }

    /// The item table `[n + 1, d]` (row 0 is padding).
    pub fn item_table(&self) -> Tensor<2> {
        self.items.weight.val()
    }

    /// Next-item loss over the non-padding positions: full softmax over all items, or, with
    /// `negatives > 0`, a sampled softmax against `negatives` items shared by the batch.
    pub fn next_item_loss(&self, seq: Tensor<2, Int>, targets: &[u32], negatives: &[i64]) -> Tensor<1> {
        let [b, l] = seq.dims();
        let device = seq.device();
        let states = self.encode(seq).reshape([b * l, self.dim]);
        softmax_loss(states, targets, &self.item_table(), negatives, &device)
    }
}

/// Cross-entropy of `queries` (`[N, d]`) against the item table, rows with target 0 left out;
/// with `negatives`, the target's logit competes with those items only (sampled softmax), less
/// the row's own target when the shared sample holds it.
pub fn softmax_loss(
    queries: Tensor<2>,
    targets: &[u32],
    table: &Tensor<2>,
    negatives: &[i64],
    device: &Device,
) -> Tensor<1> {
    let rows: Vec<i64> = (0..targets.len()).filter(|&i| targets[i] != 0).map(|i| i as i64).collect();
    let n = rows.len();
    let q = queries.select(0, Tensor::<1, Int>::from_data(TensorData::new(rows.clone(), [n]), device));
    let tgt: Vec<i64> = rows.iter().map(|&r| targets[r as usize] as i64).collect();
    let tgt = Tensor::<1, Int>::from_data(TensorData::new(tgt, [n]), device);
    if negatives.is_empty() {
        let mut logits = q.matmul(table.clone().transpose());
        // The padding row is never a target: push its logit out of the softmax.
        let n_cols = logits.dims()[1];
        let mut pad = vec![0.0f32; n_cols];
        pad[0] = -1e9;
        logits = logits + Tensor::<1>::from_data(TensorData::new(pad, [n_cols]), device).unsqueeze::<2>();
        let logp = log_softmax(logits, 1);
        return logp.gather(1, tgt.reshape([n, 1])).mean().neg();
    }
    let pos = (q.clone() * table.clone().select(0, tgt)).sum_dim(1);
    let k = negatives.len();
    let neg_rows =
        table.clone().select(0, Tensor::<1, Int>::from_data(TensorData::new(negatives.to_vec(), [k]), device));
    // A shared negative that is a row's own target is not a negative of that row.
    let own: Vec<f32> = rows
        .iter()
        .flat_map(|&r| negatives.iter().map(move |&j| if j == targets[r as usize] as i64 { -1e9 } else { 0.0 }))
        .collect();
    let neg = q.matmul(neg_rows.transpose()) + Tensor::<2>::from_data(TensorData::new(own, [n, k]), device);
    let logp = log_softmax(Tensor::cat(vec![pos, neg], 1), 1);
    logp.narrow(1, 0, 1).mean().neg()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device::flex()
    }

    #[test]
    fn a_sampled_negative_equal_to_the_target_is_left_out_of_that_rows_softmax() {
        let d = device();
        // Items 1..=3 in 2 dimensions; one query (1, 0.5) whose target is item 2.
        let table =
            Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 0.0, 1.0, 0.0, 0.5, 1.0, -1.0, 2.0], [4, 2]), &d);
        let q = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.5], [1, 2]), &d);
        let loss = |negatives: &[i64]| softmax_loss(q.clone(), &[2], &table, negatives, &d).into_scalar::<f32>();
        // Logits: item 1 -> 1.0, item 2 -> 1.0, item 3 -> 0.0. Against {1, 3}: -ln(e / (e + e + 1)).
        let by_hand = -(1f64.exp() / (2.0 * 1f64.exp() + 1.0)).ln();
        assert!((f64::from(loss(&[1, 3])) - by_hand).abs() < 1e-5);
        assert!((f64::from(loss(&[1, 2, 3])) - by_hand).abs() < 1e-5, "the target competed with itself");
    }

    #[test]
    fn changing_a_later_item_leaves_every_earlier_position_unchanged() {
        let d = device();
        let model = crate::init::build_seeded(5, || SasRecConfig::default().init(30, 6, &d));
        let states = |seq: Vec<i64>| {
            let s = model.encode(Tensor::from_data(TensorData::new(seq, [1, 6]), &d));
            s.into_data().try_into_vec::<f32>().unwrap()
        };
        let base = states(vec![3, 4, 9, 2, 17, 5]);
        for j in 0..6 {
            let mut seq = vec![3, 4, 9, 2, 17, 5];
            seq[j] = 23;
            let changed = states(seq);
            let dim = base.len() / 6;
            assert_eq!(base[..j * dim], changed[..j * dim], "position < {j} saw item {j}");
            assert_ne!(
                base[j * dim..(j + 1) * dim],
                changed[j * dim..(j + 1) * dim],
                "position {j} ignores its own item"
            );
        }
    }
}
