//! DiffRec (Wang et al., "Diffusion Recommender Model", SIGIR 2023): Gaussian diffusion on a user's
//! interaction vector, denoised by an MLP, with inference from the observed vector itself.
//!
//! * Schedule over `steps` = T: `linear` makes `β_t` linear from `noise_scale * noise_min` to
//!   `noise_scale * noise_max`; `linear_var` makes the variance `1 - ᾱ_t` linear between those
//!   bounds (the paper's "linear-var", `β_t = 1 - ᾱ_t / ᾱ_{t-1}`). Small scales keep personalised
//!   information in `x_T` instead of destroying it.
//! * Training: `t ~ U{0..T-1}` (0-based), `x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) ε`; the denoiser
//!   `f([dropout(x_t), step embedding])` (tanh MLP `hidden`, output `n`) predicts `x0` or `ε`
//!   (`mean_type`); MSE averaged over items. With `reweight`, an x0-predicting term is weighted by
//!   `SNR(t-1) - SNR(t)` (1 at t = 0), as the paper's ELBO-derived weights.
//! * Timesteps: `uniform`, or `importance` (the paper's loss-aware sampling): once every step has
//!   `history` recorded losses, `t` is drawn with probability proportional to
//!   `sqrt(E[L_t²])` and each term divided by `T p_t`; before that, uniform.
//! * Inference: `x_{T'} = q(x0, T')` with `T' = noise_steps` (0: `x0` itself), then
//!   `sample_steps` reverse steps, each the posterior mean `μ(x_t, x̂0)` without added noise
//!   (the paper's deterministic sampling); the last step's output ranks the items.
//!
//! Choices the paper leaves open: the step embedding is sinusoidal then linear (`time_dim`, 10 as
//! its code), concatenated to the input; dropout 0.5 on the input only; the official code always
//! runs all T reverse steps from `x_{T'}`, here `sample_steps` (default T) sets how many, counted
//! down from step `sample_steps - 1`.
//!
//! Shapes: `x` `[B, n]`, output `[B, n]`.

use super::{Shape, StepContext, TopKKind, TopKModel, TopKNet};
use crate::activation::tanh;
use crate::diffusion::schedule::{BetaSchedule, betas};
use crate::diffusion::time_embedding;
use crate::dropout::Dropout;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    Linear,
    LinearVar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeanType {
    X0,
    Eps,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestepSampling {
    Uniform,
    Importance,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiffRecConfig {
    pub steps: usize,
    pub schedule: Schedule,
    pub noise_scale: f64,
    pub noise_min: f64,
    pub noise_max: f64,
    pub mean_type: MeanType,
    pub timesteps: TimestepSampling,
    /// Losses kept per step before importance sampling starts.
    pub history: usize,
    pub reweight: bool,
    pub hidden: Vec<usize>,
    pub time_dim: usize,
    pub dropout: f64,
    /// T': the noise steps applied to the observed vector before the reverse process.
    pub noise_steps: usize,
    /// Reverse steps at inference (1..=steps).
    pub sample_steps: usize,
}

impl Default for DiffRecConfig {
    fn default() -> Self {
        Self {
            steps: 5,
            schedule: Schedule::LinearVar,
            noise_scale: 0.005,
            noise_min: 0.005,
            noise_max: 0.01,
            mean_type: MeanType::X0,
            timesteps: TimestepSampling::Importance,
            history: 10,
            reweight: true,
            hidden: vec![300],
            time_dim: 10,
            dropout: 0.5,
            noise_steps: 0,
            sample_steps: 5,
        }
    }
}

impl DiffRecConfig {
    /// Sizes and schedules the model cannot be built with, named by key.
    pub fn validate(&self) -> Result<(), String> {
        if self.steps == 0 || self.hidden.contains(&0) || self.time_dim == 0 || self.history == 0 {
            return Err(format!(
                "steps = {}, hidden = {:?}, time_dim = {}, history = {}: all must be positive",
                self.steps, self.hidden, self.time_dim, self.history
            ));
        }
        if self.noise_steps > self.steps {
            return Err(format!("noise_steps = {}: T' must not exceed steps (T = {})", self.noise_steps, self.steps));
        }
        if self.sample_steps == 0 || self.sample_steps > self.steps {
            return Err(format!("sample_steps = {}: must be 1..=steps ({})", self.sample_steps, self.steps));
        }
        let (lo, hi) = (self.noise_scale * self.noise_min, self.noise_scale * self.noise_max);
        if !(lo > 0.0 && lo <= hi && hi < 1.0) {
            return Err(format!(
                "noise_scale = {}, noise_min = {}, noise_max = {}: need 0 < scale*min <= scale*max < 1",
                self.noise_scale, self.noise_min, self.noise_max
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout = {}: a probability must lie in [0, 1)", self.dropout));
        }
        Ok(())
    }

    /// `β_t`, 0-based.
    pub fn betas(&self) -> Vec<f64> {
        let (lo, hi) = (self.noise_scale * self.noise_min, self.noise_scale * self.noise_max);
        match self.schedule {
            Schedule::Linear => betas(BetaSchedule::Linear, self.steps, lo, hi),
            Schedule::LinearVar => {
                let var = betas(BetaSchedule::Linear, self.steps, lo, hi);
                let mut out = vec![var[0]];
                out.extend(var.windows(2).map(|w| (1.0 - (1.0 - w[1]) / (1.0 - w[0])).min(0.999)));
                out
            }
        }
    }

    /// The denoiser for `n` inputs, with `out` outputs.
    pub fn init(&self, n: usize, out: usize, device: &Device) -> Denoiser {
        let mut dims = vec![n + self.time_dim];
        dims.extend(&self.hidden);
        Denoiser {
            step: LinearConfig::new(self.time_dim, self.time_dim).init(device),
            layers: dims.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect(),
            out: LinearConfig::new(*dims.last().unwrap_or(&n), out).init(device),
            dropout: Dropout::new(self.dropout),
            time_dim: self.time_dim,
        }
    }
}

/// The MLP `f([dropout(x_t), W e(t)])`.
#[derive(Module, Debug)]
pub struct Denoiser {
    step: Linear,
    layers: Vec<Linear>,
    out: Linear,
    dropout: Dropout,
    time_dim: usize,
}

impl Denoiser {
    pub fn forward(&self, x: Tensor<2>, t: &[usize]) -> Tensor<2> {
        self.forward_as(x, t, Input::Tracked)
    }

    /// [`Denoiser::forward`] for an `x` that is data (needs no gradient): the same values and
    /// weight gradients, without the product that would compute `x`'s gradient.
    pub fn forward_data(&self, x: Tensor<2>, t: &[usize]) -> Tensor<2> {
        self.forward_as(x, t, Input::Data)
    }

    fn forward_as(&self, x: Tensor<2>, t: &[usize], input: Input) -> Tensor<2> {
        let emb = self.step.forward(time_embedding(t, self.time_dim, &x.device()));
        let x = self.dropout.forward(x);
        let first =
            |layer: &Linear, x: Tensor<2>, emb: Tensor<2>| match input == Input::Data && x.device().is_autodiff() {
                true => self.data_input_layer(layer, x, emb),
                false => layer.forward(Tensor::cat(vec![x, emb], 1)),
            };
        let Some((head, rest)) = self.layers.split_first() else {
            return first(&self.out, x, emb);
        };
        let mut h = tanh(first(head, x, emb));
        for layer in rest {
            h = tanh(layer.forward(h));
        }
        self.out.forward(h)
    }

    /// `layer([x, emb])` for a data `x`: the gradient reaches `emb`, none is computed for `x`.
    ///
    /// `x` (the noised interactions) needs none, but a product with `[x, emb]` would compute one
    /// for all `n + time_dim` columns (a `[B, hidden] x [hidden, n]` product, 7% of a MovieLens
    /// step) because `emb` is trained. So the product takes a detached `emb`, and
    /// `a - detach(a)` with `a = emb W_emb` (`W_emb` the weight's last `time_dim` rows, detached)
    /// carries `emb`'s gradient: it adds exactly zero to the value, and `W` gets its gradient
    /// once, from the product. Values and the weights' gradients are those of
    /// `layer(cat([x, emb]))` bit for bit; the step layer's gradient is the same sum in another
    /// order (a `[B, hidden] x [hidden, time_dim]` product), equal within a few ulps.
    fn data_input_layer(&self, layer: &Linear, x: Tensor<2>, emb: Tensor<2>) -> Tensor<2> {
        let n = x.dims()[1];
        let w_emb = layer.weight.val().narrow(0, n, self.time_dim).detach();
        let a = emb.clone().matmul(w_emb);
        layer.forward(Tensor::cat(vec![x, emb.detach()], 1)) + (a.clone() - a.detach())
    }
}

/// What the diffused `x0` is: data (interaction vectors), or a tensor a gradient must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Data,
    Tracked,
}

/// The diffusion arithmetic of a config: `ᾱ`, posterior coefficients, SNR.
#[derive(Debug, Clone)]
pub struct Diffusion {
    pub betas: Vec<f64>,
    pub alpha_bars: Vec<f64>,
}

impl Diffusion {
    pub fn new(cfg: &DiffRecConfig) -> Self {
        let betas = cfg.betas();
        let mut acc = 1.0;
        let alpha_bars = betas
            .iter()
            .map(|b| {
                acc *= 1.0 - b;
                acc
            })
            .collect();
        Self { betas, alpha_bars }
    }

    fn prev_bar(&self, t: usize) -> f64 {
        if t == 0 { 1.0 } else { self.alpha_bars[t - 1] }
    }

    /// Coefficients `(c0, ct)` of the posterior mean `c0 x̂0 + ct x_t` at step `t`.
    pub fn posterior(&self, t: usize) -> (f64, f64) {
        let (b, ab, prev) = (self.betas[t], self.alpha_bars[t], self.prev_bar(t));
        (b * prev.sqrt() / (1.0 - ab), (1.0 - prev) * (1.0 - b).sqrt() / (1.0 - ab))
    }

    /// `(sqrt(ᾱ_t), sqrt(1 - ᾱ_t))` in f32: the factors of `x0` and `ε` in `x_t`.
    pub fn noising(&self, t: usize) -> (f32, f32) {
        (self.alpha_bars[t].sqrt() as f32, (1.0 - self.alpha_bars[t]).sqrt() as f32)
    }

    pub fn snr(&self, t: usize) -> f64 {
        self.alpha_bars[t] / (1.0 - self.alpha_bars[t])
    }

    /// The x0-loss weight of step `t`: `SNR(t-1) - SNR(t)`, 1 at `t = 0`.
    pub fn weight(&self, t: usize) -> f64 {
        if t == 0 { 1.0 } else { self.snr(t - 1) - self.snr(t) }
    }

    /// Per-row `[B, 1]` column of a per-step coefficient.
    pub fn column(values: Vec<f32>, device: &Device) -> Tensor<2> {
        let n = values.len();
        Tensor::from_data(TensorData::new(values, [n, 1]), device)
    }
}

/// A standard normal tensor `[b, n]` from the seeded RNG.
pub fn gaussian(b: usize, n: usize, rng: &mut dyn rand::RngCore, device: &Device) -> Tensor<2> {
    use rand_distr::{Distribution, StandardNormal};
    let v: Vec<f32> = (0..b * n).map(|_| StandardNormal.sample(&mut *rng)).collect();
    Tensor::from_data(TensorData::new(v, [b, n]), device)
}

#[derive(Module, Debug)]
pub struct DiffRec {
    pub denoiser: Denoiser,
    #[module(skip)]
    cfg: DiffRecConfig,
}

impl DiffRecConfig {
    pub fn model(&self, n_items: usize, device: &Device) -> DiffRec {
        DiffRec { denoiser: self.init(n_items, n_items, device), cfg: self.clone() }
    }
}

impl TopKKind for DiffRecConfig {
    fn check(&self) -> Result<(), String> {
        self.validate()
    }

    fn diffusion(&self) -> Option<&DiffRecConfig> {
        Some(self)
    }

    fn build(&self, shape: &Shape<'_>, seed: u64, device: &Device) -> Result<TopKModel, String> {
        Ok(TopKModel::Diffrec(crate::init::build_seeded(seed, || self.model(shape.items, device))))
    }
}

impl TopKNet for DiffRec {
    fn loss(&self, x: Tensor<2>, _users: Tensor<1, Int>, ctx: &mut StepContext<'_>) -> Tensor<1> {
        super::timesteps::diffusion_loss(self, x, Input::Data, ctx).0
    }

    fn scores(&self, x: Tensor<2>, _users: Tensor<1, Int>, rng: &mut dyn rand::RngCore) -> Tensor<2> {
        DiffRec::scores(self, x, rng)
    }
}

impl DiffRec {
    pub fn config(&self) -> &DiffRecConfig {
        &self.cfg
    }

    /// `x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) ε` per row, `t` 0-based.
    fn noised(&self, d: &Diffusion, x0: Tensor<2>, noise: Tensor<2>, t: &[usize]) -> Tensor<2> {
        let device = x0.device();
        let a = Diffusion::column(t.iter().map(|&s| d.noising(s).0).collect(), &device);
        let s = Diffusion::column(t.iter().map(|&s| d.noising(s).1).collect(), &device);
        x0 * a + noise * s
    }

    /// `(x_t, ε)` for a data `x0`: [`gaussian`]'s draws and [`DiffRec::noised`]'s arithmetic
    /// (`x0 a + ε s` in f32, the same operations in the same order), in one pass on the host.
    /// `None`, drawing nothing, when `x0` does not hold f32 values.
    fn noised_data(
        &self,
        d: &Diffusion,
        x0: Tensor<2>,
        t: &[usize],
        rng: &mut dyn rand::RngCore,
    ) -> Option<[Tensor<2>; 2]> {
        use rand_distr::{Distribution, StandardNormal};
        let ([b, n], device) = (x0.dims(), x0.device());
        let x = x0.into_data().try_into_vec::<f32>().ok()?;
        let (mut xt, mut noise) = (vec![0f32; b * n], vec![0f32; b * n]);
        for (row, &step) in t.iter().enumerate().take(b) {
            let (a, s) = d.noising(step);
            let span = row * n..(row + 1) * n;
            for ((out, e), &x) in xt[span.clone()].iter_mut().zip(&mut noise[span.clone()]).zip(&x[span]) {
                *e = StandardNormal.sample(&mut *rng);
                *out = x * a + *e * s;
            }
        }
        Some([xt, noise].map(|v| Tensor::from_data(TensorData::new(v, [b, n]), &device)))
    }

    /// Per-row loss terms `[B]` at steps `t`: the MSE over items of the prediction, times
    /// `SNR(t-1) - SNR(t)` when `reweight` and predicting x0.
    pub fn terms(&self, x0: Tensor<2>, t: &[usize], rng: &mut dyn rand::RngCore) -> Tensor<1> {
        self.terms_and_x0(x0, t, rng, Input::Data).0
    }

    /// [`DiffRec::terms`] and the prediction of `x0` from `x_t` `[B, n]` (L-DiffRec decodes it).
    /// `input` says whether `x0` is data or carries a gradient (L-DiffRec's latent).
    pub fn terms_and_x0(
        &self,
        x0: Tensor<2>,
        t: &[usize],
        rng: &mut dyn rand::RngCore,
        input: Input,
    ) -> (Tensor<1>, Tensor<2>) {
        let d = Diffusion::new(&self.cfg);
        let [b, n] = x0.dims();
        let device = x0.device();
        let fused = match input {
            Input::Data => self.noised_data(&d, x0.clone(), t, rng),
            Input::Tracked => None,
        };
        let [xt, noise] = fused.unwrap_or_else(|| {
            let noise = gaussian(b, n, rng, &device);
            [self.noised(&d, x0.clone(), noise.clone(), t), noise]
        });
        let out = match input {
            Input::Data => self.denoiser.forward_data(xt.clone(), t),
            Input::Tracked => self.denoiser.forward(xt.clone(), t),
        };
        let (target, x0_hat) = match self.cfg.mean_type {
            MeanType::X0 => (x0, out.clone()),
            MeanType::Eps => {
                let col = |f: &dyn Fn(f64) -> f64| {
                    Diffusion::column(t.iter().map(|&s| f(d.alpha_bars[s]) as f32).collect(), &device)
                };
                let hat = (xt - out.clone() * col(&|a| (1.0 - a).sqrt())) / col(&|a| a.sqrt());
                (noise, hat)
            }
        };
        let mse = (out - target).powi_scalar(2).mean_dim(1);
        let weighted = if self.cfg.reweight && self.cfg.mean_type == MeanType::X0 {
            mse * Diffusion::column(t.iter().map(|&s| d.weight(s) as f32).collect(), &device)
        } else {
            mse
        };
        (weighted.reshape([b]), x0_hat)
    }

    /// The scores of every item: the observed vector noised to `T'`, then `sample_steps`
    /// deterministic reverse steps.
    pub fn scores(&self, x0: Tensor<2>, rng: &mut dyn rand::RngCore) -> Tensor<2> {
        let d = Diffusion::new(&self.cfg);
        let [b, n] = x0.dims();
        let device = x0.device();
        let mut x = match self.cfg.noise_steps {
            0 => x0,
            k => self.noised(&d, x0, gaussian(b, n, rng, &device), &vec![k - 1; b]),
        };
        for i in (0..self.cfg.sample_steps).rev() {
            let out = self.denoiser.forward(x.clone(), &vec![i; b]);
            let x0_hat = match self.cfg.mean_type {
                MeanType::X0 => out,
                MeanType::Eps => {
                    let ab = d.alpha_bars[i];
                    (x.clone() - out * (1.0 - ab).sqrt()) / ab.sqrt()
                }
            };
            let (c0, ct) = d.posterior(i);
            x = x0_hat * c0 + x * ct;
        }
        x
    }
}
