//! The enhancers wired as their papers say, on small networks with fixed non-zero weights: every
//! loss term and serving transform is recomputed here in plain f64 arithmetic from the same
//! weights (an MLP base, `h(x) = relu(x Wp + bp)`, `f(z) = z Wh + bh`), so using the clean copy
//! where the noisy one belongs, the wrong mask, a missing ReLU or an undetached target changes a
//! number these tests pin.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Tensor, TensorData};
use recdiff_model::base::BaseConfig;
use recdiff_model::base::mlp::MlpConfig;
use recdiff_model::diffusion::time_embedding;
use recdiff_model::enhancer::asymdiffrec::{AsymDiffRecConfig, ReconReduction};
use recdiff_model::enhancer::diffrec::DiffRecConfig;
use recdiff_model::enhancer::multivae::MultiVaeConfig;
use recdiff_model::{CtrModel, CtrModelConfig, EnhancerConfig, TrainInputs};

const B: usize = 3;
const F: usize = 2;
const DIM: usize = 2;
const Z: usize = 3;

/// Clean rows (row 1's field 0 is missing), their mask, and the dropped copy: row 0 loses field 1,
/// row 2 field 0, row 1 nothing more. The copy's mask is originally missing plus dropped.
const CLEAN: [f32; B * F * DIM] = [0.5, -1.0, 0.8, 0.3, 0.0, 0.0, 1.2, -0.4, -0.6, 0.9, 0.4, 1.1];
const CLEAN_MASK: [f32; B * F] = [0.0, 0.0, 1.0, 0.0, 0.0, 0.0];
const NOISY: [f32; B * F * DIM] = [0.5, -1.0, 0.0, 0.0, 0.0, 0.0, 1.2, -0.4, 0.0, 0.0, 0.4, 1.1];
const NOISY_MASK: [f32; B * F] = [0.0, 1.0, 1.0, 0.0, 1.0, 0.0];
const Y: [f32; B] = [1.0, 0.0, 1.0];

/// Overwrites parameter `p`'s element `i` with `0.6 sin(1.7 i + 0.9 p + 0.2)`.
struct Fill(usize);
impl ModuleMapper for Fill {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let p = self.0;
        self.0 += 1;
        param.map(|t| {
            let dims = t.dims();
            let n: usize = dims.iter().product();
            let v: Vec<f32> = (0..n).map(|i| 0.6 * (1.7 * i as f32 + 0.9 * p as f32 + 0.2).sin()).collect();
            Tensor::from_data(TensorData::new(v, dims), &t.device())
        })
    }
}

/// Every float parameter's shape and values, in visit order.
#[derive(Default)]
struct Collect(Vec<(Vec<usize>, Vec<f64>)>);
impl ModuleMapper for Collect {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let t = param.val();
        let v = t.clone().into_data().try_into_vec::<f32>().unwrap();
        self.0.push((t.dims().to_vec(), v.into_iter().map(f64::from).collect()));
        param
    }
}

/// `x W + b` with `W` `[in, out]` (burn's layout).
struct Dense {
    w: Vec<f64>,
    b: Vec<f64>,
    out: usize,
}

impl Dense {
    fn apply(&self, x: &[f64]) -> Vec<f64> {
        (0..self.out)
            .map(|j| self.b[j] + x.iter().enumerate().map(|(i, xi)| xi * self.w[i * self.out + j]).sum::<f64>())
            .collect()
    }
}

/// The model's layers in visit order, each checked against its expected `[in, out]`.
fn layers(model: &CtrModel, shapes: &[[usize; 2]]) -> Vec<Dense> {
    let mut c = Collect::default();
    let _ = model.clone().map(&mut c);
    assert_eq!(c.0.len(), 2 * shapes.len(), "parameters: {:?}", c.0.iter().map(|p| &p.0).collect::<Vec<_>>());
    shapes
        .iter()
        .zip(c.0.chunks(2))
        .map(|(&[i, o], wb)| {
            assert_eq!((&wb[0].0[..], &wb[1].0[..]), (&[i, o][..], &[o][..]));
            Dense { w: wb[0].1.clone(), b: wb[1].1.clone(), out: o }
        })
        .collect()
}

fn relu(v: Vec<f64>) -> Vec<f64> {
    v.into_iter().map(|x| x.max(0.0)).collect()
}

fn bce(logit: f64, y: f64) -> f64 {
    logit.max(0.0) - logit * y + (-logit.abs()).exp().ln_1p()
}

fn rows(flat: &[f32], width: usize) -> Vec<Vec<f64>> {
    flat.chunks(width).map(|r| r.iter().map(|&v| f64::from(v)).collect()).collect()
}

fn model(enhancer: EnhancerConfig, device: &Device) -> CtrModel {
    let base = BaseConfig::Mlp(MlpConfig { hidden: vec![], latent_dim: Z });
    CtrModelConfig { base, enhancer }.init(F, DIM, 1, device).map(&mut Fill(0))
}

fn t(v: &[f32], shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), device)
}

fn inputs<'a>(x: Tensor<2>, device: &Device) -> TrainInputs<'a> {
    TrainInputs {
        x,
        clean_mask: t(&CLEAN_MASK, [B, F], device),
        copy_masks: vec![t(&NOISY_MASK, [B, F], device)],
        y: t(&Y, [B, 1], device),
        noise: None,
        step: 1,
    }
}

fn stacked(device: &Device) -> Tensor<2> {
    t(&[CLEAN, NOISY].concat(), [2 * B, F * DIM], device)
}

fn asym(stop_gradient: bool, recon: ReconReduction) -> EnhancerConfig {
    EnhancerConfig::AsymDiffRec(AsymDiffRecConfig {
        hidden: 4,
        layers: 2,
        main_weight: 1.0,
        recon_weight: 0.7,
        aux_weight: 0.3,
        stop_gradient,
        recon,
        max_drop_fraction: 1.0,
    })
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-5 * (1.0 + b.abs()), "{what}: model {a}, by hand {b}");
}

/// (main, recon as a squared norm, aux) by hand.
fn asym_by_hand(l: &[Dense]) -> (f64, f64, f64) {
    let (proj, head, g1, g2) = (&l[0], &l[1], &l[2], &l[3]);
    let (clean, noisy, s) = (rows(&CLEAN, F * DIM), rows(&NOISY, F * DIM), rows(&NOISY_MASK, F));
    let (mut main, mut recon, mut aux) = (0.0, 0.0, 0.0);
    for b in 0..B {
        let z0 = relu(proj.apply(&clean[b]));
        let zt = relu(proj.apply(&noisy[b]));
        let g = g2.apply(&relu(g1.apply(&[s[b].clone(), zt].concat())));
        assert!(z0.iter().any(|v| *v > 0.0) && g.iter().any(|v| v.abs() > 1e-3), "a degenerate case");
        main += bce(head.apply(&z0)[0], Y[b].into()) / B as f64;
        recon += g.iter().zip(&z0).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / B as f64;
        aux += bce(head.apply(&g)[0], Y[b].into()) / B as f64;
    }
    (main, recon, aux)
}

const ASYM_SHAPES: [[usize; 2]; 4] = [[F * DIM, Z], [Z, 1], [F + Z, 4], [4, Z]];

#[test]
fn asymdiffrec_losses_are_main_on_the_clean_copy_recon_and_aux_on_g_of_the_dropped_copy() {
    let device = Device::flex();
    for (reduction, per) in [(ReconReduction::SquaredNorm, 1.0), (ReconReduction::Mean, Z as f64)] {
        let m = model(asym(true, reduction), &device);
        let (main, recon, aux) = asym_by_hand(&layers(&m, &ASYM_SHAPES));
        let l = m.losses(inputs(stacked(&device), &device));
        let v = |x: Tensor<1>| f64::from(x.into_scalar::<f32>());
        let extra: Vec<f64> = l.extra.into_iter().map(|(_, x)| v(x)).collect();
        close(v(l.main), main, "L_main");
        close(extra[0], recon / per, "L_recon");
        close(extra[1], aux, "L_aux");
        close(v(l.total), main + 0.7 * recon / per + 0.3 * aux, "total");
    }
}

#[test]
fn asymdiffrec_serves_f_of_g_of_the_mask_and_h_not_f_of_h() {
    let device = Device::flex();
    let m = model(asym(true, ReconReduction::SquaredNorm), &device);
    let l = layers(&m, &ASYM_SHAPES);
    let served = m.logits(t(&CLEAN, [B, F * DIM], &device), t(&CLEAN_MASK, [B, F], &device));
    let served = served.into_data().try_into_vec::<f32>().unwrap();
    let (clean, s) = (rows(&CLEAN, F * DIM), rows(&CLEAN_MASK, F));
    let mut apart = 0.0f64;
    for b in 0..B {
        let z = relu(l[0].apply(&clean[b]));
        let g = l[3].apply(&relu(l[2].apply(&[s[b].clone(), z.clone()].concat())));
        close(served[b].into(), l[1].apply(&g)[0], &format!("row {b}"));
        apart = apart.max((f64::from(served[b]) - l[1].apply(&z)[0]).abs());
    }
    assert!(apart > 1e-2, "serving equals f(h(x)): the completion is not applied");
}

/// The gradient of L_recon with respect to the clean rows of the input.
fn recon_gradient_on_clean_rows(stop_gradient: bool) -> (f64, f64) {
    let device = Device::flex().autodiff();
    let m = model(asym(stop_gradient, ReconReduction::SquaredNorm), &device);
    let x = stacked(&device).require_grad();
    let mut losses = m.losses(inputs(x.clone(), &device));
    let recon = losses.extra.remove(0).1;
    let mut grads = recon.backward();
    let g = x.grad_remove(&mut grads).unwrap().into_data().try_into_vec::<f32>().unwrap();
    let norm = |r: &[f32]| r.iter().map(|v| f64::from(v.abs())).sum::<f64>();
    (norm(&g[..B * F * DIM]), norm(&g[B * F * DIM..]))
}

#[test]
fn stop_gradient_detaches_the_clean_latent_from_the_reconstruction() {
    let (clean, noisy) = recon_gradient_on_clean_rows(true);
    assert_eq!(clean, 0.0, "L_recon reached h of the clean rows through a detached target");
    assert!(noisy > 1e-3, "L_recon must train g and h through the dropped copy");
    let (clean, _) = recon_gradient_on_clean_rows(false);
    assert!(clean > 1e-3, "without stop_gradient the target is trained too");
}

/// Serving logits of `enhancer` on the clean rows, and `f(h(x))` by hand per row with the layers.
fn served(enhancer: EnhancerConfig, shapes: &[[usize; 2]]) -> (Vec<f64>, Vec<Dense>) {
    let device = Device::flex();
    let m = model(enhancer, &device);
    let l = layers(&m, shapes);
    let out = m.logits(t(&CLEAN, [B, F * DIM], &device), t(&CLEAN_MASK, [B, F], &device));
    (out.into_data().try_into_vec::<f32>().unwrap().into_iter().map(f64::from).collect(), l)
}

#[test]
fn multivae_serves_f_of_the_posterior_mean() {
    let (out, l) = served(EnhancerConfig::MultiVae(MultiVaeConfig::default()), &[[F * DIM, Z], [Z, 1], [Z, Z], [Z, Z]]);
    for (b, x) in rows(&CLEAN, F * DIM).iter().enumerate() {
        let z = relu(l[0].apply(x));
        close(out[b], l[1].apply(&l[2].apply(&z))[0], &format!("row {b}"));
        assert!((out[b] - l[1].apply(&l[3].apply(&z))[0]).abs() > 1e-3, "served through logvar");
    }
}

#[test]
fn diffrec_serves_f_of_the_denoiser_at_step_one_on_the_scaled_latent() {
    let cfg = DiffRecConfig { hidden: vec![4], time_dim: 4, beta_start: 0.05, beta_end: 0.2, ..Default::default() };
    let sqrt_ab1 = cfg.alpha_bars()[0].sqrt();
    let (out, l) = served(EnhancerConfig::DiffRec(cfg), &[[F * DIM, Z], [Z, 1], [Z + 4, 4], [4, Z]]);
    let emb = time_embedding(&[1], 4, &Device::flex()).into_data().try_into_vec::<f32>().unwrap();
    let emb: Vec<f64> = emb.into_iter().map(f64::from).collect();
    for (b, x) in rows(&CLEAN, F * DIM).iter().enumerate() {
        let z: Vec<f64> = relu(l[0].apply(x)).into_iter().map(|v| v * sqrt_ab1).collect();
        let d = l[3].apply(&relu(l[2].apply(&[z, emb.clone()].concat())));
        close(out[b], l[1].apply(&d)[0], &format!("row {b}"));
    }
}
