//! The data-parallel parts of a CTR step: averaging the dense gradients over ranks, and merging
//! every rank's touched embedding rows into one sparse update that every rank applies.
//!
//! Each rank trains on its shard of the global batch (`n_r` of `B` samples) with the loss
//! averaged over its shard, so the gradient of the global mean is the sum over ranks of each
//! rank's gradient weighted by its share `n_r / B` (`1 / N` when the shards are equal; not when
//! `N` does not divide `B`):
//! - dense: each parameter's gradient, flattened in module visit order and weighted by the
//!   rank's share, is all-reduced (summed);
//! - sparse: each rank's `(table, row, gradient)` entries (its uses of a row already summed),
//!   weighted by its share, are all-gathered; a row touched by several ranks sums their
//!   gradients in rank order; the merged rows go through the same sparse optimiser on every rank,
//!   in row order, so replicated tables stay identical.
//!
//! The result equals one rank at batch `B` up to float reassociation (pinned by tests on
//! in-process ranks). Wire format of the sparse entries, little-endian: per table, a `u32` count,
//! then per row a `u32` id and `dim` `f32`s.

use recdiff_dist::{Collective, DistError};
pub use recdiff_experiment::data_parallel::combine_dense;
use std::collections::BTreeMap;

/// Per-table `(row, gradient)` lists, each row once.
pub type RowGrads = Vec<Vec<(usize, Vec<f32>)>>;

pub(crate) fn encode_rows(rows: &RowGrads) -> Vec<u8> {
    let mut out = Vec::new();
    for table in rows {
        out.extend((table.len() as u32).to_le_bytes());
        for (id, g) in table {
            out.extend((*id as u32).to_le_bytes());
            g.iter().for_each(|v| out.extend(v.to_le_bytes()));
        }
    }
    out
}

pub(crate) fn decode_rows(bytes: &[u8], tables: usize, dim: usize, rank: usize) -> Result<RowGrads, DistError> {
    let bad = || DistError::Peer { rank, message: "sent malformed row gradients".into() };
    let mut words = bytes.chunks_exact(4).map(|b| [b[0], b[1], b[2], b[3]]);
    if !bytes.len().is_multiple_of(4) {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(tables);
    for _ in 0..tables {
        let n = u32::from_le_bytes(words.next().ok_or_else(bad)?) as usize;
        let mut table = Vec::with_capacity(n);
        for _ in 0..n {
            let id = u32::from_le_bytes(words.next().ok_or_else(bad)?) as usize;
            let g = (0..dim).map(|_| words.next().map(f32::from_le_bytes).ok_or_else(bad)).collect::<Result<_, _>>()?;
            table.push((id, g));
        }
        out.push(table);
    }
    if words.next().is_some() {
        return Err(bad());
    }
    Ok(out)
}

/// Every rank's touched rows merged: per table, in row order, each rank's gradients weighted by
/// its `share` of the global batch and summed over ranks (in rank order).
pub fn merge_row_gradients(c: &dyn Collective, mine: &RowGrads, dim: usize, share: f32) -> Result<RowGrads, DistError> {
    let weighted: RowGrads =
        mine.iter().map(|t| t.iter().map(|(id, g)| (*id, g.iter().map(|v| v * share).collect())).collect()).collect();
    let all = c.all_gather(&encode_rows(&weighted))?;
    let mut merged: Vec<BTreeMap<usize, Vec<f32>>> = vec![BTreeMap::new(); mine.len()];
    for (rank, bytes) in all.iter().enumerate() {
        for (t, table) in decode_rows(bytes, mine.len(), dim, rank)?.into_iter().enumerate() {
            for (id, g) in table {
                let acc = merged[t].entry(id).or_insert_with(|| vec![0.0; dim]);
                acc.iter_mut().zip(&g).for_each(|(a, g)| *a += g);
            }
        }
    }
    Ok(merged.into_iter().map(|t| t.into_iter().collect()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, Tensor, TensorData};
    use recdiff_data::codec::Codec;
    use recdiff_data::format::{RowBuilder, RowLayout};
    use recdiff_data::schema::FieldKind;
    use recdiff_data::{FieldMeta, Row};
    use recdiff_dist::local::LocalWorld;
    use recdiff_model::{EmbeddingStore, MaskMatrix, SparseOptimizer};

    const B: usize = 8;

    fn field(name: &str, offset: usize, buckets: u32) -> FieldMeta {
        let codec = Codec::Hash { buckets, seed: 0 };
        let (kind, table) = (FieldKind::Categorical, name.into());
        FieldMeta { name: name.into(), kind, group: None, id_offset: offset, width: 1, separator: None, table, codec }
    }

    /// Two categorical fields over 5 and 3 rows; `B` batch rows that share ids across the halves.
    /// Adagrad with an L2 term, so the update depends on the gradient's scale (Adam's first
    /// step is the gradient's sign).
    fn store_and_words() -> (EmbeddingStore, Vec<Vec<u32>>, RowLayout) {
        let adagrad = SparseOptimizer::Adagrad { lr: 0.1, eps: 1e-8 };
        let store = EmbeddingStore::new(&[field("a", 0, 5), field("b", 1, 3)], 4, adagrad, 0.5, 0.5, 3);
        let layout = RowLayout { fields: 2, id_slots: 2 };
        let words = (0..B as u32)
            .map(|i| {
                let mut r = RowBuilder::new(layout);
                r.set_id(0, (i * 3) % 5);
                r.set_id(1, i % 3);
                r.words
            })
            .collect();
        (store, words, layout)
    }

    /// The gradient of row `i` of the batch's summed loss (before dividing by the batch size).
    fn row_grad(i: usize, width: usize) -> Vec<f32> {
        (0..width).map(|k| ((i * width + k) as f32 * 0.71).sin()).collect()
    }

    #[test]
    fn two_ranks_at_half_batch_update_the_tables_as_one_rank_at_the_full_batch() {
        let (mut single, words, layout) = store_and_words();
        let rows: Vec<Row<'_>> = words.iter().map(|w| Row { words: w, layout }).collect();
        let width = single.width();
        let full: Vec<f32> = (0..B).flat_map(|i| row_grad(i, width)).map(|g| g / B as f32).collect();
        single.apply_gradients(&rows, &MaskMatrix::from_rows(&rows, 2), &full, 1.0);
        let ranks = LocalWorld::run(2, |c| {
            let (mut store, words, layout) = store_and_words();
            let half = B / 2;
            let mine: Vec<Row<'_>> =
                words[c.rank() * half..][..half].iter().map(|w| Row { words: w, layout }).collect();
            let g: Vec<f32> =
                (0..half).flat_map(|i| row_grad(c.rank() * half + i, width)).map(|g| g / half as f32).collect();
            let masks = MaskMatrix::from_rows(&mine, 2);
            let local: RowGrads = (0..store.n_tables()).map(|t| store.row_gradients(t, &mine, &masks, &g)).collect();
            let mut merged = merge_row_gradients(c.as_ref(), &local, store.dim(), 0.5).unwrap();
            store.apply_row_gradients(&mut merged, 1.0);
            store.tables.iter().map(|t| t.weights.clone()).collect::<Vec<_>>()
        });
        let (r0, r1) = (ranks[0].as_ref().unwrap(), ranks[1].as_ref().unwrap());
        assert_eq!(r0, r1, "replicated tables stay identical");
        let fresh = store_and_words().0;
        for (t, table) in single.tables.iter().enumerate() {
            let moved = table.weights.iter().zip(&fresh.tables[t].weights).filter(|(a, b)| a != b).count();
            assert!(moved >= table.weights.len() * 3 / 4, "table {t}: the batch touched most rows");
            for (k, (a, b)) in table.weights.iter().zip(&r0[t]).enumerate() {
                assert!((a - b).abs() <= 1e-6, "table {t} weight {k}: one rank {a}, two ranks {b}");
            }
        }
    }

    #[test]
    fn averaged_dense_gradients_of_half_batches_equal_the_full_batch_gradient() {
        let device = Device::flex().autodiff();
        let model: Linear = recdiff_model::init::build_seeded(5, || LinearConfig::new(3, 2).init(&device));
        let x: Vec<f32> = (0..B * 3).map(|i| (i as f32 * 0.37).cos()).collect();
        let grad_of = |rows: std::ops::Range<usize>| {
            let n = rows.len();
            let xs = Tensor::<2>::from_data(TensorData::new(x[rows.start * 3..rows.end * 3].to_vec(), [n, 3]), &device);
            let loss = model.forward(xs).powi_scalar(2).sum_dim(1).mean();
            GradientsParams::from_grads(loss.backward(), &model)
        };
        let full = grad_of(0..B);
        let ranks = LocalWorld::run(2, |c| {
            let mine = grad_of(c.rank() * B / 2..(c.rank() + 1) * B / 2);
            let avg = combine_dense(c.as_ref(), &mine, &model, &device, 0.5).unwrap();
            let w = avg.get::<2>(model.weight.id).unwrap().into_data().try_to_vec::<f32>().unwrap();
            let b = avg.get::<1>(model.bias.as_ref().unwrap().id).unwrap().into_data().try_to_vec::<f32>().unwrap();
            (w, b)
        });
        let want_w = full.get::<2>(model.weight.id).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let want_b = full.get::<1>(model.bias.as_ref().unwrap().id).unwrap().into_data().try_to_vec::<f32>().unwrap();
        assert!(want_w.iter().all(|v| v.abs() > 1e-4), "non-trivial gradients");
        for r in ranks {
            let (w, b) = r.unwrap();
            for (got, want) in w.iter().chain(&b).zip(want_w.iter().chain(&want_b)) {
                assert!((got - want).abs() <= 1e-6 * want.abs().max(1.0), "{got} vs {want}");
            }
        }
    }

    #[test]
    fn malformed_row_gradients_from_a_rank_are_an_error_naming_it() {
        let err = decode_rows(&[1, 0, 0, 0, 7, 0], 1, 2, 3).unwrap_err().to_string();
        assert_eq!(err, "rank 3: sent malformed row gradients");
        let truncated = encode_rows(&vec![vec![(1, vec![0.5, 0.25])]]);
        assert!(decode_rows(&truncated[..truncated.len() - 4], 1, 2, 1).is_err());
        assert_eq!(decode_rows(&truncated, 1, 2, 0).unwrap(), vec![vec![(1, vec![0.5, 0.25])]]);
    }
}
