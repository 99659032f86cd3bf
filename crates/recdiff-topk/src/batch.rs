//! Dense batches from the sparse matrix: only the rows of a batch's users are materialised.

use burn::tensor::{Device, Int, Tensor, TensorData};
use recdiff_data::user_item::UserItemSplit;

/// The training vectors of `users`, `[B, n]`: 1 per training item, or `w_min + (w_max - w_min) r`
/// for an item of recency `r` when `recency` is set (T-DiffRec).
pub fn train_rows(split: &UserItemSplit, users: &[usize], recency: Option<(f32, f32)>, device: &Device) -> Tensor<2> {
    let n = split.n_items;
    let mut v = vec![0f32; users.len() * n];
    for (row, &u) in users.iter().enumerate() {
        let (start, end) = (split.train.indptr[u], split.train.indptr[u + 1]);
        for e in start..end {
            let item = split.train.indices[e] as usize;
            v[row * n + item] = match recency {
                Some((lo, hi)) => lo + (hi - lo) * split.train_recency[e],
                None => 1.0,
            };
        }
    }
    Tensor::from_data(TensorData::new(v, [users.len(), n]), device)
}

/// User ids as an int tensor `[B]`.
pub fn user_ids(users: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = users.iter().map(|&u| u as i64).collect();
    Tensor::from_data(TensorData::new(v, [users.len()]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use recdiff_data::user_item::Csr;

    #[test]
    fn rows_hold_ones_or_recency_weights_at_the_training_items_only() {
        let split = UserItemSplit {
            n_users: 2,
            n_items: 4,
            train: Csr::from_rows(&[vec![1, 3], vec![0]]),
            valid: Csr::from_rows(&[vec![2], vec![]]),
            test: Csr::from_rows(&[vec![0], vec![1]]),
            train_recency: vec![0.0, 1.0, 1.0],
        };
        let d = Device::flex();
        let x = train_rows(&split, &[1, 0], None, &d).into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(x, vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
        let w = train_rows(&split, &[0], Some((0.5, 1.0)), &d).into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(w, vec![0.0, 0.5, 0.0, 1.0]);
    }
}
