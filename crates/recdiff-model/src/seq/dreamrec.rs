//! DreamRec (Yang et al., "Generate What You Prefer: Reshaping Sequential Recommendation via Guided
//! Diffusion", NeurIPS 2023): the next item's embedding is *generated* by a DDPM guided by the
//! SASRec encoding of the history, then items are ranked by inner product with it.
//!
//! * Training, every position `i` of a window: `x0 = e(target_i)`, `t ~ U{1..T}`,
//!   `x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) ε`; the condition `c_i` is the SASRec state at `i`,
//!   replaced by a learned null vector with probability `p_uncond` (classifier-free guidance);
//!   loss `|| f(x_t, c, t) - x0 ||²` (x0-prediction).
//! * Denoiser `f`: an MLP over `[x_t, c, step embedding]` (sinusoidal, then linear), GELU hidden
//!   layer, output `d`.
//! * Sampling: DDIM with `eta = 0` over `sample_steps` evenly strided steps of the `T`-step
//!   schedule (so evaluation runs 20 steps, not 200); each step uses the guided prediction
//!   `x̂0 = (1 + w) f(x_t, c, t) - w f(x_t, ∅, t)`. `w = 0` is the plain conditional sampler.
//!
//! Choices the paper leaves open, each measured on MovieLens-100K (leave-one-out, valid HR@10 of
//! the 20-step guided sampler after 5-10 epochs, one seed; chance is 0.006):
//! * `x0` lives on the sphere of radius `sqrt(d)` (`unit_targets`): the item's embedding direction
//!   at the noise's scale. The paper's N(0, 1) table under SASRec's `sqrt(d)` input scaling made
//!   the encoder give every user the same state, and the denoiser ignored it (chance level).
//! * The target is detached (`detach_target`): trained through the MSE, the table collapsed to one
//!   direction (MSE 0.016, chance level), and with free norms it shrank to zero.
//!   With both, the paper's pure MSE objective learns: 0.065 after 5 epochs.
//! * `ce_weight` (default 0, the paper's objective) optionally adds SASRec's next-item softmax on
//!   the encoder states (0.073 after 5 epochs with 1.0).
//! * Linear betas up to 0.1 (`ᾱ_T ≈ e^-10`): with the usual 0.02 over 200 steps `ᾱ_T = 0.135`,
//!   `x_T` still identifies the item, so the condition is barely needed in training while
//!   sampling starts from pure noise (after 5 epochs with `ce_weight = 1`: 0.064 with betas to
//!   0.02, 0.073 with betas to 0.1).

use super::sasrec::{SasRec, SasRecConfig, softmax_loss};
use super::{NextItem, SeqKind};
use crate::diffusion::schedule::{BetaSchedule, alpha_bars};
use crate::diffusion::time_embedding;
use burn::module::{Module, Param};
use burn::nn::{Embedding, Linear, LinearConfig};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, RngCore};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DreamRecConfig {
    pub encoder: SasRecConfig,
    pub steps: usize,
    pub schedule: BetaSchedule,
    pub beta_start: f64,
    pub beta_end: f64,
    pub p_uncond: f64,
    pub guidance: f64,
    pub sample_steps: usize,
    /// Weight of an auxiliary next-item softmax on the encoder states (0: pure MSE, as the paper).
    pub ce_weight: f64,
    /// Standard deviation of the item embeddings at initialisation (N(0, std)); 0 keeps SASRec's
    /// small uniform initialisation. The paper's code draws N(0, 1), but with the encoder's
    /// `sqrt(d)` input scaling that swamps the positional embeddings and the encoder collapses to
    /// one state for every user (measured: the denoiser then ignores the condition).
    pub embedding_std: f64,
    /// Diffuse `x0 = sqrt(d) e / |e|` (the item embedding on the sphere of radius `sqrt(d)`, i.e.
    /// on the noise's scale whatever the table's scale) and rank items against the same vectors.
    /// Without it the MSE is minimised by shrinking the table, which it does (all targets -> 0).
    pub unit_targets: bool,
    /// Stop the gradient of the MSE at the target embedding, so the items are trained through the
    /// history encoder only and cannot shrink towards zero to make the MSE small.
    pub detach_target: bool,
}

impl Default for DreamRecConfig {
    fn default() -> Self {
        Self {
            encoder: SasRecConfig::default(),
            steps: 200,
            schedule: BetaSchedule::Linear,
            beta_start: 1e-4,
            beta_end: 0.1,
            p_uncond: 0.1,
            guidance: 2.0,
            sample_steps: 20,
            ce_weight: 0.0,
            embedding_std: 0.0,
            unit_targets: true,
            detach_target: true,
        }
    }
}

impl DreamRecConfig {
    pub fn init(&self, n_items: usize, max_len: usize, device: &Device) -> DreamRec {
        let d = self.encoder.dim;
        DreamRec {
            encoder: self.encoder.init(n_items, max_len, device),
            step_proj: LinearConfig::new(d, d).init(device),
            hidden: LinearConfig::new(3 * d, 2 * d).init(device),
            out: LinearConfig::new(2 * d, d).init(device),
            null: Param::from_tensor(Tensor::zeros([1, d], device)),
            dim: d,
            cfg: self.clone(),
        }
    }

    /// `ᾱ_t`, index `t - 1`.
    pub fn alpha_bars(&self) -> Vec<f64> {
        alpha_bars(self.schedule, self.steps, self.beta_start, self.beta_end)
    }

    /// The strided steps the sampler visits, from `T` down to 1.
    pub fn sample_schedule(&self) -> Vec<usize> {
        let (t, s) = (self.steps.max(1), self.sample_steps.clamp(1, self.steps.max(1)));
        let mut v: Vec<usize> = (0..s).map(|i| t - i * t / s).collect();
        v.dedup();
        v
    }
}

#[derive(Module, Debug)]
pub struct DreamRec {
    pub encoder: SasRec,
    step_proj: Linear,
    hidden: Linear,
    out: Linear,
    /// The unconditional "null" condition.
    null: Param<Tensor<2>>,
    dim: usize,
    #[module(skip)]
    cfg: DreamRecConfig,
}

fn gaussian(n: usize, rng: &mut (impl Rng + ?Sized)) -> Vec<f32> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

impl DreamRec {
    /// Redraws the item table from N(0, `embedding_std`) with `seed` (after the generic seeded
    /// init); `embedding_std = 0` keeps the table as it is.
    pub fn with_item_std(mut self, seed: u64) -> Self {
        use rand::SeedableRng;
        let std = self.cfg.embedding_std;
        if std <= 0.0 {
            return self;
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x1DE5);
        let w = self.encoder.items.weight.val();
        let dims = w.dims();
        let values: Vec<f32> = gaussian(dims[0] * dims[1], &mut rng).iter().map(|v| v * std as f32).collect();
        let fresh = Tensor::<2>::from_data(TensorData::new(values, dims), &w.device());
        self.encoder.items.weight = Param::from_tensor(fresh);
        self
    }

    /// The vectors the diffusion generates and items are ranked against, `[n + 1, d]`: the item
    /// table, or with `unit_targets` its rows scaled to norm `sqrt(d)`.
    pub fn target_table(&self) -> Tensor<2> {
        let table = self.encoder.item_table();
        if !self.cfg.unit_targets {
            return table;
        }
        let norm = table.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
        table / norm * (self.dim as f64).sqrt()
    }

    /// The x0 prediction `f(x_t, c, t)`, `[N, d]`.
    pub fn denoise(&self, x_t: Tensor<2>, cond: Tensor<2>, t: &[usize]) -> Tensor<2> {
        let device = x_t.device();
        let step = self.step_proj.forward(time_embedding(t, self.dim, &device));
        self.out.forward(gelu(self.hidden.forward(Tensor::cat(vec![x_t, cond, step], 1))))
    }

    fn null_like(&self, n: usize) -> Tensor<2> {
        self.null.val().repeat_dim(0, n)
    }

    /// The same weights sampling with guidance weight `w` over `sample_steps` strided steps.
    pub fn with_sampler(mut self, guidance: f64, sample_steps: usize) -> Result<Self, String> {
        if !guidance.is_finite() {
            return Err(format!("guidance {guidance}: must be finite"));
        }
        if sample_steps == 0 || sample_steps > self.cfg.steps {
            return Err(format!("sample_steps {sample_steps}: must be 1..={}", self.cfg.steps));
        }
        self.cfg.guidance = guidance;
        self.cfg.sample_steps = sample_steps;
        Ok(self)
    }

    /// The model's config (sampler settings included).
    pub fn config(&self) -> &DreamRecConfig {
        &self.cfg
    }

    /// Encoder states of every position, `[B * L, d]`, and the rows with a next-item target.
    pub(super) fn target_rows(&self, seq: Tensor<2, Int>, targets: &[u32]) -> (Tensor<2>, Vec<i64>) {
        let [b, l] = seq.dims();
        let states = self.encoder.encode(seq).reshape([b * l, self.dim]);
        let rows = (0..targets.len()).filter(|&i| targets[i] != 0).map(|i| i as i64).collect();
        (states, rows)
    }

    /// The diffusion targets `x0` of item `ids`, `[N, d]` (detached under `detach_target`).
    pub(super) fn x0_of(&self, ids: Vec<i64>, device: &Device) -> Tensor<2> {
        let n = ids.len();
        let x0 = self.target_table().select(0, Tensor::<1, Int>::from_data(TensorData::new(ids, [n]), device));
        if self.cfg.detach_target { x0.detach() } else { x0 }
    }

    /// `t ~ U{1..T}` for `n` rows.
    pub(super) fn draw_steps(&self, n: usize, rng: &mut dyn RngCore) -> Vec<usize> {
        (0..n).map(|_| rng.random_range(1..=self.cfg.steps.max(1))).collect()
    }

    /// `x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) ε` with fresh `ε`.
    pub(super) fn noised(&self, x0: Tensor<2>, t: &[usize], rng: &mut dyn RngCore) -> Tensor<2> {
        let (n, device, ab) = (t.len(), x0.device(), self.cfg.alpha_bars());
        let column = |f: &dyn Fn(f64) -> f64| {
            let v: Vec<f32> = t.iter().map(|&s| f(ab[s - 1]) as f32).collect();
            Tensor::<2>::from_data(TensorData::new(v, [n, 1]), &device)
        };
        let eps = Tensor::<2>::from_data(TensorData::new(gaussian(n * self.dim, rng), [n, self.dim]), &device);
        x0 * column(&|a| a.sqrt()) + eps * column(&|a| (1.0 - a).sqrt())
    }

    /// Classifier-free guidance training: each row's condition replaced by the null vector with
    /// probability `p_uncond`.
    pub(super) fn drop_conditions(&self, cond: Tensor<2>, rng: &mut dyn RngCore) -> Tensor<2> {
        let (n, device) = (cond.dims()[0], cond.device());
        let keep: Vec<f32> = (0..n).map(|_| (rng.random::<f64>() >= self.cfg.p_uncond) as u8 as f32).collect();
        let keep = Tensor::<2>::from_data(TensorData::new(keep, [n, 1]), &device);
        cond * keep.clone() + self.null_like(n) * (keep.neg() + 1.0)
    }

    /// Training loss of windows `seq` (`[B, L]`) with next-item `targets` (`B * L`, 0 = padding).
    fn train_loss(&self, seq: Tensor<2, Int>, targets: &[u32], rng: &mut dyn RngCore) -> Tensor<1> {
        let device = seq.device();
        let (states, rows) = self.target_rows(seq, targets);
        let n = rows.len();
        let cond = states.clone().select(0, Tensor::<1, Int>::from_data(TensorData::new(rows.clone(), [n]), &device));
        let x0 = self.x0_of(rows.iter().map(|&r| targets[r as usize] as i64).collect(), &device);
        let t = self.draw_steps(n, rng);
        let x_t = self.noised(x0.clone(), &t, rng);
        let cond = self.drop_conditions(cond, rng);
        let mse = (self.denoise(x_t, cond, &t) - x0).powi_scalar(2).sum_dim(1).mean();
        if self.cfg.ce_weight > 0.0 {
            let ce = softmax_loss(states, targets, &self.encoder.item_table(), &[], &device);
            return mse + ce * self.cfg.ce_weight;
        }
        mse
    }

    /// Generated next-item embeddings `[B, d]` for histories `seq`, with the configured guidance.
    pub fn generate(&self, seq: Tensor<2, Int>, rng: &mut dyn RngCore) -> Tensor<2> {
        let w = self.cfg.guidance;
        let cond = self.encoder.last_state(seq);
        let noise = gaussian(cond.dims()[0] * self.dim, rng);
        self.sample(cond, noise, |x, c, t| {
            let guided = self.denoise(x.clone(), c, t);
            if w == 0.0 {
                return guided;
            }
            let free = self.denoise(x, self.null_like(t.len()), t);
            guided * (1.0 + w) - free * w
        })
    }

    /// The conditional sampler (no guidance term), from the same starting noise.
    pub fn generate_conditional(&self, cond: Tensor<2>, noise: Vec<f32>) -> Tensor<2> {
        self.sample(cond, noise, |x, c, t| self.denoise(x, c, t))
    }

    /// The guided sampler from given conditions and starting noise.
    pub fn generate_guided(&self, cond: Tensor<2>, noise: Vec<f32>, w: f64) -> Tensor<2> {
        self.sample(cond, noise, |x, c, t| {
            let free = self.denoise(x.clone(), self.null_like(t.len()), t);
            self.denoise(x, c, t) * (1.0 + w) - free * w
        })
    }

    /// DDIM (`eta = 0`) over the strided schedule with `predict(x_t, c, t)` giving `x̂0`.
    fn sample(
        &self,
        cond: Tensor<2>,
        noise: Vec<f32>,
        predict: impl Fn(Tensor<2>, Tensor<2>, &[usize]) -> Tensor<2>,
    ) -> Tensor<2> {
        let (n, device, cfg) = (cond.dims()[0], cond.device(), &self.cfg);
        let ab = cfg.alpha_bars();
        let mut x = Tensor::<2>::from_data(TensorData::new(noise, [n, self.dim]), &device);
        let steps = cfg.sample_schedule();
        let mut x0 = x.clone();
        for (i, &t) in steps.iter().enumerate() {
            x0 = predict(x.clone(), cond.clone(), &vec![t; n]);
            let a_t = ab[t - 1];
            let a_prev = steps.get(i + 1).map_or(1.0, |&p| ab[p - 1]);
            let eps = (x - x0.clone() * a_t.sqrt()) / (1.0 - a_t).sqrt();
            x = x0.clone() * a_prev.sqrt() + eps * (1.0 - a_prev).sqrt();
        }
        x0
    }
}

impl NextItem for DreamRec {
    fn loss(&self, seq: Tensor<2, Int>, targets: &[u32], rng: &mut dyn RngCore) -> Tensor<1> {
        self.train_loss(seq, targets, rng)
    }

    fn item_vectors(&self) -> Tensor<2> {
        self.target_table()
    }

    fn query(&self, seq: Tensor<2, Int>, rng: &mut dyn RngCore) -> Tensor<2> {
        self.generate(seq, rng)
    }

    fn items(&self) -> &Embedding {
        &self.encoder.items
    }

    fn items_mut(&mut self) -> &mut Embedding {
        &mut self.encoder.items
    }
}

impl DreamRecConfig {
    /// Settings the network cannot be built with, named by key (`at` prefixes the keys).
    pub fn check_at(&self, at: &str) -> Result<(), String> {
        self.encoder.check_at(&format!("{at}encoder."))?;
        if self.steps == 0 || self.sample_steps == 0 || self.sample_steps > self.steps {
            return Err(format!("{at}sample_steps = {}: must be 1..={at}steps ({})", self.sample_steps, self.steps));
        }
        if !(self.beta_start < self.beta_end && self.beta_end < 1.0) {
            return Err(format!(
                "{at}beta_start = {}, {at}beta_end = {}: need beta_start < beta_end < 1",
                self.beta_start, self.beta_end
            ));
        }
        Ok(())
    }
}

impl SeqKind for DreamRecConfig {
    type Model = DreamRec;

    fn check(&self) -> Result<(), String> {
        self.check_at("")
    }

    /// The item table's initial scale is drawn after the weights, from the same seed.
    fn build(&self, n_items: usize, max_len: usize, seed: u64, device: &Device) -> DreamRec {
        crate::init::build_seeded(seed, || self.init(n_items, max_len, device)).with_item_std(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn guided_sampler_with_w_zero_equals_the_conditional_sampler() {
        let device = Device::flex();
        let cfg = DreamRecConfig {
            encoder: SasRecConfig { dim: 8, heads: 2, layers: 1, dropout: 0.0 },
            steps: 50,
            sample_steps: 7,
            ..DreamRecConfig::default()
        };
        let model = crate::init::build_seeded(4, || cfg.init(30, 5, &device));
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let cond = Tensor::<2>::from_data(TensorData::new(gaussian(6 * 8, &mut rng), [6, 8]), &device);
        let noise = gaussian(6 * 8, &mut rng);
        let plain = model.generate_conditional(cond.clone(), noise.clone()).into_data();
        let guided = model.generate_guided(cond.clone(), noise.clone(), 0.0).into_data();
        let (plain, guided) = (plain.try_into_vec::<f32>().unwrap(), guided.try_into_vec::<f32>().unwrap());
        for (a, b) in plain.iter().zip(&guided) {
            assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
        }
        // And guidance does act when w > 0.
        let strong = model.generate_guided(cond, noise, 2.0).into_data().try_into_vec::<f32>().unwrap();
        assert!(plain.iter().zip(&strong).any(|(a, b)| (a - b).abs() > 1e-4));
        assert_eq!(cfg.sample_schedule(), vec![50, 43, 36, 29, 22, 15, 8]);
    }
}
