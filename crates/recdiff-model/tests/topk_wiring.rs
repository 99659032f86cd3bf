//! The top-K models' losses and scores with fixed non-zero weights, against a plain-f64 reference
//! written from each paper's equations: CDAE's user node and BCE, MultiVAE's encoder, mean path and
//! reparameterised loss, DiffRec's one-step serving, L-DiffRec's per-group encoders and decoders.

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use recdiff_model::topk::cdae::CdaeConfig;
use recdiff_model::topk::diffrec::{DiffRecConfig, Input, TimestepSampling};
use recdiff_model::topk::multivae::MultiVaeConfig;

/// Sets every float parameter, in visit order, to distinct non-zero values and keeps them.
struct Fill {
    params: Vec<(Vec<usize>, Vec<f64>)>,
}

impl ModuleMapper for Fill {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let k = self.params.len();
        let params = &mut self.params;
        param.map(|t| {
            let dims = t.dims().to_vec();
            let n: usize = dims.iter().product();
            let v: Vec<f64> = (0..n).map(|i| 0.3 * (((i * 7 + k * 3) % 11) as f64 - 5.0) / 5.0 + 0.05).collect();
            params.push((dims.clone(), v.clone()));
            let f: Vec<f32> = v.iter().map(|&x| x as f32).collect();
            Tensor::<D>::from_data(TensorData::new(f, dims), &t.device())
        })
    }
}

fn filled<M: Module>(m: M) -> (M, Vec<Vec<f64>>) {
    let mut f = Fill { params: vec![] };
    let m = m.map(&mut f);
    (m, f.params.into_iter().map(|(_, v)| v).collect())
}

/// `x W + b` for `W` stored `[d_in, d_out]` row-major.
fn linear(x: &[f64], w: &[f64], b: Option<&[f64]>, d_out: usize) -> Vec<f64> {
    (0..d_out)
        .map(|j| x.iter().enumerate().map(|(i, xi)| xi * w[i * d_out + j]).sum::<f64>() + b.map_or(0.0, |b| b[j]))
        .collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn t2(v: &[f64], shape: [usize; 2], d: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), shape), d)
}

const X: [f64; 6] = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0];

#[test]
fn cdae_loss_is_the_bce_of_a_user_node_network_summed_over_items() {
    let d = Device::flex();
    let (m, p) = filled(CdaeConfig { hidden: 2, dropout: 0.0 }.init(2, 3, &d));
    let users = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 0], [2]), &d);
    let got = m.loss(t2(&X, [2, 3], &d), users).into_scalar::<f32>() as f64;
    // Visit order: enc.weight [3,2], enc.bias [2], users.weight [2,2], dec.weight [2,3], dec.bias [3].
    let mut want = 0.0;
    for (row, user) in [(0usize, 1usize), (1, 0)] {
        let x = &X[row * 3..row * 3 + 3];
        let pre = linear(x, &p[0], Some(&p[1]), 2);
        let h: Vec<f64> = (0..2).map(|j| sigmoid(pre[j] + p[2][user * 2 + j])).collect();
        let logits = linear(&h, &p[3], Some(&p[4]), 3);
        want -= (0..3)
            .map(|i| x[i] * sigmoid(logits[i]).ln() + (1.0 - x[i]) * (1.0 - sigmoid(logits[i])).ln())
            .sum::<f64>();
    }
    want /= 2.0;
    assert!((got - want).abs() < 1e-5, "{got} vs {want}");
}

/// MultiVAE's encoder by hand: (mu, logvar) of one row.
fn vae_encode(p: &[Vec<f64>], x: &[f64], hidden: usize, latent: usize) -> (Vec<f64>, Vec<f64>) {
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    let xn: Vec<f64> = x.iter().map(|v| v / norm).collect();
    let h: Vec<f64> = linear(&xn, &p[0], Some(&p[1]), hidden).into_iter().map(f64::tanh).collect();
    let out = linear(&h, &p[2], Some(&p[3]), 2 * latent);
    (out[..latent].to_vec(), out[latent..].iter().map(|v| v.clamp(-8.0, 8.0)).collect())
}

fn vae_decode(p: &[Vec<f64>], z: &[f64], hidden: usize, n: usize) -> Vec<f64> {
    let h: Vec<f64> = linear(z, &p[4], Some(&p[5]), hidden).into_iter().map(f64::tanh).collect();
    linear(&h, &p[6], Some(&p[7]), n)
}

#[test]
fn multivae_scores_decode_the_mean_and_its_loss_adds_the_annealed_kl() {
    let d = Device::flex();
    let cfg = MultiVaeConfig { hidden: 2, latent: 2, dropout: 0.0, beta: 0.4, anneal_steps: 10 };
    let (m, p) = filled(cfg.init(3, &d));
    let scores = m.scores(t2(&X, [2, 3], &d)).into_data().try_into_vec::<f32>().unwrap();
    for row in 0..2 {
        let (mu, _) = vae_encode(&p, &X[row * 3..row * 3 + 3], 2, 2);
        let want = vae_decode(&p, &mu, 2, 3);
        for i in 0..3 {
            assert!((scores[row * 3 + i] as f64 - want[i]).abs() < 1e-5, "row {row} item {i}");
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let got = m.loss(t2(&X, [2, 3], &d), 5, &mut rng).into_scalar::<f32>() as f64;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let eps: Vec<f64> = (0..4).map(|_| StandardNormal.sample(&mut rng)).map(|v: f32| v as f64).collect();
    let (mut nll, mut kl) = (0.0, 0.0);
    for row in 0..2 {
        let x = &X[row * 3..row * 3 + 3];
        let (mu, lv) = vae_encode(&p, x, 2, 2);
        let z: Vec<f64> = (0..2).map(|j| mu[j] + eps[row * 2 + j] * (lv[j] / 2.0).exp()).collect();
        let logits = vae_decode(&p, &z, 2, 3);
        let lse = logits.iter().map(|l| l.exp()).sum::<f64>().ln();
        nll -= (0..3).map(|i| x[i] * (logits[i] - lse)).sum::<f64>();
        kl += (0..2).map(|j| 0.5 * (lv[j].exp() + mu[j] * mu[j] - lv[j] - 1.0)).sum::<f64>();
    }
    let want = nll / 2.0 + 0.4 * 0.5 * kl / 2.0; // beta at step 5 of 10: 0.2
    assert!((got - want).abs() < 1e-4, "{got} vs {want}");
}

#[test]
fn diffrec_serving_with_one_step_from_x0_is_the_denoiser_at_step_zero() {
    let d = Device::flex();
    let cfg = DiffRecConfig {
        steps: 2,
        hidden: vec![2],
        time_dim: 2,
        dropout: 0.0,
        noise_steps: 0,
        sample_steps: 1,
        timesteps: TimestepSampling::Uniform,
        ..DiffRecConfig::default()
    };
    let (m, p) = filled(cfg.model(3, &d));
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let got = m.scores(t2(&X, [2, 3], &d), &mut rng).into_data().try_into_vec::<f32>().unwrap();
    // Visit order: step.weight [2,2], step.bias, layers[0].weight [5,2], bias, out.weight [2,3], bias.
    // The sinusoidal embedding of step 0 is [sin 0, cos 0] = [0, 1].
    let emb = linear(&[0.0, 1.0], &p[0], Some(&p[1]), 2);
    for row in 0..2 {
        let mut input = X[row * 3..row * 3 + 3].to_vec();
        input.extend(&emb);
        let h: Vec<f64> = linear(&input, &p[2], Some(&p[3]), 2).into_iter().map(f64::tanh).collect();
        let want = linear(&h, &p[4], Some(&p[5]), 3);
        for i in 0..3 {
            assert!(
                (got[row * 3 + i] as f64 - want[i]).abs() < 1e-5,
                "row {row} item {i}: {} vs {}",
                got[row * 3 + i],
                want[i]
            );
        }
    }
}

#[test]
fn diffrec_training_terms_are_the_snr_weighted_mse_of_the_denoised_noisy_vector() {
    use recdiff_model::topk::diffrec::Diffusion;
    let d = Device::flex();
    let cfg = DiffRecConfig {
        steps: 2,
        hidden: vec![2],
        time_dim: 2,
        dropout: 0.0,
        noise_scale: 1.0,
        noise_min: 0.1,
        noise_max: 0.3,
        sample_steps: 2,
        ..DiffRecConfig::default()
    };
    let (m, p) = filled(cfg.model(3, &d));
    let t = [1usize, 0];
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let got = m.terms(t2(&X, [2, 3], &d), &t, &mut rng).into_data().try_into_vec::<f32>().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let noise: Vec<f64> = (0..6).map(|_| StandardNormal.sample(&mut rng)).map(|v: f32| v as f64).collect();
    let diff = Diffusion::new(&cfg);
    for row in 0..2 {
        let s = t[row];
        let ab = diff.alpha_bars[s];
        let mut input: Vec<f64> =
            (0..3).map(|i| ab.sqrt() * X[row * 3 + i] + (1.0 - ab).sqrt() * noise[row * 3 + i]).collect();
        // Sinusoidal embedding with one frequency (1): [sin s, cos s].
        input.extend(linear(&[(s as f64).sin(), (s as f64).cos()], &p[0], Some(&p[1]), 2));
        let h: Vec<f64> = linear(&input, &p[2], Some(&p[3]), 2).into_iter().map(f64::tanh).collect();
        let out = linear(&h, &p[4], Some(&p[5]), 3);
        let mse = (0..3).map(|i| (out[i] - X[row * 3 + i]).powi(2)).sum::<f64>() / 3.0;
        // x0 prediction with reweighting: SNR(0) - SNR(1) = 9 - 7/3 at step 1, 1 at step 0.
        let weight = if s == 1 { 9.0 - 7.0 / 3.0 } else { 1.0 };
        let want = weight * mse;
        assert!((got[row] as f64 - want).abs() < 1e-4 * want.max(1.0), "row {row}: {} vs {want}", got[row]);
    }
}

#[test]
fn ldiffrec_encodes_each_group_slice_and_decodes_back_into_item_order() {
    use recdiff_model::topk::ldiffrec::{Groups, LDiffRec, LDiffRecConfig};
    let d = Device::flex();
    // Items 0 and 2 in group 0, item 1 in group 1; one latent dimension each.
    let groups = Groups::new(&[0, 1, 0], 2);
    assert_eq!(
        (groups.items.clone(), groups.latent.clone(), groups.inverse.clone()),
        (vec![vec![0, 2], vec![1]], vec![1, 1], vec![0, 2, 1])
    );
    let cfg = LDiffRecConfig { dropout: 0.0, ..LDiffRecConfig::default() };
    let (m, p) = filled(cfg.model(groups, &d));
    // Visit order: encoders[0] W [2,2], b [2]; encoders[1] W [1,2], b; decoders[0] W [1,2], b [2];
    // decoders[1] W [1,1], b [1]; then the latent diffusion's denoiser.
    let (mu, logvar) = m.encode(t2(&X, [2, 3], &d));
    let (mu, logvar) =
        (mu.into_data().try_into_vec::<f32>().unwrap(), logvar.into_data().try_into_vec::<f32>().unwrap());
    let z = [0.7, -0.4, 0.2, 1.1];
    let logits = m.decode(t2(&z, [2, 2], &d)).into_data().try_into_vec::<f32>().unwrap();
    for row in 0..2 {
        let x = &X[row * 3..row * 3 + 3];
        let h0 = linear(&[x[0], x[2]], &p[0], Some(&p[1]), 2);
        let h1 = linear(&[x[1]], &p[2], Some(&p[3]), 2);
        let want_mu = [h0[0], h1[0]];
        let want_lv = [h0[1], h1[1]];
        for j in 0..2 {
            assert!((mu[row * 2 + j] as f64 - want_mu[j]).abs() < 1e-5, "mu row {row} dim {j}");
            assert!((logvar[row * 2 + j] as f64 - want_lv[j]).abs() < 1e-5, "logvar row {row} dim {j}");
        }
        let d0 = linear(&z[row * 2..row * 2 + 1], &p[4], Some(&p[5]), 2);
        let d1 = linear(&z[row * 2 + 1..row * 2 + 2], &p[6], Some(&p[7]), 1);
        let want = [d0[0], d1[0], d0[1]]; // item order: group 0's first, group 1's, group 0's second
        for i in 0..3 {
            assert!((logits[row * 3 + i] as f64 - want[i]).abs() < 1e-5, "logit row {row} item {i}");
        }
    }
    // The multinomial likelihood against hand arithmetic.
    let nll = LDiffRec::multinomial_nll(t2(&[1.0, 2.0, 0.5, 0.0, -1.0, 3.0], [2, 3], &d), t2(&X, [2, 3], &d));
    let lse = |l: &[f64]| l.iter().map(|v| v.exp()).sum::<f64>().ln();
    let want = -((1.0 - lse(&[1.0, 2.0, 0.5]))
        + (0.5 - lse(&[1.0, 2.0, 0.5]))
        + (-1.0 - lse(&[0.0, -1.0, 3.0]))
        + (3.0 - lse(&[0.0, -1.0, 3.0])))
        / 2.0;
    assert!((nll.into_scalar::<f32>() as f64 - want).abs() < 1e-5);
}

#[test]
fn ldiffrec_anneals_the_diffusion_weight_down_and_the_kl_weight_up() {
    use recdiff_model::topk::ldiffrec::LDiffRecConfig;
    let c = LDiffRecConfig {
        lambda: 0.04,
        lambda_min: 0.01,
        lambda_anneal_steps: 100,
        kl_cap: 0.3,
        kl_anneal_steps: 200,
        ..Default::default()
    };
    assert!((c.lambda_at(0) - 0.04).abs() < 1e-12 && (c.lambda_at(50) - 0.02).abs() < 1e-12);
    assert!((c.lambda_at(90) - 0.01).abs() < 1e-12, "floored at lambda_min");
    // min(kl_cap, s / kl_anneal_steps), as the official code: 100 / 200 = 0.5 is capped at 0.3.
    assert!((c.kl_at(100) - 0.3).abs() < 1e-12);
    assert!((c.kl_at(30) - 0.15).abs() < 1e-12 && (c.kl_at(1_000) - 0.3).abs() < 1e-12);
}

#[test]
fn ldiffrec_loss_adds_the_annealed_latent_diffusion_loss_the_decoded_likelihood_and_the_annealed_kl() {
    use recdiff_model::topk::ldiffrec::{Groups, LDiffRec, LDiffRecConfig};
    use recdiff_model::topk::{StepContext, TopKModel, TopKModelConfig};
    let d = Device::flex();
    let diffusion = DiffRecConfig {
        steps: 2,
        hidden: vec![2],
        time_dim: 2,
        dropout: 0.0,
        timesteps: TimestepSampling::Uniform,
        ..DiffRecConfig::default()
    };
    let cfg = LDiffRecConfig {
        dropout: 0.0,
        lambda: 0.04,
        lambda_min: 0.01,
        lambda_anneal_steps: 10,
        kl_cap: 0.3,
        kl_anneal_steps: 20,
        diffusion,
        ..LDiffRecConfig::default()
    };
    let (m, _) = filled(cfg.model(Groups::new(&[0, 1, 0], 2), &d));
    let x = || t2(&X, [2, 3], &d);
    let users = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1], [2]), &d);
    let kind = TopKModelConfig::Ldiffrec(cfg);
    let model = TopKModel::Ldiffrec(m.clone());
    let (mut rng, mut sampler) = (ChaCha8Rng::seed_from_u64(3), kind.sampler());
    let got = model.loss(x(), users, &mut StepContext { step: 5, rng: &mut rng, sampler: &mut sampler });
    let got = got.into_scalar::<f32>() as f64;

    // The same draws replayed through the pieces; the KL by hand from the encoder's outputs.
    let (mut rng, sampler) = (ChaCha8Rng::seed_from_u64(3), kind.sampler());
    let (z, _) = m.sample_latent(x(), &mut rng);
    let (t, importance) = sampler.draw(2, &mut rng);
    let (terms, z_hat) = m.diffusion.terms_and_x0(z, &t, &mut rng, Input::Tracked);
    let terms = terms.into_data().try_into_vec::<f32>().unwrap();
    let elbo = terms.iter().zip(&importance).map(|(&a, &w)| a as f64 * w).sum::<f64>() / 2.0;
    let nll = LDiffRec::multinomial_nll(m.decode(z_hat), x()).into_scalar::<f32>() as f64;
    let (mu, lv) = m.encode(x());
    let (mu, lv) = (mu.into_data().try_into_vec::<f32>().unwrap(), lv.into_data().try_into_vec::<f32>().unwrap());
    let kl =
        mu.iter().zip(&lv).map(|(&m, &l)| 0.5 * ((l as f64).exp() + (m as f64).powi(2) - l as f64 - 1.0)).sum::<f64>()
            / 2.0;
    // Step 5: λ = max((1 - 5/10) 0.04, 0.01) = 0.02, β = min(0.3, 5/20) = 0.25.
    let want = 0.02 * elbo + nll + 0.25 * kl;
    assert!(kl > 1e-3 && elbo > 1e-6, "non-trivial terms: kl {kl}, elbo {elbo}");
    assert!((got - want).abs() < 1e-4 * want.abs().max(1.0), "{got} vs {want}");
}

#[test]
fn diffrec_noising_a_data_batch_on_the_host_matches_the_tensor_path_bit_for_bit() {
    use rand::RngCore;
    use recdiff_model::topk::diffrec::MeanType;
    let d = Device::flex().autodiff();
    for mean_type in [MeanType::X0, MeanType::Eps] {
        let cfg = DiffRecConfig { hidden: vec![8], dropout: 0.0, mean_type, ..DiffRecConfig::default() };
        let (b, n) = (6, 37);
        let m = cfg.model(n, &d);
        let x: Vec<f32> = (0..b * n).map(|i| if i % 3 == 0 { 1.0 } else { 0.25 * (i % 4) as f32 }).collect();
        let x = Tensor::<2>::from_data(TensorData::new(x, [b, n]), &d);
        let t: Vec<usize> = (0..b).map(|i| (i * 2) % cfg.steps).collect();
        let run = |input: Input| {
            let mut rng = ChaCha8Rng::seed_from_u64(11);
            let (terms, x0_hat) = m.terms_and_x0(x.clone(), &t, &mut rng, input);
            let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
            let terms = bits(terms.into_data().try_into_vec::<f32>().unwrap());
            (terms, bits(x0_hat.into_data().try_into_vec::<f32>().unwrap()), rng.next_u64())
        };
        let (host, tensor) = (run(Input::Data), run(Input::Tracked));
        assert_eq!(host.0, tensor.0, "{mean_type:?}: loss terms");
        assert_eq!(host.1, tensor.1, "{mean_type:?}: x0 prediction");
        assert_eq!(host.2, tensor.2, "{mean_type:?}: the generator is left where the tensor path leaves it");
    }
}

/// Gradients of every float parameter, in visit order (empty where none).
struct Grads<'a> {
    grads: &'a burn::optim::GradientsParams,
    out: Vec<Vec<f32>>,
}

impl burn::module::ModuleVisitor for Grads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let g = self.grads.get::<D>(param.id).map(|g| g.into_data().iter::<f32>().collect());
        self.out.push(g.unwrap_or_default());
    }
}

#[test]
fn diffrec_denoiser_on_data_keeps_the_plain_values_and_weight_gradients_bit_for_bit() {
    let d = Device::flex().autodiff();
    let cfg = DiffRecConfig { hidden: vec![48], time_dim: 10, dropout: 0.0, ..DiffRecConfig::default() };
    let (b, n) = (16, 257);
    let m = cfg.model(n, &d);
    let x: Vec<f32> = (0..b * n).map(|i| if (i * 13) % 7 == 0 { 1.0 } else { 0.01 * (i % 5) as f32 }).collect();
    let x = Tensor::<2>::from_data(TensorData::new(x, [b, n]), &d);
    let target: Vec<f32> = (0..b * n).map(|i| ((i * 11) % 9) as f32 * 0.1 - 0.4).collect();
    let target = Tensor::<2>::from_data(TensorData::new(target, [b, n]), &d);
    let t: Vec<usize> = (0..b).map(|i| i % cfg.steps).collect();
    let run = |data: bool| {
        let out = match data {
            true => m.denoiser.forward_data(x.clone(), &t),
            false => m.denoiser.forward(x.clone(), &t),
        };
        let values: Vec<u32> = out.clone().into_data().iter::<f32>().map(f32::to_bits).collect();
        let grads = burn::optim::GradientsParams::from_grads((out * target.clone()).sum().backward(), &m);
        let mut visitor = Grads { grads: &grads, out: vec![] };
        m.visit(&mut visitor);
        (values, visitor.out)
    };
    let (plain, data) = (run(false), run(true));
    assert_eq!(plain.0, data.0, "outputs");
    assert_eq!(plain.1.len(), 6, "step, hidden and output layers: weight and bias each");
    for (i, (p, q)) in plain.1.iter().zip(&data.1).enumerate() {
        assert!(p.iter().any(|&v| v.abs() > 1e-4), "parameter {i} has a non-trivial gradient");
        if i < 2 {
            // The step layer: the same sums, in another order.
            let scale = p.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let worst = p.iter().zip(q).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(worst <= 1e-5 * scale, "step-layer gradient {i}: off by {worst} of {scale}");
        } else {
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(p), bits(q), "gradient of parameter {i}");
        }
    }
}
