//! `SeqModel::with_fixed_items`: the given table is what the model ranks and encodes with, and
//! training steps (Adam with weight decay) leave it exactly as given while the rest learns.

use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use recdiff_model::seq::dimerec::DimeRecConfig;
use recdiff_model::seq::dreamrec::DreamRecConfig;
use recdiff_model::seq::preferdiff::PreferDiffConfig;
use recdiff_model::seq::sasrec::{SasRecConfig, SasRecTraining};
use recdiff_model::seq::{SeqModel, SeqModelConfig, ids_tensor};

const ITEMS: usize = 6;
const DIM: usize = 8;
const LEN: usize = 4;

fn configs() -> Vec<SeqModelConfig> {
    let encoder = SasRecConfig { dim: DIM, heads: 2, layers: 1, dropout: 0.0 };
    let dreamrec = DreamRecConfig { encoder: encoder.clone(), steps: 10, sample_steps: 2, ..DreamRecConfig::default() };
    vec![
        SeqModelConfig::Sasrec(SasRecTraining { encoder, negatives: 0 }),
        SeqModelConfig::Dreamrec(dreamrec.clone()),
        SeqModelConfig::Preferdiff(PreferDiffConfig { dreamrec, negatives: 2, ..PreferDiffConfig::default() }),
        SeqModelConfig::Dimerec(DimeRecConfig {
            dim: DIM,
            interests: 2,
            gem_hidden: 4,
            steps: 5,
            ..DimeRecConfig::default()
        }),
    ]
}

/// Distinct non-zero values, row 0 (padding) zeros.
fn table_values() -> Vec<f32> {
    (0..(ITEMS + 1) * DIM).map(|i| if i < DIM { 0.0 } else { ((i * 37 % 23) as f32 - 11.0) / 10.0 }).collect()
}

fn table(model: &SeqModel) -> Vec<f32> {
    model.item_table().into_data().try_into_vec::<f32>().unwrap()
}

fn query(model: &SeqModel, device: &Device) -> Vec<f32> {
    let seq = ids_tensor(&[vec![0, 1, 2, 3], vec![4, 5, 6, 2]], device);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    model.valid().query(seq, &mut rng).into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn a_fixed_item_table_stays_as_given_through_training_while_the_rest_learns() {
    let device = Device::flex().autodiff();
    for cfg in configs() {
        let name = cfg.name();
        let given = Tensor::<2>::from_data(TensorData::new(table_values(), [ITEMS + 1, DIM]), &device);
        let mut model = cfg.init(ITEMS, LEN, 1, &device).with_fixed_items(given).unwrap();
        assert_eq!(table(&model), table_values(), "{name}: the table is the one given");
        let before = query(&model, &device.clone().inner());
        let mut optim = AdamConfig::new().with_weight_decay(Some(WeightDecayConfig::new(0.1))).init();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for _ in 0..3 {
            let seq = ids_tensor(&[vec![0, 1, 2, 3], vec![4, 5, 6, 2]], &device);
            let loss = model.loss(seq, &[0, 2, 3, 4, 5, 6, 2, 1], &mut rng);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-2, model, grads);
        }
        assert_eq!(table(&model), table_values(), "{name}: three Adam steps left the table alone");
        let after = query(&model, &device.clone().inner());
        let moved = before.iter().zip(&after).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(moved > 1e-4, "{name}: the other weights trained (query moved by {moved})");
    }
}

#[test]
fn a_table_of_the_wrong_shape_is_refused_with_both_shapes() {
    let device = Device::flex().autodiff();
    let model = configs().remove(0).init(ITEMS, LEN, 1, &device);
    let wrong = Tensor::<2>::zeros([ITEMS + 1, DIM + 1], &device);
    let e = model.with_fixed_items(wrong).unwrap_err();
    assert!(e.contains("[7, 9]") && e.contains("[7, 8]"), "{e}");
}
