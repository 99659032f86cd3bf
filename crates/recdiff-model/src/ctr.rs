//! The CTR model: a base (`h`, `f`) plus an enhancer; training losses per enhancer and the serving
//! score.

use crate::base::{Base, BaseConfig, SharedInput};
use crate::enhancer::{Enhancer, EnhancerConfig};
use crate::losses::{bce_with_logits, info_nce, kl_standard_normal, masked_mse};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
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
        let base = self.base.init(fields, dim, device);
        let enhancer = self.enhancer.init(fields, dim, base.latent_dim, device);
        crate::init::seeded_init(CtrModel { base, enhancer, fields, dim }, seed)
    }
}

#[derive(Module, Debug)]
pub struct CtrModel {
    pub base: Base,
    pub enhancer: Enhancer,
    fields: usize,
    dim: usize,
}

/// One training batch as the model sees it.
pub struct TrainInputs<'a> {
    /// Embedded rows `[(1 + copies) * B, F*D]`: the clean batch, then each corrupted copy.
    pub x: Tensor<2>,
    /// The clean rows' missing mask `[B, F]` (1 = missing).
    pub clean_mask: Tensor<2>,
    /// Each corrupted copy's mask `[B, F]`.
    pub copy_masks: Vec<Tensor<2>>,
    /// Labels `[B, 1]`.
    pub y: Tensor<2>,
    /// Standard-normal noise `[B, latent]` (MultiVAE, DiffRec).
    pub eps: Option<Tensor<2>>,
    /// Diffusion steps per sample, 1-based (DiffRec).
    pub t: &'a [usize],
    /// Global step, for annealing.
    pub step: u64,
}

/// Training losses of one batch: the weighted total, the main BCE, and named extra terms.
pub struct Losses {
    pub total: Tensor<1>,
    pub main: Tensor<1>,
    pub extra: Vec<(&'static str, Tensor<1>)>,
}

fn split(z: Tensor<2>, b: usize, parts: usize) -> Vec<Tensor<2>> {
    (0..parts).map(|i| z.clone().narrow(0, i * b, b)).collect()
}

fn column(values: Vec<f32>, device: &Device) -> Tensor<2> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n, 1]), device)
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
        let e = &self.enhancer;
        let z = if let Some(g) = &e.asym {
            g.forward(s, z)
        } else if let Some(v) = &e.vae {
            v.mean(z)
        } else if let Some(d) = &e.diffrec {
            let n = z.dims()[0];
            d.forward(z, &vec![1; n])
        } else {
            z
        };
        self.base.f(z)
    }

    /// The weighted training loss of `cfg`'s enhancer.
    pub fn losses(&self, cfg: &EnhancerConfig, inp: TrainInputs<'_>) -> Losses {
        let b = inp.y.dims()[0];
        let copies = inp.copy_masks.len();
        let z = split(self.base.h(inp.x.clone()), b, 1 + copies);
        let z0 = z[0].clone();
        let e = &self.enhancer;
        match cfg {
            EnhancerConfig::AsymDiffRec(c) if e.asym.is_some() && copies == 1 => {
                let g = e.asym.as_ref().unwrap_or_else(|| unreachable!());
                let main = bce_with_logits(self.base.f(z0.clone()), inp.y.clone());
                let z0p = g.forward(inp.copy_masks[0].clone(), z[1].clone());
                let target = if c.stop_gradient { z0.detach() } else { z0 };
                let recon = (z0p.clone() - target).powi_scalar(2).mean();
                let aux = bce_with_logits(self.base.f(z0p), inp.y);
                let total = main.clone() * c.main_weight + recon.clone() * c.recon_weight + aux.clone() * c.aux_weight;
                Losses { total, main, extra: vec![("recon", recon), ("aux", aux)] }
            }
            EnhancerConfig::Cdae(c) if e.cdae.is_some() && copies == 1 => {
                let dec = e.cdae.as_ref().unwrap_or_else(|| unreachable!());
                let main = bce_with_logits(self.base.f(z0), inp.y);
                let clean = inp.x.narrow(0, 0, b).detach();
                let present = (inp.clean_mask.neg() + 1.0).reshape([b, self.fields, 1]).repeat_dim(2, self.dim);
                let recon = masked_mse(dec.forward(z[1].clone()), clean, present.reshape([b, self.fields * self.dim]));
                let total = main.clone() + recon.clone() * c.recon_weight;
                Losses { total, main, extra: vec![("recon", recon)] }
            }
            EnhancerConfig::MultiVae(c) if e.vae.is_some() && inp.eps.is_some() => {
                let vae = e.vae.as_ref().unwrap_or_else(|| unreachable!());
                let (mu, logvar) = vae.forward(z0);
                let eps = inp.eps.unwrap_or_else(|| unreachable!());
                let sample = mu.clone() + eps * (logvar.clone() * 0.5).exp();
                let main = bce_with_logits(self.base.f(sample), inp.y);
                let kl = kl_standard_normal(mu, logvar);
                let total = main.clone() + kl.clone() * c.beta_at(inp.step);
                Losses { total, main, extra: vec![("kl", kl)] }
            }
            EnhancerConfig::Ssl(c) if e.ssl.is_some() && copies == 2 => {
                let proj = e.ssl.as_ref().unwrap_or_else(|| unreachable!());
                let main = bce_with_logits(self.base.f(z0), inp.y);
                let ssl = info_nce(proj.forward(z[1].clone()), proj.forward(z[2].clone()), c.temperature);
                let total = main.clone() + ssl.clone() * c.ssl_weight;
                Losses { total, main, extra: vec![("ssl", ssl)] }
            }
            EnhancerConfig::DiffRec(c) if e.diffrec.is_some() && inp.eps.is_some() => {
                let d = e.diffrec.as_ref().unwrap_or_else(|| unreachable!());
                let main = bce_with_logits(self.base.f(z0.clone()), inp.y.clone());
                let ab = c.alpha_bars();
                let device = z0.device();
                let a = column(inp.t.iter().map(|&t| ab[t - 1].sqrt() as f32).collect(), &device);
                let s = column(inp.t.iter().map(|&t| (1.0 - ab[t - 1]).sqrt() as f32).collect(), &device);
                let target = z0.detach();
                let eps = inp.eps.unwrap_or_else(|| unreachable!());
                let zt = target.clone() * a + eps * s;
                let z0p = d.forward(zt, inp.t);
                let recon = (z0p.clone() - target).powi_scalar(2).mean();
                let aux = bce_with_logits(self.base.f(z0p), inp.y);
                let total = main.clone() + recon.clone() * c.recon_weight + aux.clone() * c.aux_weight;
                Losses { total, main, extra: vec![("recon", recon), ("aux", aux)] }
            }
            _ => {
                let main = bce_with_logits(self.base.f(z0), inp.y);
                Losses { total: main.clone(), main, extra: vec![] }
            }
        }
    }
}
