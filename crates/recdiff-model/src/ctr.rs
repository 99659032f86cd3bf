//! The CTR model: a base (`h`, `f`) plus an enhancer; the enhancer's losses in training and its
//! transform of `z` at serving (each enhancer in its own file, behind [`Enhance`]).

use crate::base::{Base, BaseConfig, SharedInput};
use crate::enhancer::{Enhance, Enhancer, EnhancerConfig};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CtrModelConfig {
    #[serde(default)]
    pub base: BaseConfig,
    #[serde(default)]
    pub enhancer: EnhancerConfig,
}

impl CtrModelConfig {
    /// `base` or `base+enhancer`.
    pub fn name(&self) -> String {
        match &self.enhancer {
            EnhancerConfig::None => self.base.name().to_string(),
            e => format!("{}+{}", self.base.name(), e.name()),
        }
    }

    /// A model over `fields` embedded fields of `dim` each, its weights drawn from `seed`.
    pub fn init(&self, fields: usize, dim: usize, seed: u64, device: &Device) -> CtrModel {
        crate::init::build_seeded(seed, || CtrModel {
            base: self.base.init(fields, dim, device),
            enhancer: self.enhancer.init(fields, dim, self.base.latent_dim(), device),
        })
    }
}

#[derive(Module, Debug)]
pub struct CtrModel {
    pub base: Base,
    pub enhancer: Enhancer,
}

/// One training batch as the model sees it.
pub struct TrainInputs<'a> {
    /// Embedded rows `[(1 + copies) * B, F*D]`: the clean batch, then each corrupted copy.
    pub x: Tensor<2>,
    /// The clean rows' missing mask `[B, F]` (1 = missing).
    pub clean_mask: Tensor<2>,
    /// Each corrupted copy's mask `[B, F]`: originally missing plus removed fields.
    pub copy_masks: Vec<Tensor<2>>,
    /// Labels `[B, 1]`.
    pub y: Tensor<2>,
    /// Standard-normal noise `[B, latent]` and diffusion steps, when the enhancer draws them.
    pub noise: Option<(Tensor<2>, &'a [usize])>,
    /// Global step, for annealing.
    pub step: u64,
}

impl TrainInputs<'_> {
    /// The latent noise. Whoever builds the inputs draws it with the enhancer's own
    /// [`Enhance::latent_noise`], so an enhancer that draws noise always finds it here.
    pub fn noise(&self) -> (Tensor<2>, &[usize]) {
        let (eps, t) = self.noise.as_ref().expect("inputs built without the enhancer's latent noise");
        (eps.clone(), t)
    }
}

/// Training losses of one batch: the weighted total, the main BCE, and named extra terms.
pub struct Losses {
    pub total: Tensor<1>,
    pub main: Tensor<1>,
    pub extra: Vec<(&'static str, Tensor<1>)>,
}

impl CtrModel {
    /// Serving logits `[B, 1]` for embedded rows `x` with missing mask `s` (`[B, F]`).
    pub fn logits(&self, x: Tensor<2>, s: Tensor<2>) -> Tensor<2> {
        self.serve_head(self.base.h(x), s)
    }

    /// [`CtrModel::logits`] for rows that share part of their input (one request's candidates).
    pub fn logits_shared(&self, x: Tensor<2>, s: Tensor<2>, shared: &SharedInput) -> Tensor<2> {
        self.serve_head(self.base.h_shared(x, shared), s)
    }

    /// The enhancer's serving transform of `z` (AsymDiffRec: `g([s, z])`), then `f`.
    fn serve_head(&self, z: Tensor<2>, s: Tensor<2>) -> Tensor<2> {
        self.base.f(self.enhancer.get().serve(z, s))
    }

    /// The enhancer (its noise plan, latent noise, losses and serving transform).
    pub fn enhance(&self) -> &dyn Enhance {
        self.enhancer.get()
    }

    /// The weighted training loss: `h` of the clean rows and of each corrupted copy, then the
    /// enhancer's losses.
    pub fn losses(&self, inp: TrainInputs<'_>) -> Losses {
        let b = inp.y.dims()[0];
        let parts = 1 + inp.copy_masks.len();
        let z = self.base.h(inp.x.clone());
        let z: Vec<Tensor<2>> = (0..parts).map(|i| z.clone().narrow(0, i * b, b)).collect();
        self.enhancer.get().losses(&self.base, &z, &inp)
    }
}
