//! Loss functions shared by the enhancers, written once on burn tensors and pinned by hand-computed
//! tests.

use burn::tensor::activation::{log_sigmoid, log_softmax};
use burn::tensor::{Int, Tensor, TensorData};

/// Mean binary cross-entropy of `logits` against 0/1 float `targets` (`[B, 1]`), numerically stable.
pub fn bce_with_logits(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let pos = log_sigmoid(logits.clone());
    let neg = log_sigmoid(logits.neg());
    (targets.clone() * pos + (targets.neg() + 1.0) * neg).neg().mean()
}

/// Mean squared error over all elements.
pub fn mse(a: Tensor<2>, b: Tensor<2>) -> Tensor<1> {
    (a - b).powi_scalar(2).mean()
}

/// Squared error averaged over the elements where `weight` is 1 (`weight`: same shape, 0/1);
/// 0 when no element is selected.
pub fn masked_mse(a: Tensor<2>, b: Tensor<2>, weight: Tensor<2>) -> Tensor<1> {
    let n = weight.clone().sum().clamp_min(1.0);
    ((a - b).powi_scalar(2) * weight).sum() / n
}

/// KL(N(mu, exp(logvar)) || N(0, I)) summed over the latent dimensions, averaged over the batch.
pub fn kl_standard_normal(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    let b = mu.dims()[0] as f64;
    let per = logvar.clone().exp() + mu.powi_scalar(2) - logvar - 1.0;
    per.sum() * (0.5 / b)
}

/// InfoNCE between two views `[B, d]` (rows L2-normalised here): row i of `a` should match row i
/// of `b` against the other rows of `b` (in-batch negatives), and vice versa; the two directions'
/// cross-entropies are averaged.
pub fn info_nce(a: Tensor<2>, b: Tensor<2>, temperature: f64) -> Tensor<1> {
    let n = a.dims()[0];
    let norm = |t: Tensor<2>| {
        let len = t.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
        t / len
    };
    let (a, b) = (norm(a), norm(b));
    let logits = a.matmul(b.transpose()) / temperature;
    let device = logits.device();
    let eye = Tensor::<2, Int>::from_data(TensorData::new((0..n as i64).collect::<Vec<_>>(), [n, 1]), &device);
    let diag_ab = log_softmax(logits.clone(), 1).gather(1, eye.clone());
    let diag_ba = log_softmax(logits.transpose(), 1).gather(1, eye);
    (diag_ab.mean() + diag_ba.mean()).neg() * 0.5
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn t(v: &[f32], shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), shape), &Device::flex())
    }

    fn close(x: Tensor<1>, expected: f64) {
        let v: f32 = x.into_scalar();
        assert!((v as f64 - expected).abs() < 1e-5, "{v} vs {expected}");
    }

    #[test]
    fn bce_matches_hand_computation() {
        // -(ln σ(0) + ln(1 - σ(2))) / 2 = (ln 2 + ln(1 + e^2)) / 2
        close(
            bce_with_logits(t(&[0.0, 2.0], [2, 1]), t(&[1.0, 0.0], [2, 1])),
            (2f64.ln() + (1.0 + 2f64.exp()).ln()) / 2.0,
        );
    }

    #[test]
    fn masked_mse_averages_selected_elements_only() {
        // errors 1, 2, 3 (last masked out): (1 + 4) / 2
        close(masked_mse(t(&[1.0, 2.0, 3.0], [1, 3]), t(&[0.0; 3], [1, 3]), t(&[1.0, 1.0, 0.0], [1, 3])), 2.5);
        close(mse(t(&[1.0, 2.0], [1, 2]), t(&[0.0, 0.0], [1, 2])), 2.5);
    }

    #[test]
    fn kl_of_a_unit_gaussian_is_zero_and_of_a_shifted_one_is_half_mu_squared() {
        close(kl_standard_normal(t(&[0.0, 0.0], [1, 2]), t(&[0.0, 0.0], [1, 2])), 0.0);
        // mu = (1, 2), logvar = 0: 0.5 * (1 + 4) = 2.5; logvar = ln 2 on one dim adds 0.5 * (2 - ln2 - 1)
        close(kl_standard_normal(t(&[1.0, 2.0], [1, 2]), t(&[0.0, 0.0], [1, 2])), 2.5);
        close(kl_standard_normal(t(&[0.0], [1, 1]), t(&[2f32.ln()], [1, 1])), 0.5 * (1.0 - 2f64.ln()));
    }

    #[test]
    fn info_nce_matches_hand_computation() {
        // a = b = identity rows: logits = I / τ; each row's CE = -ln(e^{1/τ} / (e^{1/τ} + 1)).
        let tau = 0.5f64;
        let expected = -((1.0 / tau).exp() / ((1.0 / tau).exp() + 1.0)).ln();
        close(info_nce(t(&[1.0, 0.0, 0.0, 1.0], [2, 2]), t(&[1.0, 0.0, 0.0, 1.0], [2, 2]), tau), expected);
        // rows are normalised first: scaling a view changes nothing.
        close(info_nce(t(&[3.0, 0.0, 0.0, 0.5], [2, 2]), t(&[1.0, 0.0, 0.0, 1.0], [2, 2]), tau), expected);
    }
}
