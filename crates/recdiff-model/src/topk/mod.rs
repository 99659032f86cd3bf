//! Top-K collaborative-filtering models over a user's whole interaction vector: one enum module
//! ([`TopKModel`]), one file per model. Each turns a batch of users' training vectors into a loss
//! and, at evaluation, into a score per item. A model is its file (its config implementing
//! [`TopKKind`], its network [`TopKNet`]) plus one line in the registry (`topk_models!` below).
//!
//! Shapes: `x` `[B, n]` (one row per user of the batch, densified from the sparse matrix for that
//! batch only; entries 1, or T-DiffRec's recency weights), users `[B]`, scores `[B, n]`.

pub mod cdae;
pub mod diffrec;
pub mod ldiffrec;
pub mod multivae;
pub mod tdiffrec;
pub mod timesteps;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use timesteps::StepSampler;

pub use tdiffrec::TDiffRecConfig;

/// What a top-K model's config does, implemented in the model's file: what `topk_models!`
/// needs to build [`TopKModelConfig`], [`KINDS`] and their dispatch.
pub trait TopKKind {
    /// Settings the model cannot be built with, named by key (relative to `[model]`).
    fn check(&self) -> Result<(), String>;
    /// The recency weighting of the input, `(w_min, w_max)`; `None` (the default) for 0/1 vectors.
    fn recency(&self) -> Option<(f32, f32)> {
        None
    }
    /// The diffusion settings whose timesteps a step sampler draws; `None` (the default) for a
    /// model without diffusion.
    fn diffusion(&self) -> Option<&diffrec::DiffRecConfig> {
        None
    }
    /// `(clusters, svd_dim)` when the network needs the items grouped first (L-DiffRec); `None`
    /// (the default) otherwise.
    fn item_clusters(&self) -> Option<(usize, usize)> {
        None
    }
    /// The network for `shape`, weights drawn from `seed`. Errors name the key at fault.
    fn build(&self, shape: &Shape<'_>, seed: u64, device: &Device) -> Result<TopKModel, String>;
}

/// What a top-K network is sized by: the users and items of the training matrix, and the group
/// of every item where the model asks for groups ([`TopKKind::item_clusters`]): clustered from the
/// training data by the trainer, read from the run's `groups.json` when a run is opened.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    pub users: usize,
    pub items: usize,
    pub item_groups: Option<&'a [usize]>,
}

/// What a top-K network does, implemented in its file.
pub trait TopKNet {
    /// The training loss of a batch `x` `[B, n]` of `users` `[B]`.
    fn loss(&self, x: Tensor<2>, users: Tensor<1, Int>, ctx: &mut StepContext<'_>) -> Tensor<1>;
    /// A score per item `[B, n]` from the users' observed vectors.
    fn scores(&self, x: Tensor<2>, users: Tensor<1, Int>, rng: &mut dyn RngCore) -> Tensor<2>;
}

/// What a training step hands a model besides the batch.
pub struct StepContext<'a> {
    pub step: u64,
    pub rng: &'a mut dyn RngCore,
    /// DiffRec's timestep sampler (state across steps).
    pub sampler: &'a mut StepSampler,
}

/// `p` as a probability in [0, 1), or an error naming `key`.
pub(crate) fn probability(key: &str, p: f64) -> Result<(), String> {
    if (0.0..1.0).contains(&p) { Ok(()) } else { Err(format!("{key} = {p}: a probability must lie in [0, 1)")) }
}

/// The registry of the top-K family. `configs`: one line per model, `Variant("kind"): Config`
/// (`[model] kind = "…"` selects it); `networks`: one line per network, `Variant: Network` (burn
/// names checkpoint tensors by the variant), where a model with a network of its own adds one. It
/// defines [`TopKModelConfig`], [`TopKModel`], [`KINDS`] and their dispatch to [`TopKKind`] and
/// [`TopKNet`].
macro_rules! topk_models {
    (
        configs { $($variant:ident($kind:literal): $config:ty,)+ }
        networks { $($net:ident: $model:ty,)+ }
    ) => {
        /// The `[model] kind`s of the top-K family, one per [`TopKModelConfig`] variant.
        pub const KINDS: [&str; [$($kind),+].len()] = [$($kind),+];

        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum TopKModelConfig {
            $(#[serde(rename = $kind)] $variant($config),)+
        }

        /// The networks: one arm per network file (T-DiffRec is DiffRec on reweighted input).
        // One model per run: the variants' inline sizes (a few hundred bytes of layer handles) do not matter.
        #[allow(clippy::large_enum_variant)]
        #[derive(Module, Debug)]
        pub enum TopKModel {
            $($net($model),)+
        }

        impl TopKModelConfig {
            fn kind(&self) -> &dyn TopKKind {
                match self {
                    $(TopKModelConfig::$variant(c) => c,)+
                }
            }

            /// The `[model] kind`.
            pub fn name(&self) -> &'static str {
                match self {
                    $(TopKModelConfig::$variant(_) => $kind,)+
                }
            }
        }

        impl TopKModel {
            fn net(&self) -> &dyn TopKNet {
                match self {
                    $(TopKModel::$net(m) => m,)+
                }
            }
        }
    };
}

topk_models! {
    configs {
        Multivae("multivae"): multivae::MultiVaeConfig,
        Cdae("cdae"): cdae::CdaeConfig,
        Diffrec("diffrec"): diffrec::DiffRecConfig,
        Ldiffrec("ldiffrec"): ldiffrec::LDiffRecConfig,
        Tdiffrec("tdiffrec"): tdiffrec::TDiffRecConfig,
    }
    networks {
        Multivae: multivae::MultiVae,
        Cdae: cdae::Cdae,
        Diffrec: diffrec::DiffRec,
        Ldiffrec: ldiffrec::LDiffRec,
    }
}

impl Default for TopKModelConfig {
    fn default() -> Self {
        TopKModelConfig::Diffrec(diffrec::DiffRecConfig::default())
    }
}

impl TopKModelConfig {
    /// Settings the model cannot be built with, named by key (relative to `[model]`).
    pub fn validate(&self) -> Result<(), String> {
        self.kind().check()
    }

    /// The recency weighting of the input, `(w_min, w_max)`; `None` for 0/1 vectors.
    pub fn recency(&self) -> Option<(f32, f32)> {
        self.kind().recency()
    }

    /// DiffRec's timestep sampler for this model (a one-step uniform one for the others).
    pub fn sampler(&self) -> StepSampler {
        match self.kind().diffusion() {
            Some(d) => StepSampler::new(d.steps, d.timesteps == diffrec::TimestepSampling::Importance, d.history),
            None => StepSampler::new(1, false, 1),
        }
    }

    /// `(clusters, svd_dim)` when the network needs its items grouped first (L-DiffRec).
    pub fn item_clusters(&self) -> Option<(usize, usize)> {
        self.kind().item_clusters()
    }

    /// The model for `shape`, weights drawn from `seed`. Errors name the key at fault.
    pub fn init(&self, shape: &Shape<'_>, seed: u64, device: &Device) -> Result<TopKModel, String> {
        self.kind().build(shape, seed, device)
    }
}

impl TopKModel {
    /// The training loss of a batch.
    pub fn loss(&self, x: Tensor<2>, users: Tensor<1, Int>, ctx: &mut StepContext<'_>) -> Tensor<1> {
        self.net().loss(x, users, ctx)
    }

    /// A score per item `[B, n]` from the users' observed vectors.
    pub fn scores(&self, x: Tensor<2>, users: Tensor<1, Int>, rng: &mut dyn RngCore) -> Tensor<2> {
        self.net().scores(x, users, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_kind_parses_to_its_variant_and_builds_a_network_that_scores_every_item() {
        let device = Device::flex();
        let groups = [0, 0, 1, 1, 0, 1];
        for kind in KINDS {
            let cfg: TopKModelConfig = serde_json::from_str(&format!("{{\"kind\": \"{kind}\"}}")).unwrap();
            assert_eq!(cfg.name(), kind);
            cfg.validate().unwrap();
            let text = serde_json::to_string(&cfg).unwrap();
            assert!(text.starts_with(&format!("{{\"kind\":\"{kind}\"")), "{text}");
            let needs_groups = cfg.item_clusters().is_some();
            assert_eq!(needs_groups, kind == "ldiffrec");
            let shape = Shape { users: 3, items: 6, item_groups: None };
            if needs_groups {
                let e = cfg.init(&shape, 3, &device).unwrap_err();
                assert!(e.contains("item groups"), "{e}");
            }
            let model = cfg.init(&Shape { item_groups: Some(&groups), ..shape }, 3, &device).unwrap();
            let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
            let x = Tensor::<2>::ones([2, 6], &device);
            let users = Tensor::<1, Int>::from_data([0, 2], &device);
            assert_eq!(model.scores(x, users, &mut rng).dims(), [2, 6], "{kind}");
        }
        let e = serde_json::from_str::<TopKModelConfig>(r#"{"kind": "ease"}"#).unwrap_err().to_string();
        assert!(e.contains("ease") && e.contains("multivae"), "{e}");
    }
}
