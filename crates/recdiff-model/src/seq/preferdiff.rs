//! PreferDiff (Liu et al., "Preference Diffusion for Recommendation", ICLR 2025): DreamRec's
//! guided diffusion over the next item's embedding, trained to prefer the positive item to
//! negatives instead of only reconstructing it.
//!
//! * Network, guidance and sampler: DreamRec's ([`DreamRec`]), unchanged — the same SASRec
//!   condition, null vector dropped in with `p_uncond`, x0-predicting MLP denoiser, and the
//!   `sample_steps`-step DDIM sampler with guidance `w`. Items are ranked by inner product with the
//!   generated vector.
//! * Loss, per target row `i` with one shared `t ~ U{1..T}`:
//!   - positive: `x0⁺ = e(target)`, `x̂0⁺ = f(x_t⁺, c, t)`;
//!   - negatives: `negatives` items drawn uniformly from the catalogue without the target, their
//!     centroid `x0⁻ = (1/V) Σ_j e(neg_j)` (the paper's "C": the sum scaled by their number) noised
//!     at the same `t` with its own noise, `x̂0⁻ = f(x_t⁻, c, t)`;
//!   - per-row error `l(x̂, x) = (cos(x̂, x) - 1)²` (`simple = "cosine"`, the paper's released
//!     setting) or `||x̂ - x||²` (`simple = "mse"`, DreamRec's);
//!   - `L = λ mean_i l⁺_i + (1 - λ) mean_i softplus(γ (l⁺_i - l⁻_i))`, i.e.
//!     `λ L_simple + (1 - λ) L_BPR-Diff-C` with `-log σ(-γ (l⁺ - l⁻))`.
//!
//! Choices the paper leaves open:
//! * The BPR term is per row; the authors' code compares the batch means of `l⁺` and `l⁻` inside one
//!   log-sigmoid. The paper's objective is an expectation over rows of the log-sigmoid, which is what
//!   this computes.
//! * Negatives are drawn per row (target excluded by redrawing) from the catalogue (`pool =
//!   "catalogue"`) or from the batch's other targets (`pool = "batch"`, the authors' in-batch
//!   option).
//! * The condition's null-vector dropout is drawn once per row and shared by the positive and the
//!   negative branch, so both are denoised under the same condition, as in the authors' code.

use super::dreamrec::{DreamRec, DreamRecConfig};
use super::{NextItem, SeqKind};
use burn::module::Module;
use burn::nn::Embedding;
use burn::tensor::activation::softplus;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

/// Where negatives are drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NegativePool {
    /// Uniform over the catalogue.
    Catalogue,
    /// The batch's other targets (popularity-distributed, so harder than uniform items).
    Batch,
}

/// The per-row error `L_simple` is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimpleLoss {
    /// `(cos(x̂, x) - 1)²`.
    Cosine,
    /// `||x̂ - x||²`.
    Mse,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PreferDiffConfig {
    /// The network, guidance and sampler (a DreamRec config).
    pub dreamrec: DreamRecConfig,
    /// `λ`: weight of `L_simple`; `1 - λ` weighs the preference term.
    pub lambda: f64,
    /// `γ`: scale of the error difference inside the log-sigmoid.
    pub gamma: f64,
    /// Negatives per row, averaged into one centroid.
    pub negatives: usize,
    pub pool: NegativePool,
    pub simple: SimpleLoss,
}

impl Default for PreferDiffConfig {
    fn default() -> Self {
        Self {
            dreamrec: DreamRecConfig::default(),
            lambda: 0.5,
            gamma: 1.0,
            negatives: 8,
            pool: NegativePool::Catalogue,
            simple: SimpleLoss::Cosine,
        }
    }
}

impl PreferDiffConfig {
    pub fn init(&self, n_items: usize, max_len: usize, device: &Device) -> PreferDiff {
        PreferDiff { net: self.dreamrec.init(n_items, max_len, device), cfg: self.clone() }
    }

    /// Settings the loss cannot run with, named by key (relative to `[model]`).
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.lambda) {
            return Err(format!("lambda = {}: must be in [0, 1]", self.lambda));
        }
        if !(self.gamma.is_finite() && self.gamma > 0.0) {
            return Err(format!("gamma = {}: must be positive and finite", self.gamma));
        }
        if self.negatives == 0 {
            return Err("negatives = 0: PreferDiff needs at least one negative per row".into());
        }
        Ok(())
    }
}

#[derive(Module, Debug)]
pub struct PreferDiff {
    pub net: DreamRec,
    #[module(skip)]
    cfg: PreferDiffConfig,
}

/// Per-row error `[N, 1]` of predictions against targets.
pub fn row_error(pred: Tensor<2>, x0: Tensor<2>, simple: SimpleLoss) -> Tensor<2> {
    match simple {
        SimpleLoss::Mse => (pred - x0).powi_scalar(2).sum_dim(1),
        SimpleLoss::Cosine => {
            let cos = (super::dimerec::unit_rows(pred) * super::dimerec::unit_rows(x0)).sum_dim(1);
            (cos - 1.0).powi_scalar(2)
        }
    }
}

/// `λ mean(l⁺) + (1 - λ) mean(softplus(γ (l⁺ - l⁻)))` from per-row errors `[N, 1]`.
pub fn preference_loss(pos: Tensor<2>, neg: Tensor<2>, lambda: f64, gamma: f64) -> Tensor<1> {
    let bpr = softplus((pos.clone() - neg) * gamma, 1.0).mean();
    pos.mean() * lambda + bpr * (1.0 - lambda)
}

/// `v` negatives for each target, uniform over `1..=n_items` (`Catalogue`) or over the batch's
/// targets (`Batch`), never the row's own target: a draw equal to it is redrawn, and after 16 such
/// draws from a batch that holds little else, taken from the catalogue instead.
pub fn draw_negatives(
    targets: &[i64],
    v: usize,
    n_items: usize,
    pool: NegativePool,
    rng: &mut dyn RngCore,
) -> Vec<i64> {
    let mut out = Vec::with_capacity(targets.len() * v);
    let catalogue = |rng: &mut dyn RngCore| rng.random_range(1..=n_items) as i64;
    for &t in targets {
        for _ in 0..v {
            let draw = |rng: &mut dyn RngCore| match pool {
                NegativePool::Catalogue => catalogue(rng),
                NegativePool::Batch => targets[rng.random_range(0..targets.len())],
            };
            let mut j = draw(rng);
            let mut tries = 0;
            while j == t && n_items > 1 {
                tries += 1;
                j = if tries < 16 { draw(rng) } else { catalogue(rng) };
            }
            out.push(j);
        }
    }
    out
}

impl PreferDiff {
    /// The model's config.
    pub fn config(&self) -> &PreferDiffConfig {
        &self.cfg
    }

    /// The same weights sampling with guidance `w` over `sample_steps` steps (see DreamRec's).
    pub fn with_sampler(mut self, guidance: f64, sample_steps: usize) -> Result<Self, String> {
        self.net = self.net.with_sampler(guidance, sample_steps)?;
        self.cfg.dreamrec = self.net.config().clone();
        Ok(self)
    }

    fn train_loss(&self, seq: Tensor<2, Int>, targets: &[u32], rng: &mut dyn RngCore) -> Tensor<1> {
        let (net, cfg, device) = (&self.net, &self.cfg, seq.device());
        let (states, rows) = net.target_rows(seq, targets);
        let n = rows.len();
        let cond = states.select(0, Tensor::<1, Int>::from_data(TensorData::new(rows.clone(), [n]), &device));
        let pos_ids: Vec<i64> = rows.iter().map(|&r| targets[r as usize] as i64).collect();
        let n_items = net.encoder.item_table().dims()[0] - 1;
        let neg_ids = draw_negatives(&pos_ids, cfg.negatives, n_items, cfg.pool, rng);
        let x0_pos = net.x0_of(pos_ids, &device);
        let d = x0_pos.dims()[1];
        let x0_neg = net.x0_of(neg_ids, &device).reshape([n, cfg.negatives, d]).mean_dim(1).reshape([n, d]);
        let t = net.draw_steps(n, rng);
        let x_t_pos = net.noised(x0_pos.clone(), &t, rng);
        let x_t_neg = net.noised(x0_neg.clone(), &t, rng);
        let cond = net.drop_conditions(cond, rng);
        let pos = row_error(net.denoise(x_t_pos, cond.clone(), &t), x0_pos, cfg.simple);
        let neg = row_error(net.denoise(x_t_neg, cond, &t), x0_neg, cfg.simple);
        preference_loss(pos, neg, cfg.lambda, cfg.gamma)
    }
}

impl NextItem for PreferDiff {
    fn loss(&self, seq: Tensor<2, Int>, targets: &[u32], rng: &mut dyn RngCore) -> Tensor<1> {
        self.train_loss(seq, targets, rng)
    }

    fn item_vectors(&self) -> Tensor<2> {
        self.net.target_table()
    }

    fn query(&self, seq: Tensor<2, Int>, rng: &mut dyn RngCore) -> Tensor<2> {
        self.net.generate(seq, rng)
    }

    fn items(&self) -> &Embedding {
        &self.net.encoder.items
    }

    fn items_mut(&mut self) -> &mut Embedding {
        &mut self.net.encoder.items
    }
}

impl SeqKind for PreferDiffConfig {
    type Model = PreferDiff;

    fn check(&self) -> Result<(), String> {
        self.dreamrec.check_at("dreamrec.")?;
        self.validate()
    }

    /// DreamRec's network, its item table's initial scale drawn after the weights as DreamRec's.
    fn build(&self, n_items: usize, max_len: usize, seed: u64, device: &Device) -> PreferDiff {
        let mut p = crate::init::build_seeded(seed, || self.init(n_items, max_len, device));
        p.net = p.net.with_item_std(seed);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn t2(v: &[f32], rows: usize) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), [rows, v.len() / rows]), &Device::flex())
    }

    #[test]
    fn the_preference_loss_matches_hand_arithmetic_for_both_errors() {
        // Row 1: pred (1, 0) vs x (1, 1): cos = 1/sqrt 2; row 2: pred (0, 2) vs x (0, 1): cos = 1.
        let (pred, x0) = (t2(&[1.0, 0.0, 0.0, 2.0], 2), t2(&[1.0, 1.0, 0.0, 1.0], 2));
        let cos_err = row_error(pred.clone(), x0.clone(), SimpleLoss::Cosine).into_data().try_to_vec::<f32>().unwrap();
        let e1 = (1.0 / 2f32.sqrt() - 1.0).powi(2);
        assert!((cos_err[0] - e1).abs() < 1e-6 && cos_err[1].abs() < 1e-6, "{cos_err:?}");
        let mse = row_error(pred, x0, SimpleLoss::Mse).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(mse, vec![1.0, 1.0]);
        // l⁺ = (0.5, 0.1), l⁻ = (0.2, 0.4), λ = 0.3, γ = 2:
        // 0.3 * 0.3 + 0.7 * mean(ln(1 + e^0.6), ln(1 + e^-0.6)).
        let loss = preference_loss(t2(&[0.5, 0.1], 2), t2(&[0.2, 0.4], 2), 0.3, 2.0).into_scalar::<f32>();
        let want = 0.3 * 0.3 + 0.7 * ((1.0 + 0.6f64.exp()).ln() + (1.0 + (-0.6f64).exp()).ln()) / 2.0;
        assert!((loss as f64 - want).abs() < 1e-6, "{loss} vs {want}");
    }

    #[test]
    fn batch_negatives_come_from_the_other_targets() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let targets = [5i64, 9, 9, 2];
        let neg = draw_negatives(&targets, 20, 100, NegativePool::Batch, &mut rng);
        for (i, chunk) in neg.chunks(20).enumerate() {
            assert!(chunk.iter().all(|&j| j != targets[i] && targets.contains(&j)), "{i}: {chunk:?}");
        }
        // A batch of one target has nothing else: the catalogue stands in.
        let lone = draw_negatives(&[3], 5, 100, NegativePool::Batch, &mut rng);
        assert!(lone.iter().all(|&j| j != 3 && (1..=100).contains(&j)), "{lone:?}");
    }

    #[test]
    fn negatives_never_include_the_rows_own_target() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let targets = [1i64, 2, 3];
        let neg = draw_negatives(&targets, 50, 3, NegativePool::Catalogue, &mut rng);
        for (i, chunk) in neg.chunks(50).enumerate() {
            assert!(chunk.iter().all(|&j| j != targets[i] && (1..=3).contains(&j)), "{chunk:?}");
            // Both other items are drawn.
            assert!((1..=3).filter(|&j| j != targets[i]).all(|j| chunk.contains(&j)));
        }
    }

    #[test]
    fn lambda_one_is_the_simple_loss_and_lambda_zero_the_preference_term_alone() {
        let (pos, neg) = (t2(&[0.5, 0.1], 2), t2(&[0.2, 0.4], 2));
        let simple = preference_loss(pos.clone(), neg.clone(), 1.0, 1.0).into_scalar::<f32>();
        assert!((simple - 0.3).abs() < 1e-6);
        let bpr = preference_loss(pos, neg, 0.0, 1.0).into_scalar::<f32>() as f64;
        let want = ((1.0 + 0.3f64.exp()).ln() + (1.0 + (-0.3f64).exp()).ln()) / 2.0;
        assert!((bpr - want).abs() < 1e-6, "{bpr} vs {want}");
    }

    fn vec2(t: Tensor<2>) -> Vec<Vec<f64>> {
        let [_, d] = t.dims();
        t.into_data().try_to_vec::<f32>().unwrap().chunks(d).map(|r| r.iter().map(|&v| v as f64).collect()).collect()
    }

    #[test]
    fn the_training_loss_denoises_the_negatives_centroid_at_the_positives_step() {
        use crate::seq::sasrec::SasRecConfig;
        let device = Device::flex();
        let cfg = PreferDiffConfig {
            dreamrec: DreamRecConfig {
                encoder: SasRecConfig { dim: 8, heads: 2, layers: 1, dropout: 0.0 },
                steps: 10,
                sample_steps: 2,
                p_uncond: 0.5,
                ..DreamRecConfig::default()
            },
            lambda: 0.3,
            gamma: 2.0,
            negatives: 3,
            pool: NegativePool::Catalogue,
            simple: SimpleLoss::Cosine,
        };
        let model = crate::init::build_seeded(7, || cfg.init(12, 3, &device));
        let seq = || super::super::ids_tensor(&[vec![0, 4, 5], vec![6, 7, 8]], &device);
        let targets = [0, 5, 9, 7, 8, 1];
        let loss = model.loss(seq(), &targets, &mut ChaCha8Rng::seed_from_u64(11)).into_scalar::<f32>() as f64;

        // The same draws, in the same order, composed by hand.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let net = &model.net;
        let (states, rows) = net.target_rows(seq(), &targets);
        assert_eq!(rows, vec![1, 2, 3, 4, 5]);
        let n = rows.len();
        let pos_ids: Vec<i64> = rows.iter().map(|&r| targets[r as usize] as i64).collect();
        let neg_ids = draw_negatives(&pos_ids, 3, 12, NegativePool::Catalogue, &mut rng);
        let negs = vec2(net.x0_of(neg_ids, &device));
        let centroid: Vec<f32> = negs
            .chunks(3)
            .flat_map(|c| (0..8).map(|k| (c.iter().map(|r| r[k]).sum::<f64>() / 3.0) as f32).collect::<Vec<_>>())
            .collect();
        let x0_neg = Tensor::<2>::from_data(TensorData::new(centroid, [n, 8]), &device);
        let x0_pos = net.x0_of(pos_ids, &device);
        let t = net.draw_steps(n, &mut rng);
        let x_t_pos = net.noised(x0_pos.clone(), &t, &mut rng);
        let x_t_neg = net.noised(x0_neg.clone(), &t, &mut rng);
        let idx = Tensor::<1, Int>::from_data(TensorData::new(rows, [n]), &device);
        let cond = net.drop_conditions(states.select(0, idx), &mut rng);
        let err = |pred: Tensor<2>, x0: Tensor<2>| -> Vec<f64> {
            vec2(pred)
                .iter()
                .zip(vec2(x0))
                .map(|(p, x)| {
                    let dot: f64 = p.iter().zip(&x).map(|(a, b)| a * b).sum();
                    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
                    (dot / (norm(p) * norm(&x)) - 1.0).powi(2)
                })
                .collect()
        };
        let pos = err(net.denoise(x_t_pos, cond.clone(), &t), x0_pos);
        let neg = err(net.denoise(x_t_neg, cond, &t), x0_neg);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let bpr: Vec<f64> = pos.iter().zip(&neg).map(|(p, q)| (1.0 + (2.0 * (p - q)).exp()).ln()).collect();
        let want = 0.3 * mean(&pos) + 0.7 * mean(&bpr);
        assert!(pos.iter().zip(&neg).any(|(p, q)| (p - q).abs() > 1e-4), "the branches must differ: {pos:?}");
        assert!((loss - want).abs() < 1e-5 * want.max(1.0), "{loss} vs {want}");
    }
}
