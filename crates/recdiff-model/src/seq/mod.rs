//! Sequential next-item models: one enum module ([`SeqModel`]), one file per model, each behind
//! [`NextItem`] — a training loss over windows, the vectors items are retrieved by, and the query
//! vector of a history. A model keeps its own config (`#[module(skip)]`), so nothing outside its
//! file needs to know what it is. A model is its file (its config implementing [`SeqKind`], its
//! network [`NextItem`]) plus one line in the registry (`seq_models!` below).
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
use sasrec::{SasRecModel, SasRecTraining};
use serde::{Deserialize, Serialize};

/// What a sequential model does, implemented in its own file.
pub trait NextItem {
    /// The training loss of windows `seq` (`[B, L]`) with next-item `targets` (`B * L`, 0 = pad).
    fn loss(&self, seq: Tensor<2, Int>, targets: &[u32], rng: &mut dyn RngCore) -> Tensor<1>;
    /// The vectors items are retrieved by, `[n + 1, d]` (row 0 padding).
    fn item_vectors(&self) -> Tensor<2>;
    /// The query vectors of the newest position of each history, `[B, d]`.
    fn query(&self, seq: Tensor<2, Int>, rng: &mut dyn RngCore) -> Tensor<2>;
    /// The item embedding table, `[n + 1, d]` (row 0 padding).
    fn items(&self) -> &Embedding;
    fn items_mut(&mut self) -> &mut Embedding;
}

/// A sequential model's config, implemented in the model's file: what `seq_models!` needs to
/// build the config and network enums, [`KINDS`] and their dispatch.
pub trait SeqKind {
    /// The network this config builds.
    type Model: NextItem;
    /// Settings the network cannot be built with, named by key (relative to `[model]`).
    fn check(&self) -> Result<(), String>;
    /// The network for a catalogue of `n_items` and windows of `max_len`, weights drawn from `seed`.
    fn build(&self, n_items: usize, max_len: usize, seed: u64, device: &Device) -> Self::Model;
}

/// The registry of the sequential family: one line per model, `Variant("kind"): Config => Network`.
/// It defines [`SeqModelConfig`] (`[model] kind = "…"` selects the variant), [`SeqModel`] (burn
/// names checkpoint tensors by the variant: `Sasrec.encoder.items.weight`), [`KINDS`], and the
/// dispatch of both enums to [`SeqKind`] and [`NextItem`].
macro_rules! seq_models {
    ($($variant:ident($kind:literal): $config:ty => $model:ty,)+) => {
        /// The `[model] kind`s of the sequential family, one per [`SeqModelConfig`] variant.
        pub const KINDS: [&str; [$($kind),+].len()] = [$($kind),+];

        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum SeqModelConfig {
            $(#[serde(rename = $kind)] $variant($config),)+
        }

        /// The networks: one arm per model file.
        #[derive(Module, Debug)]
        pub enum SeqModel {
            $($variant($model),)+
        }

        impl SeqModelConfig {
            /// Settings the networks cannot be built with, named by key (relative to `[model]`).
            pub fn validate(&self) -> Result<(), String> {
                match self {
                    $(SeqModelConfig::$variant(c) => c.check(),)+
                }
            }

            /// The `[model] kind`.
            pub fn name(&self) -> &'static str {
                match self {
                    $(SeqModelConfig::$variant(_) => $kind,)+
                }
            }

            /// The model for a catalogue of `n_items` and windows of `max_len`, weights drawn from `seed`.
            pub fn init(&self, n_items: usize, max_len: usize, seed: u64, device: &Device) -> SeqModel {
                match self {
                    $(SeqModelConfig::$variant(c) => SeqModel::$variant(c.build(n_items, max_len, seed, device)),)+
                }
            }
        }

        impl SeqModel {
            /// The model behind its [`NextItem`] interface.
            pub fn next_item(&self) -> &dyn NextItem {
                match self {
                    $(SeqModel::$variant(m) => m,)+
                }
            }

            fn next_item_mut(&mut self) -> &mut dyn NextItem {
                match self {
                    $(SeqModel::$variant(m) => m,)+
                }
            }
        }
    };
}

seq_models! {
    Sasrec("sasrec"): SasRecTraining => SasRecModel,
    Dreamrec("dreamrec"): DreamRecConfig => DreamRec,
    Dimerec("dimerec"): DimeRecConfig => DimeRec,
    Preferdiff("preferdiff"): PreferDiffConfig => PreferDiff,
}

impl Default for SeqModelConfig {
    fn default() -> Self {
        SeqModelConfig::Sasrec(SasRecTraining::default())
    }
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
        self.next_item().items().weight.val()
    }

    fn items_mut(&mut self) -> &mut Embedding {
        self.next_item_mut().items_mut()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_kind_parses_to_its_variant_and_builds_a_network_that_ranks_every_item() {
        let device = Device::flex();
        for kind in KINDS {
            let cfg: SeqModelConfig = serde_json::from_str(&format!("{{\"kind\": \"{kind}\"}}")).unwrap();
            assert_eq!(cfg.name(), kind);
            cfg.validate().unwrap();
            let text = serde_json::to_string(&cfg).unwrap();
            assert!(text.starts_with(&format!("{{\"kind\":\"{kind}\"")), "{text}");
            let model = cfg.init(7, 4, 3, &device);
            assert_eq!(model.item_table().dims()[0], 8, "{kind}: 7 items and the padding row");
            let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
            assert_eq!(model.scores(ids_tensor(&[vec![0, 1, 2, 3]], &device), &mut rng).dims(), [1, 8], "{kind}");
        }
        let e = serde_json::from_str::<SeqModelConfig>(r#"{"kind": "gru4rec"}"#).unwrap_err().to_string();
        assert!(e.contains("gru4rec") && e.contains("sasrec"), "{e}");
    }
}
