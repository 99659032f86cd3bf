//! The sequential models behind one interface: a training loss over windows, and next-item scores
//! over the whole catalogue for query histories.

use crate::dimerec::{DimeRec, DimeRecConfig};
use crate::dreamrec::{DreamRec, DreamRecConfig};
use crate::sasrec::{SasRec, SasRecConfig};
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SeqModelConfig {
    Sasrec(SasRecTraining),
    Dreamrec(DreamRecConfig),
    Dimerec(DimeRecConfig),
}

impl Default for SeqModelConfig {
    fn default() -> Self {
        SeqModelConfig::Sasrec(SasRecTraining::default())
    }
}

/// SASRec and its loss: full softmax (`negatives = 0`) or sampled softmax.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SasRecTraining {
    #[serde(flatten)]
    pub encoder: SasRecConfig,
    pub negatives: usize,
}

impl SeqModelConfig {
    /// Sizes the networks cannot be built with, named by key (relative to `[model]`).
    pub fn validate(&self) -> Result<(), String> {
        let encoder = |e: &SasRecConfig, at: &str| -> Result<(), String> {
            if e.dim == 0 || e.heads == 0 || e.layers == 0 || !e.dim.is_multiple_of(e.heads) {
                return Err(format!(
                    "{at}dim = {}, heads = {}, layers = {}: all must be positive and heads must divide dim",
                    e.dim, e.heads, e.layers
                ));
            }
            Ok(())
        };
        match self {
            SeqModelConfig::Sasrec(c) => encoder(&c.encoder, ""),
            SeqModelConfig::Dreamrec(c) => {
                encoder(&c.encoder, "encoder.")?;
                if c.steps == 0 || c.sample_steps == 0 || c.sample_steps > c.steps {
                    return Err(format!("sample_steps = {}: must be 1..=steps ({})", c.sample_steps, c.steps));
                }
                if !(c.beta_start < c.beta_end && c.beta_end < 1.0) {
                    return Err(format!(
                        "beta_start = {}, beta_end = {}: need beta_start < beta_end < 1",
                        c.beta_start, c.beta_end
                    ));
                }
                Ok(())
            }
            SeqModelConfig::Dimerec(c) if c.dim == 0 || c.interests == 0 || c.steps == 0 || c.gem_hidden == 0 => {
                Err(format!(
                    "dim = {}, interests = {}, gem_hidden = {}, steps = {}: all must be positive",
                    c.dim, c.interests, c.gem_hidden, c.steps
                ))
            }
            SeqModelConfig::Dimerec(_) => Ok(()),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            SeqModelConfig::Sasrec(_) => "sasrec",
            SeqModelConfig::Dreamrec(_) => "dreamrec",
            SeqModelConfig::Dimerec(_) => "dimerec",
        }
    }

    pub fn init(&self, n_items: usize, max_len: usize, seed: u64, device: &Device) -> SeqModel {
        let mut m = SeqModel { sasrec: None, dreamrec: None, dimerec: None };
        match self {
            SeqModelConfig::Sasrec(c) => m.sasrec = Some(c.encoder.init(n_items, max_len, device)),
            SeqModelConfig::Dreamrec(c) => m.dreamrec = Some(c.init(n_items, max_len, device)),
            SeqModelConfig::Dimerec(c) => m.dimerec = Some(c.init(n_items, max_len, device)),
        }
        let mut m = recdiff_model::init::seeded_init(m, seed);
        if let (SeqModelConfig::Dreamrec(c), Some(d)) = (self, m.dreamrec.take()) {
            m.dreamrec = Some(d.with_item_std(c.embedding_std, seed));
        }
        m
    }
}

/// Exactly one model is present.
#[derive(Module, Debug)]
pub struct SeqModel {
    sasrec: Option<SasRec>,
    dreamrec: Option<DreamRec>,
    dimerec: Option<DimeRec>,
}

impl SeqModel {
    /// The training loss of windows `seq` (`[B, L]`) with next-item `targets` (`B * L`, 0 = pad).
    pub fn loss(&self, cfg: &SeqModelConfig, seq: Tensor<2, Int>, targets: &[u32], rng: &mut impl Rng) -> Tensor<1> {
        match (cfg, &self.sasrec, &self.dreamrec, &self.dimerec) {
            (SeqModelConfig::Sasrec(c), Some(m), _, _) => {
                let n_items = m.item_table().dims()[0] - 1;
                let negatives: Vec<i64> = (0..c.negatives).map(|_| rng.random_range(1..=n_items) as i64).collect();
                m.next_item_loss(seq, targets, &negatives)
            }
            (SeqModelConfig::Dreamrec(c), _, Some(m), _) => m.loss(c, seq, targets, rng),
            (SeqModelConfig::Dimerec(c), _, _, Some(m)) => m.loss(c, seq, targets, rng),
            _ => unreachable!("the model was built from this config"),
        }
    }

    /// Scores of every item id (column 0 is padding) for the newest position of each history.
    pub fn scores(&self, cfg: &SeqModelConfig, seq: Tensor<2, Int>, rng: &mut impl Rng) -> Tensor<2> {
        let (table, query) = self.retrieval(cfg, seq, rng);
        query.matmul(table.transpose())
    }

    /// The vectors items are retrieved by (`[n + 1, d]`, row 0 padding): the item table, on the
    /// unit sphere for DimeRec.
    pub fn item_vectors(&self) -> Tensor<2> {
        match (&self.sasrec, &self.dreamrec, &self.dimerec) {
            (Some(m), _, _) => m.item_table(),
            (_, Some(m), _) => m.target_table(),
            (_, _, Some(m)) => m.unit_table(),
            _ => unreachable!("one model is present"),
        }
    }

    /// The item table used for retrieval (`[n + 1, d]`), and the query embeddings of `seq`.
    pub fn retrieval(&self, cfg: &SeqModelConfig, seq: Tensor<2, Int>, rng: &mut impl Rng) -> (Tensor<2>, Tensor<2>) {
        match (cfg, &self.sasrec, &self.dreamrec, &self.dimerec) {
            (SeqModelConfig::Sasrec(_), Some(m), _, _) => (m.item_table(), m.last_state(seq)),
            (SeqModelConfig::Dreamrec(c), _, Some(m), _) => (m.target_table(), m.generate(c, seq, c.guidance, rng)),
            (SeqModelConfig::Dimerec(c), _, _, Some(m)) => (m.unit_table(), m.generate(c, seq, rng)),
            _ => unreachable!("the model was built from this config"),
        }
    }
}
