//! Gradient checks by finite differences: the DCN-V2 cross layer (burn autodiff) and the sparse
//! embedding backward (gather is linear in the tables, so its row gradients must match
//! `dL/dw = (L(w + e) - L(w - e)) / 2e` for `L = <G, gather(w)>`).

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use recdiff_data::codec::Codec;
use recdiff_data::format::{EMPTY, RowBuilder, RowLayout};
use recdiff_data::schema::{FieldKind, NumericTransform};
use recdiff_data::{FieldMeta, Row};
use recdiff_model::base::dcn::{CrossKind, DcnV2Config};
use recdiff_model::{EmbeddingStore, MaskMatrix, SparseOptimizer};

fn to_vec(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().unwrap()
}

/// `sum(h(x) * c)` for fixed random `c`, as a function of the input `x`.
fn check_input_gradient(kind: CrossKind) {
    let device = Device::flex().autodiff();
    device.seed(3);
    let width = 6;
    let cfg = DcnV2Config { cross_layers: 2, cross: kind, deep: vec![5], latent_dim: 4, ..DcnV2Config::default() };
    let model = cfg.init(width, &device);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x: Vec<f32> = (0..2 * width).map(|_| rng.random_range(-1.0..1.0)).collect();
    let c: Vec<f32> = (0..2 * 4).map(|_| rng.random_range(-1.0..1.0)).collect();
    let loss = |m: &recdiff_model::base::dcn::DcnV2, x: Vec<f32>, dev: &Device| {
        let xt = Tensor::<2>::from_data(TensorData::new(x, [2, width]), dev);
        let ct = Tensor::<2>::from_data(TensorData::new(c.clone(), [2, 4]), dev);
        (m.h(xt) * ct).sum()
    };
    let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [2, width]), &device).require_grad();
    let ct = Tensor::<2>::from_data(TensorData::new(c.clone(), [2, 4]), &device);
    let mut grads = (model.h(xt.clone()) * ct).sum().backward();
    let analytic = to_vec(xt.grad_remove(&mut grads).unwrap());
    let plain = model.valid();
    let inner = device.clone().inner();
    let eps = 1e-2f32;
    for i in 0..x.len() {
        let (mut up, mut down) = (x.clone(), x.clone());
        up[i] += eps;
        down[i] -= eps;
        let lu: f32 = loss(&plain, up, &inner).into_scalar();
        let ld: f32 = loss(&plain, down, &inner).into_scalar();
        let numeric = (lu - ld) / (2.0 * eps);
        let tol = 2e-2 * (1.0 + numeric.abs());
        assert!((numeric - analytic[i]).abs() < tol, "{kind:?} x[{i}]: numeric {numeric} analytic {}", analytic[i]);
    }
}

#[test]
fn full_rank_cross_network_gradient_matches_finite_differences() {
    check_input_gradient(CrossKind::FullRank);
}

#[test]
fn low_rank_mixture_cross_network_gradient_matches_finite_differences() {
    check_input_gradient(CrossKind::LowRankMixture { rank: 3, experts: 2 });
}

fn field(name: &str, offset: usize, width: usize, kind: FieldKind, codec: Codec) -> FieldMeta {
    FieldMeta {
        name: name.into(),
        kind,
        group: None,
        id_offset: offset,
        width,
        separator: None,
        table: name.into(),
        codec,
    }
}

/// Three fields: categorical (5 rows), multi-hot (4 rows, up to 3 tokens), scaled numeric.
fn store_and_rows() -> (EmbeddingStore, Vec<Vec<u32>>, RowLayout) {
    let fields = vec![
        field("cat", 0, 1, FieldKind::Categorical, Codec::Hash { buckets: 5, seed: 0 }),
        field("tags", 1, 3, FieldKind::MultiHot, Codec::Hash { buckets: 4, seed: 1 }),
        field("num", 4, 1, FieldKind::Numeric, Codec::Scale { transform: NumericTransform::None, mean: 0.0, std: 1.0 }),
    ];
    let layout = RowLayout { fields: 3, id_slots: 5 };
    let store = EmbeddingStore::new(&fields, 4, SparseOptimizer::default(), 0.0, 0.5, 11);
    let specs: [(u32, [u32; 3], f32, bool); 4] = [
        (2, [1, 3, EMPTY], 0.5, false),
        (2, [3, EMPTY, EMPTY], -1.5, false),
        (4, [0, 1, 2], 2.0, true),
        (0, [EMPTY; 3], 1.0, false),
    ];
    let mut rows = Vec::new();
    for (cat, tags, num, num_missing) in specs {
        let mut b = RowBuilder::new(layout);
        b.set_id(0, cat);
        b.set_value(0, 1.0);
        for (k, t) in tags.iter().enumerate() {
            b.set_id(1 + k, *t);
        }
        let n = tags.iter().filter(|&&t| t != EMPTY).count();
        if n == 0 {
            b.set_missing(1);
        }
        b.set_value(1, n as f32);
        b.set_value(2, num);
        if num_missing {
            b.set_missing(2);
        }
        rows.push(b.words);
    }
    (store, rows, layout)
}

fn views(rows: &[Vec<u32>], layout: RowLayout) -> Vec<Row<'_>> {
    rows.iter().map(|w| Row { words: w, layout }).collect()
}

#[test]
fn sparse_row_gradients_match_finite_differences() {
    let (mut store, rows, layout) = store_and_rows();
    let rows = views(&rows, layout);
    let mut masks = MaskMatrix::from_rows(&rows, 3);
    masks.set(0, 0); // a dropped field contributes nothing and receives nothing
    let width = store.width();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let g: Vec<f32> = (0..rows.len() * width).map(|_| rng.random_range(-1.0..1.0)).collect();
    let loss = |s: &EmbeddingStore| {
        let mut out = vec![0.0; rows.len() * width];
        s.gather(&rows, &masks, &mut out);
        out.iter().zip(&g).map(|(a, b)| (a * b) as f64).sum::<f64>()
    };
    for f in 0..3 {
        let analytic = store.row_gradients(f, &rows, &masks, &g);
        let touched: Vec<usize> = analytic.iter().map(|(id, _)| *id).collect();
        for id in 0..store.tables[f].rows {
            for k in 0..4 {
                let at = id * 4 + k;
                let eps = 1e-2;
                store.tables[f].weights[at] += eps;
                let up = loss(&store);
                store.tables[f].weights[at] -= 2.0 * eps;
                let down = loss(&store);
                store.tables[f].weights[at] += eps;
                let numeric = (up - down) / (2.0 * eps as f64);
                let got = analytic.iter().find(|(i, _)| *i == id).map_or(0.0, |(_, v)| v[k] as f64);
                assert!((numeric - got).abs() < 1e-3, "field {f} row {id} dim {k}: numeric {numeric} analytic {got}");
            }
        }
        match f {
            0 => assert_eq!(touched, vec![0, 2, 4], "row 0's categorical is masked; id 2 appears once more"),
            1 => assert_eq!(touched, vec![0, 1, 2, 3]),
            _ => assert_eq!(touched, vec![0]),
        }
    }
}

#[test]
fn adam_step_moves_only_touched_rows() {
    let (mut store, rows, layout) = store_and_rows();
    let rows = views(&rows, layout);
    let masks = MaskMatrix::from_rows(&rows, 3);
    let before = store.tables[0].weights.clone();
    let g = vec![0.5; rows.len() * store.width()];
    store.apply_gradients(&rows, &masks, &g, 1.0);
    let after = &store.tables[0].weights;
    for id in 0..5 {
        let moved = (0..4).any(|k| after[id * 4 + k] != before[id * 4 + k]);
        assert_eq!(moved, [0, 2, 4].contains(&id), "row {id}");
        if moved {
            // First Adam step: the update is -lr * sign(g).
            assert!((before[id * 4] - after[id * 4] - 1e-3).abs() < 1e-6);
        }
    }
}

#[test]
fn tables_round_trip_through_safetensors_with_optimizer_state() {
    let (mut store, rows, layout) = store_and_rows();
    let rows = views(&rows, layout);
    let masks = MaskMatrix::from_rows(&rows, 3);
    store.apply_gradients(&rows, &masks, &vec![0.25; rows.len() * store.width()], 1.0);
    let bytes = store.to_safetensors(true).unwrap();
    let (mut fresh, _, _) = store_and_rows();
    fresh.tables[0].weights.fill(9.0);
    fresh.load_safetensors(&bytes).unwrap();
    assert_eq!(fresh.step, 1);
    for (a, b) in fresh.tables.iter().zip(&store.tables) {
        assert_eq!((&a.weights, &a.m, &a.v), (&b.weights, &b.m, &b.v));
    }
}

#[test]
fn fields_sharing_a_table_read_the_same_rows_and_sum_their_gradients() {
    let mut a = field("item", 0, 1, FieldKind::Categorical, Codec::Hash { buckets: 6, seed: 0 });
    let mut b = field("last_item", 1, 1, FieldKind::Categorical, Codec::Hash { buckets: 6, seed: 0 });
    a.table = "items".into();
    b.table = "items".into();
    let mut store = EmbeddingStore::new(&[a, b], 3, SparseOptimizer::default(), 0.0, 0.5, 4);
    assert_eq!(store.tables.len(), 1);
    let layout = RowLayout { fields: 2, id_slots: 2 };
    let words: Vec<Vec<u32>> = [(1u32, 1u32), (1, 4), (5, 1)]
        .iter()
        .map(|&(x, y)| {
            let mut r = RowBuilder::new(layout);
            r.set_id(0, x);
            r.set_id(1, y);
            r.words
        })
        .collect();
    let rows = views(&words, layout);
    let masks = MaskMatrix::from_rows(&rows, 2);
    let mut out = vec![0.0; 3 * 6];
    store.gather(&rows, &masks, &mut out);
    assert_eq!(out[0..3], out[3..6], "row 0 reads id 1 through both fields");
    let g: Vec<f32> = (0..18).map(|i| (i as f32 * 0.37).sin()).collect();
    let analytic = store.row_gradients(0, &rows, &masks, &g);
    let loss = |s: &EmbeddingStore| {
        let mut o = vec![0.0; 18];
        s.gather(&rows, &masks, &mut o);
        o.iter().zip(&g).map(|(a, b)| (a * b) as f64).sum::<f64>()
    };
    for (id, grad) in &analytic {
        for (k, gk) in grad.iter().enumerate() {
            let at = id * 3 + k;
            store.tables[0].weights[at] += 0.01;
            let up = loss(&store);
            store.tables[0].weights[at] -= 0.02;
            let down = loss(&store);
            store.tables[0].weights[at] += 0.01;
            assert!(((up - down) / 0.02 - *gk as f64).abs() < 1e-3, "id {id} dim {k}");
        }
    }
    assert_eq!(analytic.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![1, 4, 5]);
}
