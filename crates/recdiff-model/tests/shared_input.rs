//! Serving's shared-input forward: when every row equals one shared row outside a few columns,
//! computing the first layers' shared part once gives the same latent as the plain forward, for
//! full-rank and low-rank-mixture cross networks, parallel and stacked.

use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use recdiff_model::CtrModelConfig;
use recdiff_model::base::dcn::{CrossKind, DcnV2Config, Structure};
use recdiff_model::base::{BaseConfig, SharedInput};

#[test]
fn shared_input_forward_equals_the_plain_forward() {
    let device = Device::flex();
    let (fields, dim, rows) = (6, 4, 9);
    let width = fields * dim;
    let own_fields = [1usize, 4];
    let own: Vec<i64> = own_fields.iter().flat_map(|&f| (f * dim) as i64..((f + 1) * dim) as i64).collect();
    let shared_row = Tensor::<2>::random([1, width], Distribution::Normal(0.0, 1.0), &device);
    let mut zeroed = shared_row.clone().into_data().try_to_vec::<f32>().unwrap();
    for &c in &own {
        zeroed[c as usize] = 0.0;
    }
    let per_row = Tensor::<2>::random([rows, width], Distribution::Normal(0.0, 1.0), &device).into_data();
    let per_row = per_row.try_to_vec::<f32>().unwrap();
    let mut x = Vec::new();
    for r in 0..rows {
        for c in 0..width {
            x.push(if own.contains(&(c as i64)) { per_row[r * width + c] } else { zeroed[c] });
        }
    }
    let x = Tensor::<2>::from_data(TensorData::new(x, [rows, width]), &device);
    let shared = SharedInput {
        row: Tensor::from_data(TensorData::new(zeroed, [1, width]), &device),
        own: Tensor::<1, Int>::from_data(TensorData::new(own.clone(), [own.len()]), &device),
    };
    for cross in [CrossKind::FullRank, CrossKind::LowRankMixture { rank: 3, experts: 2 }] {
        for structure in [Structure::Parallel, Structure::Stacked] {
            let base = DcnV2Config { cross, structure, deep: vec![16, 8], latent_dim: 8, ..DcnV2Config::default() };
            let cfg = CtrModelConfig { base: BaseConfig::DcnV2(base), ..CtrModelConfig::default() };
            let model = cfg.init(fields, dim, 3, &device);
            let plain = model.base.h(x.clone()).into_data().try_to_vec::<f32>().unwrap();
            let fast = model.base.h_shared(x.clone(), &shared).into_data().try_to_vec::<f32>().unwrap();
            assert!(plain.iter().any(|v| *v != 0.0), "{cross:?} {structure:?}: latent all zero");
            for (a, b) in plain.iter().zip(&fast) {
                assert!((a - b).abs() < 1e-5, "{cross:?} {structure:?}: {a} vs {b}");
            }
        }
    }
}
