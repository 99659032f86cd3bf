//! Top-K collaborative-filtering models over a user's whole interaction vector: one enum module
//! ([`TopKModel`]), one file per model. Each turns a batch of users' training vectors into a loss
//! and, at evaluation, into a score per item.
//!
//! Shapes: `x` `[B, n]` (one row per user of the batch, densified from the sparse matrix for that
//! batch only; entries 1, or T-DiffRec's recency weights), users `[B]`, scores `[B, n]`.

pub mod cdae;
pub mod clusters;
pub mod diffrec;
pub mod ldiffrec;
pub mod multivae;
pub mod timesteps;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use rand::RngCore;
use recdiff_data::user_item::Csr;
use serde::{Deserialize, Serialize};
use timesteps::StepSampler;

/// T-DiffRec (Wang et al. 2023, sec. 3.5): DiffRec on interaction vectors reweighted by recency,
/// `w = w_min + (w_max - w_min) * r` for a training item of recency rank `r` in `[0, 1]` (0 the
/// user's oldest training interaction, 1 the newest), instead of 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TDiffRecConfig {
    pub w_min: f64,
    pub w_max: f64,
    pub diffusion: diffrec::DiffRecConfig,
}

impl Default for TDiffRecConfig {
    fn default() -> Self {
        Self { w_min: 0.1, w_max: 1.0, diffusion: diffrec::DiffRecConfig::default() }
    }
}

/// The `[model] kind`s of the top-K family, one per [`TopKModelConfig`] variant.
pub const KINDS: [&str; 5] = ["multivae", "cdae", "diffrec", "ldiffrec", "tdiffrec"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TopKModelConfig {
    Multivae(multivae::MultiVaeConfig),
    Cdae(cdae::CdaeConfig),
    Diffrec(diffrec::DiffRecConfig),
    Ldiffrec(ldiffrec::LDiffRecConfig),
    Tdiffrec(TDiffRecConfig),
}

impl Default for TopKModelConfig {
    fn default() -> Self {
        TopKModelConfig::Diffrec(diffrec::DiffRecConfig::default())
    }
}

/// What a training step hands a model besides the batch.
pub struct StepContext<'a> {
    pub step: u64,
    pub rng: &'a mut dyn RngCore,
    /// DiffRec's timestep sampler (state across steps).
    pub sampler: &'a mut StepSampler,
}

impl TopKModelConfig {
    pub fn name(&self) -> &'static str {
        match self {
            TopKModelConfig::Multivae(_) => "multivae",
            TopKModelConfig::Cdae(_) => "cdae",
            TopKModelConfig::Diffrec(_) => "diffrec",
            TopKModelConfig::Ldiffrec(_) => "ldiffrec",
            TopKModelConfig::Tdiffrec(_) => "tdiffrec",
        }
    }

    /// Settings the model cannot be built with, named by key (relative to `[model]`).
    pub fn validate(&self) -> Result<(), String> {
        let prob = |key: &str, p: f64| {
            if (0.0..1.0).contains(&p) { Ok(()) } else { Err(format!("{key} = {p}: a probability must lie in [0, 1)")) }
        };
        match self {
            TopKModelConfig::Multivae(c) if c.hidden == 0 || c.latent == 0 => {
                Err(format!("hidden = {}, latent = {}: both must be positive", c.hidden, c.latent))
            }
            TopKModelConfig::Multivae(c) => prob("dropout", c.dropout),
            TopKModelConfig::Cdae(c) if c.hidden == 0 => Err("hidden = 0: must be positive".into()),
            TopKModelConfig::Cdae(c) => prob("dropout", c.dropout),
            TopKModelConfig::Diffrec(c) => c.validate(),
            TopKModelConfig::Ldiffrec(c) => c.validate(),
            TopKModelConfig::Tdiffrec(c) if !(c.w_min > 0.0 && c.w_min <= c.w_max) => {
                Err(format!("w_min = {}, w_max = {}: need 0 < w_min <= w_max", c.w_min, c.w_max))
            }
            TopKModelConfig::Tdiffrec(c) => c.diffusion.validate().map_err(|e| format!("diffusion.{e}")),
        }
    }

    /// The recency weighting of the input, `(w_min, w_max)`; `None` for 0/1 vectors.
    pub fn recency(&self) -> Option<(f32, f32)> {
        match self {
            TopKModelConfig::Tdiffrec(c) => Some((c.w_min as f32, c.w_max as f32)),
            TopKModelConfig::Ldiffrec(c) => c.recency.map(|[lo, hi]| (lo as f32, hi as f32)),
            _ => None,
        }
    }

    /// DiffRec's timestep sampler for this model (a one-step uniform one for the others).
    pub fn sampler(&self) -> StepSampler {
        let d = match self {
            TopKModelConfig::Diffrec(c) => c,
            TopKModelConfig::Ldiffrec(c) => &c.diffusion,
            TopKModelConfig::Tdiffrec(c) => &c.diffusion,
            _ => return StepSampler::new(1, false, 1),
        };
        StepSampler::new(d.steps, d.timesteps == diffrec::TimestepSampling::Importance, d.history)
    }

    /// The model for the users x items training matrix `train`, weights drawn from `seed`
    /// (L-DiffRec also clusters the items of `train` first). Errors name the key at fault.
    pub fn init(&self, train: &Csr, n_items: usize, seed: u64, device: &Device) -> Result<TopKModel, String> {
        let groups = match self {
            TopKModelConfig::Ldiffrec(c) => {
                ldiffrec::Groups::new(&clusters::item_groups(train, n_items, c.clusters, c.svd_dim, seed)?, c.latent)
            }
            _ => ldiffrec::Groups::new(&[], 0),
        };
        let n_users = train.rows();
        Ok(crate::init::build_seeded(seed, || match self {
            TopKModelConfig::Multivae(c) => TopKModel::Multivae(c.init(n_items, device)),
            TopKModelConfig::Cdae(c) => TopKModel::Cdae(c.init(n_users, n_items, device)),
            TopKModelConfig::Diffrec(c) => TopKModel::Diffrec(c.model(n_items, device)),
            TopKModelConfig::Ldiffrec(c) => TopKModel::Ldiffrec(c.model(groups.clone(), device)),
            TopKModelConfig::Tdiffrec(c) => TopKModel::Diffrec(c.diffusion.model(n_items, device)),
        }))
    }
}

/// The networks: one arm per model file (T-DiffRec is DiffRec on reweighted input).
// One model per run: the variants' inline sizes (a few hundred bytes of layer handles) do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum TopKModel {
    Multivae(multivae::MultiVae),
    Cdae(cdae::Cdae),
    Diffrec(diffrec::DiffRec),
    Ldiffrec(ldiffrec::LDiffRec),
}

/// DiffRec's loss of a batch `x0` `[B, n]` under the step sampler (importance weights, recorded
/// losses), and its x0 prediction.
fn diffusion_loss(
    m: &diffrec::DiffRec,
    x0: Tensor<2>,
    input: diffrec::Input,
    ctx: &mut StepContext<'_>,
) -> (Tensor<1>, Tensor<2>) {
    let b = x0.dims()[0];
    let (t, importance) = ctx.sampler.draw(b, ctx.rng);
    let (terms, x0_hat) = m.terms_and_x0(x0, &t, ctx.rng, input);
    let values: Vec<f64> = terms.clone().into_data().iter::<f32>().map(f64::from).collect();
    ctx.sampler.record(&t, &values);
    let w = diffrec::Diffusion::column(importance.iter().map(|&v| v as f32).collect(), &terms.device());
    ((terms.reshape([b, 1]) * w).mean(), x0_hat)
}

impl TopKModel {
    /// The training loss of a batch.
    pub fn loss(&self, x: Tensor<2>, users: Tensor<1, Int>, ctx: &mut StepContext<'_>) -> Tensor<1> {
        match self {
            TopKModel::Multivae(m) => m.loss(x, ctx.step, ctx.rng),
            TopKModel::Cdae(m) => m.loss(x, users),
            TopKModel::Diffrec(m) => diffusion_loss(m, x, diffrec::Input::Data, ctx).0,
            TopKModel::Ldiffrec(m) => {
                let cfg = m.config();
                let (z, kl) = m.sample_latent(x.clone(), ctx.rng);
                let (elbo, z_hat) = diffusion_loss(&m.diffusion, z, diffrec::Input::Tracked, ctx);
                let nll = ldiffrec::LDiffRec::multinomial_nll(m.decode(z_hat), x);
                elbo * cfg.lambda_at(ctx.step) + nll + kl * cfg.kl_at(ctx.step)
            }
        }
    }

    /// A score per item `[B, n]` from the users' observed vectors.
    pub fn scores(&self, x: Tensor<2>, users: Tensor<1, Int>, rng: &mut dyn RngCore) -> Tensor<2> {
        match self {
            TopKModel::Multivae(m) => m.scores(x),
            TopKModel::Cdae(m) => m.logits(x, users),
            TopKModel::Diffrec(m) => m.scores(x, rng),
            TopKModel::Ldiffrec(m) => m.scores(x, rng),
        }
    }
}
