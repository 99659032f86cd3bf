//! SASRec (Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018): item and learned
//! positional embeddings, a causal Transformer encoder (pre-norm, ReLU feed-forward, dropout), a
//! final layer norm; position `i`'s state scores every item by inner product with the (shared)
//! item embedding table. Also the history encoder of DreamRec and the item table of DimeRec.
//!
//! Shapes: histories `[B, L]` item ids (0 = padding, left-padded) -> states `[B, L, d]`.
//! Embeddings are scaled by `sqrt(d)` as in the paper's implementation; padded positions are
//! masked as attention keys, and their outputs are never scored.
//!
//! [`SasRecModel`] is SASRec as a next-item model: the encoder trained with a full softmax over the
//! catalogue (`negatives = 0`) or a sampled softmax against `negatives` items shared by the batch.

use super::NextItem;
use burn::module::Module;
use burn::nn::attention::generate_autoregressive_mask;
use burn::nn::transformer::{TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput};
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig};
use burn::tensor::activation::log_softmax;
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
            dropout: DropoutConfig::new(self.dropout).init(),
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
        let input =
            TransformerEncoderInput::new(x).mask_pad(pad).mask_attn(generate_autoregressive_mask(b, l, &device));
        self.norm.forward(self.encoder.forward(input))
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
/// with `negatives`, the target's logit competes with those items only (sampled softmax).
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
    let neg = q.matmul(neg_rows.transpose());
    let logp = log_softmax(Tensor::cat(vec![pos, neg], 1), 1);
    logp.narrow(1, 0, 1).mean().neg()
}
