//! The top-K models' loss arithmetic against hand-computed values.

use burn::tensor::{Device, Tensor, TensorData};
use recdiff_model::topk::diffrec::{DiffRecConfig, Diffusion, Schedule};
use recdiff_model::topk::multivae::{l2_rows, multinomial_nll};

fn t2(v: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), &Device::flex())
}

#[test]
fn multinomial_likelihood_sums_log_softmax_over_the_observed_items() {
    // softmax([0, ln 2, 0]) = [1/4, 1/2, 1/4]; items 0 and 1 observed: -(ln 1/4 + ln 1/2) = ln 8.
    // Second row: softmax([0, 0, 0]) = 1/3 each, item 2 observed with weight 0.5: 0.5 ln 3.
    let logits = t2(vec![0.0, 2f32.ln(), 0.0, 0.0, 0.0, 0.0], [2, 3]);
    let x = t2(vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.5], [2, 3]);
    let got = multinomial_nll(logits, x).into_scalar::<f32>() as f64;
    let want = (8f64.ln() + 0.5 * 3f64.ln()) / 2.0;
    assert!((got - want).abs() < 1e-5, "{got} vs {want}");
}

#[test]
fn rows_are_scaled_to_unit_length() {
    let v = l2_rows(t2(vec![3.0, 4.0, 0.0, 0.0], [2, 2])).into_data().try_into_vec::<f32>().unwrap();
    assert_eq!(v, vec![0.6, 0.8, 0.0, 0.0]);
}

#[test]
fn linear_var_schedule_posterior_and_weights_match_a_hand_computation() {
    let cfg = DiffRecConfig {
        steps: 2,
        schedule: Schedule::LinearVar,
        noise_scale: 1.0,
        noise_min: 0.1,
        noise_max: 0.3,
        sample_steps: 2,
        ..DiffRecConfig::default()
    };
    let d = Diffusion::new(&cfg);
    // 1 - ᾱ linear from 0.1 to 0.3: ᾱ = [0.9, 0.7], β = [0.1, 1 - 0.7/0.9].
    assert!((d.alpha_bars[0] - 0.9).abs() < 1e-12 && (d.alpha_bars[1] - 0.7).abs() < 1e-12);
    let b1 = 1.0 - 0.7 / 0.9;
    assert!((d.betas[1] - b1).abs() < 1e-12);
    let (c0, ct) = d.posterior(1);
    assert!((c0 - b1 * 0.9f64.sqrt() / 0.3).abs() < 1e-12);
    assert!((ct - 0.1 * (1.0 - b1).sqrt() / 0.3).abs() < 1e-12);
    let (c0, ct) = d.posterior(0);
    assert!((c0 - 1.0).abs() < 1e-12 && ct == 0.0, "the last reverse step returns the predicted x0: {c0}, {ct}");
    // SNR(0) - SNR(1) = 0.9/0.1 - 0.7/0.3.
    assert!((d.weight(1) - (9.0 - 7.0 / 3.0)).abs() < 1e-9);
    assert_eq!(d.weight(0), 1.0);
    let linear = DiffRecConfig { schedule: Schedule::Linear, ..cfg };
    assert_eq!(linear.betas(), vec![0.1, 0.3]);
}
