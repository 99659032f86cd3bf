//! Each enhancer's training loss on a tiny hand-computed case: all dense weights set to zero, so
//! `h(x) = 0`, `f(z) = 0` (BCE = ln 2) and every enhancer network outputs zeros; what remains is
//! each loss's own arithmetic (masking, KL, InfoNCE over the batch, weights). These cannot see
//! wiring (which copy, which mask, which tensor is detached): `enhancer_wiring.rs` pins that on
//! non-zero weights for AsymDiffRec and the MultiVAE and DiffRec serving transforms.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Tensor, TensorData};
use recdiff_model::base::BaseConfig;
use recdiff_model::base::dcn::DcnV2Config;
use recdiff_model::enhancer::cdae::CdaeConfig;
use recdiff_model::enhancer::diffrec::DiffRecConfig;
use recdiff_model::enhancer::multivae::MultiVaeConfig;
use recdiff_model::enhancer::ssl::SslConfig;
use recdiff_model::{CtrModelConfig, EnhancerConfig, TrainInputs};

struct Zero;
impl ModuleMapper for Zero {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        p.map(|t| t.zeros_like())
    }
}

const B: usize = 4;
const F: usize = 2;
const DIM: usize = 2;
const Z: usize = 8;

fn t(v: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), &Device::flex())
}

/// Total and extra terms for `enhancer` with `copies` corrupted copies.
fn losses(enhancer: EnhancerConfig, copies: usize) -> (f64, Vec<(&'static str, f64)>) {
    let base =
        BaseConfig::DcnV2(DcnV2Config { cross_layers: 1, deep: vec![4], latent_dim: Z, ..DcnV2Config::default() });
    let cfg = CtrModelConfig { base, enhancer: enhancer.clone() };
    let model = cfg.init(F, DIM, 1, &Device::flex()).map(&mut Zero);
    // x: clean rows have field 0 = (1, 2) present and field 1 missing (zeros); copies are zeros.
    let mut x = Vec::new();
    for _ in 0..B {
        x.extend([1.0, 2.0, 0.0, 0.0]);
    }
    x.extend(vec![0.0; copies * B * F * DIM]);
    let clean_mask: Vec<f32> = (0..B).flat_map(|_| [0.0, 1.0]).collect();
    let inputs = TrainInputs {
        x: t(x, [(1 + copies) * B, F * DIM]),
        clean_mask: t(clean_mask.clone(), [B, F]),
        copy_masks: (0..copies).map(|_| t(vec![1.0; B * F], [B, F])).collect(),
        y: t(vec![1.0, 0.0, 1.0, 0.0], [B, 1]),
        noise: Some((t((0..B * Z).map(|i| (i as f32 * 0.3).sin()).collect(), [B, Z]), &[1, 5, 10, 20])),
        step: 10,
    };
    assert_eq!(model.enhance().noise_plan().copies(), copies, "{enhancer:?}");
    let l = model.losses(inputs);
    let v = |x: Tensor<1>| x.into_scalar::<f32>() as f64;
    (v(l.total), l.extra.into_iter().map(|(n, x)| (n, v(x))).collect())
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-5, "{a} vs {b}");
}

const LN2: f64 = std::f64::consts::LN_2;

#[test]
fn base_alone_is_the_main_bce() {
    close(losses(EnhancerConfig::None, 0).0, LN2);
}

#[test]
fn cdae_reconstructs_only_present_fields() {
    // decoder outputs 0; present targets are (1, 2) in every row: mean of 1 and 4 = 2.5. The
    // missing field's zeros are not targets (otherwise the mean would be 1.25).
    let (total, extra) = losses(EnhancerConfig::Cdae(CdaeConfig { recon_weight: 0.5, ..Default::default() }), 1);
    close(extra[0].1, 2.5);
    close(total, LN2 + 0.5 * 2.5);
}

#[test]
fn multivae_kl_vanishes_at_the_prior_and_beta_anneals() {
    let cfg = MultiVaeConfig { beta: 0.2, anneal_steps: 100 };
    assert!((cfg.beta_at(10) - 0.02).abs() < 1e-7 && cfg.beta_at(1000) == 0.2);
    let (total, extra) = losses(EnhancerConfig::MultiVae(cfg), 0);
    close(extra[0].1, 0.0);
    close(total, LN2);
}

#[test]
fn ssl_infonce_is_ln_batch_when_views_are_indistinguishable() {
    let (total, extra) = losses(EnhancerConfig::Ssl(SslConfig { ssl_weight: 0.1, ..Default::default() }), 2);
    close(extra[0].1, (B as f64).ln());
    close(total, LN2 + 0.1 * (B as f64).ln());
}

#[test]
fn diffrec_recon_is_zero_and_aux_ln2() {
    let (total, extra) = losses(EnhancerConfig::DiffRec(DiffRecConfig { aux_weight: 1.0, ..Default::default() }), 0);
    close(extra[0].1, 0.0);
    close(total, 2.0 * LN2);
}
