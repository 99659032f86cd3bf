//! Sequential next-item models: one enum module ([`SeqModel`]), one file per model, each behind
//! [`NextItem`] — a training loss over windows, the vectors items are retrieved by, and the query
//! vector of a history. A model keeps its own config (`#[module(skip)]`), so nothing outside its
//! file needs to know what it is.
//!
//! Shapes: windows and histories `[B, L]` item ids (0 = padding, left-padded); next-item targets
//! `B * L` (0 = no target); item vectors `[n + 1, d]` (row 0 padding); queries `[B, d]`.
//!
//! Checkpoints name tensors by variant (`Sasrec.encoder.items.weight`); runs written before the
//! enum (`sasrec.items.weight`) load through [`LEGACY_KEYS`].

pub mod dimerec;
pub mod dreamrec;
pub mod encoder;
pub mod preferdiff;
pub mod sasrec;

use burn::module::{Module, Param};
use burn::nn::Embedding;
use burn::tensor::{Device, Int, Tensor, TensorData};
use dimerec::{DimeRec, DimeRecConfig};
use dreamrec::{DreamRec, DreamRecConfig};
use preferdiff::{PreferDiff, PreferDiffConfig};
use rand::RngCore;
use sasrec::{SasRecConfig, SasRecModel, SasRecTraining};
use serde::{Deserialize, Serialize};

/// What a sequential model does, implemented in its own file.
pub trait NextItem {
    /// The training loss of windows `seq` (`[B, L]`) with next-item `targets` (`B * L`, 0 = pad).
    fn loss(&self, seq: Tensor<2, Int>, targets: &[u32], rng: &mut dyn RngCore) -> Tensor<1>;
    /// The vectors items are retrieved by, `[n + 1, d]` (row 0 padding).
    fn item_vectors(&self) -> Tensor<2>;
    /// The query vectors of the newest position of each history, `[B, d]`.
    fn query(&self, seq: Tensor<2, Int>, rng: &mut dyn RngCore) -> Tensor<2>;
}

/// The `[model] kind`s of the sequential family, one per [`SeqModelConfig`] variant.
pub const KINDS: [&str; 4] = ["sasrec", "dreamrec", "dimerec", "preferdiff"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SeqModelConfig {
    Sasrec(SasRecTraining),
    Dreamrec(DreamRecConfig),
    Dimerec(DimeRecConfig),
    Preferdiff(PreferDiffConfig),
}

impl Default for SeqModelConfig {
    fn default() -> Self {
        SeqModelConfig::Sasrec(SasRecTraining::default())
    }
}

/// The networks: one arm per model file.
#[derive(Module, Debug)]
pub enum SeqModel {
    Sasrec(SasRecModel),
    Dreamrec(DreamRec),
    Dimerec(DimeRec),
    Preferdiff(PreferDiff),
}

/// Checkpoint key rewrites (regex, replacement) for runs saved before [`SeqModel`] was an enum.
pub const LEGACY_KEYS: [(&str, &str); 3] =
    [(r"^sasrec\.", "Sasrec.encoder."), (r"^dreamrec\.", "Dreamrec."), (r"^dimerec\.", "Dimerec.")];

/// Item ids as an int tensor `[B, L]`.
pub fn ids_tensor(rows: &[Vec<u32>], device: &Device) -> Tensor<2, Int> {
    let (b, l) = (rows.len(), rows.first().map_or(0, Vec::len));
    let flat: Vec<i64> = rows.iter().flat_map(|r| r.iter().map(|&i| i as i64)).collect();
    Tensor::from_data(TensorData::new(flat, [b, l]), device)
}

fn check_encoder(e: &SasRecConfig, at: &str) -> Result<(), String> {
    if e.dim == 0 || e.heads == 0 || e.layers == 0 || !e.dim.is_multiple_of(e.heads) {
        return Err(format!(
            "{at}dim = {}, heads = {}, layers = {}: all must be positive and heads must divide dim",
            e.dim, e.heads, e.layers
        ));
    }
    Ok(())
}

fn check_dreamrec(c: &DreamRecConfig, at: &str) -> Result<(), String> {
    check_encoder(&c.encoder, &format!("{at}encoder."))?;
    if c.steps == 0 || c.sample_steps == 0 || c.sample_steps > c.steps {
        return Err(format!("{at}sample_steps = {}: must be 1..={at}steps ({})", c.sample_steps, c.steps));
    }
    if !(c.beta_start < c.beta_end && c.beta_end < 1.0) {
        return Err(format!(
            "{at}beta_start = {}, {at}beta_end = {}: need beta_start < beta_end < 1",
            c.beta_start, c.beta_end
        ));
    }
    Ok(())
}

impl SeqModelConfig {
    /// Sizes the networks cannot be built with, named by key (relative to `[model]`).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            SeqModelConfig::Sasrec(c) => check_encoder(&c.encoder, ""),
            SeqModelConfig::Dreamrec(c) => check_dreamrec(c, ""),
            SeqModelConfig::Preferdiff(c) => {
                check_dreamrec(&c.dreamrec, "dreamrec.")?;
                c.validate()
            }
            SeqModelConfig::Dimerec(c) if c.dim == 0 || c.interests == 0 || c.steps == 0 || c.gem_hidden == 0 => {
                Err(format!(
                    "dim = {}, interests = {}, gem_hidden = {}, steps = {}: all must be positive",
                    c.dim, c.interests, c.gem_hidden, c.steps
                ))
            }
            SeqModelConfig::Dimerec(c) if !(c.final_angle_deg > 0.0 && c.final_angle_deg <= 90.0) => {
                Err(format!("final_angle_deg = {}: must be in (0, 90]", c.final_angle_deg))
            }
            SeqModelConfig::Dimerec(_) => Ok(()),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            SeqModelConfig::Sasrec(_) => "sasrec",
            SeqModelConfig::Dreamrec(_) => "dreamrec",
            SeqModelConfig::Dimerec(_) => "dimerec",
            SeqModelConfig::Preferdiff(_) => "preferdiff",
        }
    }

    /// The model for a catalogue of `n_items` and windows of `max_len`, weights drawn from `seed`.
    pub fn init(&self, n_items: usize, max_len: usize, seed: u64, device: &Device) -> SeqModel {
        let m = crate::init::build_seeded(seed, || match self {
            SeqModelConfig::Sasrec(c) => SeqModel::Sasrec(c.init(n_items, max_len, device)),
            SeqModelConfig::Dreamrec(c) => SeqModel::Dreamrec(c.init(n_items, max_len, device)),
            SeqModelConfig::Dimerec(c) => SeqModel::Dimerec(c.init(n_items, max_len, device)),
            SeqModelConfig::Preferdiff(c) => SeqModel::Preferdiff(c.init(n_items, max_len, device)),
        });
        match m {
            SeqModel::Dreamrec(d) => SeqModel::Dreamrec(d.with_item_std(seed)),
            SeqModel::Preferdiff(mut p) => {
                p.net = p.net.with_item_std(seed);
                SeqModel::Preferdiff(p)
            }
            other => other,
        }
    }
}

impl SeqModel {
    /// The model with its item table (`[n + 1, d]`, row 0 padding) replaced by `table` and
    /// frozen: no gradient reaches it, so the optimiser never moves it. Errors name the shapes.
    pub fn with_fixed_items(mut self, table: Tensor<2>) -> Result<SeqModel, String> {
        let items = self.items_mut();
        let (want, got) = (items.weight.dims(), table.dims());
        if want != got {
            return Err(format!("item vectors are {got:?} (items + padding, width), the model's table is {want:?}"));
        }
        items.weight = Param::from_tensor(table).set_require_grad(false);
        Ok(self)
    }

    /// The item embedding table, `[n + 1, d]` (row 0 padding), as trained or as fixed.
    pub fn item_table(&self) -> Tensor<2> {
        match self {
            SeqModel::Sasrec(m) => m.encoder.items.weight.val(),
            SeqModel::Dreamrec(m) => m.encoder.items.weight.val(),
            SeqModel::Dimerec(m) => m.items.weight.val(),
            SeqModel::Preferdiff(m) => m.net.encoder.items.weight.val(),
        }
    }

    fn items_mut(&mut self) -> &mut Embedding {
        match self {
            SeqModel::Sasrec(m) => &mut m.encoder.items,
            SeqModel::Dreamrec(m) => &mut m.encoder.items,
            SeqModel::Dimerec(m) => &mut m.items,
            SeqModel::Preferdiff(m) => &mut m.net.encoder.items,
        }
    }

    /// The model behind its [`NextItem`] interface.
    pub fn next_item(&self) -> &dyn NextItem {
        match self {
            SeqModel::Sasrec(m) => m,
            SeqModel::Dreamrec(m) => m,
            SeqModel::Dimerec(m) => m,
            SeqModel::Preferdiff(m) => m,
        }
    }

    /// See [`NextItem::loss`].
    pub fn loss(&self, seq: Tensor<2, Int>, targets: &[u32], rng: &mut dyn RngCore) -> Tensor<1> {
        self.next_item().loss(seq, targets, rng)
    }

    /// See [`NextItem::item_vectors`].
    pub fn item_vectors(&self) -> Tensor<2> {
        self.next_item().item_vectors()
    }

    /// See [`NextItem::query`].
    pub fn query(&self, seq: Tensor<2, Int>, rng: &mut dyn RngCore) -> Tensor<2> {
        self.next_item().query(seq, rng)
    }

    /// Scores of every item id (column 0 is padding) for the newest position of each history,
    /// `[B, n + 1]`.
    pub fn scores(&self, seq: Tensor<2, Int>, rng: &mut dyn RngCore) -> Tensor<2> {
        let query = self.query(seq, rng);
        query.matmul(self.item_vectors().transpose())
    }
}
