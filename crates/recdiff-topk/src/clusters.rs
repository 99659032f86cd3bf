//! L-DiffRec's item groups: k-means over item embeddings from a truncated SVD of the training
//! matrix.
//!
//! * SVD: the top `dim` eigenpairs of `XᵀX` (`X` the users x items 0/1 training matrix), found by
//!   LOBPCG (`linfa-linalg`) on the operator `V -> Xᵀ(X V)` applied through the sparse rows, so
//!   the matrix is never densified (`O(nnz * dim)` per iteration). Item embeddings are
//!   `V Σ` (right singular vectors scaled by the singular values `sqrt(λ)`).
//! * k-means: `linfa-clustering` (k-means++ initialisation, 10 runs, the best inertia kept),
//!   seeded from the experiment seed.
//! * Groups come back renumbered by first appearance in item order, empty ones dropped, so
//!   the result is a function of the data and the seed alone.
//!
//! Shapes: `train` users x items (CSR), embeddings `[n_items, dim]`, groups `[n_items]`.

use linfa::DatasetBase;
use linfa::traits::{Fit, Predict};
use linfa_clustering::KMeans;
use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_xoshiro::rand_core::SeedableRng as _;
use recdiff_data::user_item::Csr;

/// `Xᵀ (X v)` for a block of column vectors `v` `[n_items, r]`.
fn gram_times(train: &Csr, v: ArrayView2<f64>) -> Array2<f64> {
    let r = v.ncols();
    let mut out = Array2::<f64>::zeros((v.nrows(), r));
    let mut xv = vec![0.0; r];
    for u in 0..train.rows() {
        xv.iter_mut().for_each(|a| *a = 0.0);
        for &i in train.row(u) {
            for (a, b) in xv.iter_mut().zip(v.row(i as usize)) {
                *a += b;
            }
        }
        for &i in train.row(u) {
            for (a, b) in out.row_mut(i as usize).iter_mut().zip(&xv) {
                *a += b;
            }
        }
    }
    out
}

/// Item embeddings `V Σ` `[n_items, dim]` from the top `dim` singular pairs of the training matrix.
pub fn svd_item_embeddings(train: &Csr, n_items: usize, dim: usize, seed: u64) -> Result<Array2<f64>, String> {
    if dim == 0 || dim >= n_items {
        return Err(format!("svd_dim = {dim}: must be 1..{n_items} (the number of items)"));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x5BD1);
    let x0 = Array2::from_shape_fn((n_items, dim), |_| rng.random::<f64>() - 0.5);
    let found = linfa_linalg::lobpcg::lobpcg(
        |v: ArrayView2<f64>| gram_times(train, v),
        x0,
        |_| {},
        None,
        1e-6,
        200,
        linfa_linalg::Order::Largest,
    );
    // LOBPCG hands back its best iterate even when the tolerance was not reached; clustering only
    // needs the dominant directions, so that is used.
    let result = match found {
        Ok(r) => r,
        Err((_, Some(r))) => r,
        Err((e, None)) => return Err(format!("truncated SVD of the training matrix failed: {e}")),
    };
    let mut emb = result.eigvecs;
    for (mut col, &lambda) in emb.columns_mut().into_iter().zip(result.eigvals.iter()) {
        col *= lambda.max(0.0).sqrt();
    }
    Ok(emb)
}

/// The group (0-based) of every item: k-means with `k` clusters over `emb` rows.
pub fn kmeans_groups(emb: &Array2<f64>, k: usize, seed: u64) -> Result<Vec<usize>, String> {
    if k == 0 || k > emb.nrows() {
        return Err(format!("clusters = {k}: must be 1..={} (the number of items)", emb.nrows()));
    }
    if k == 1 {
        return Ok(vec![0; emb.nrows()]);
    }
    let data = DatasetBase::from(emb.clone());
    let rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(seed);
    let model = KMeans::params_with_rng(k, rng)
        .n_runs(10)
        .max_n_iterations(300)
        .tolerance(1e-6)
        .fit(&data)
        .map_err(|e| format!("k-means over the item embeddings failed: {e}"))?;
    let raw = model.predict(emb);
    let mut renumber = vec![usize::MAX; k];
    let mut next = 0;
    Ok(raw
        .iter()
        .map(|&g| {
            if renumber[g] == usize::MAX {
                renumber[g] = next;
                next += 1;
            }
            renumber[g]
        })
        .collect())
}

/// The group of every item for L-DiffRec: SVD embeddings of `svd_dim`, then k-means into `k`.
pub fn item_groups(train: &Csr, n_items: usize, k: usize, svd_dim: usize, seed: u64) -> Result<Vec<usize>, String> {
    if k == 0 || k > n_items {
        return Err(format!("clusters = {k}: must be 1..={n_items} (the number of items)"));
    }
    if k == 1 {
        return Ok(vec![0; n_items]);
    }
    let emb = svd_item_embeddings(train, n_items, svd_dim, seed)?;
    kmeans_groups(&emb, k, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_svd_recovers_the_dominant_singular_value_of_a_small_matrix() {
        // X = [[1,1,0],[1,1,0],[0,0,1]]: XᵀX = [[2,2,0],[2,2,0],[0,0,1]], eigenvalues 4, 1, 0.
        let train = Csr::from_rows(&[vec![0, 1], vec![0, 1], vec![2]]);
        let emb = svd_item_embeddings(&train, 3, 1, 7).unwrap();
        // V Σ for λ = 4: (1, 1, 0) / sqrt 2 * 2, up to sign.
        let v: Vec<f64> = emb.column(0).iter().map(|a| a.abs()).collect();
        for (got, want) in v.iter().zip([2f64.sqrt(), 2f64.sqrt(), 0.0]) {
            assert!((got - want).abs() < 1e-4, "{v:?}");
        }
    }

    #[test]
    fn two_blocks_of_co_consumed_items_fall_into_two_groups() {
        // Users 0-3 take items 0-2, users 4-7 take items 3-5: two blocks.
        let rows: Vec<Vec<u32>> = (0..8).map(|u| if u < 4 { vec![0, 1, 2] } else { vec![3, 4, 5] }).collect();
        let train = Csr::from_rows(&rows);
        let groups = item_groups(&train, 6, 2, 2, 3).unwrap();
        assert_eq!(groups, vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(item_groups(&train, 6, 2, 2, 3).unwrap(), groups, "seeded: the same groups again");
    }

    #[test]
    fn more_clusters_than_items_is_an_error_naming_the_key() {
        let train = Csr::from_rows(&[vec![0, 1]]);
        let e = kmeans_groups(&Array2::zeros((2, 1)), 3, 1).unwrap_err();
        assert!(e.contains("clusters = 3: must be 1..=2"), "{e}");
        let e = item_groups(&train, 2, 2, 5, 1).unwrap_err();
        assert!(e.contains("svd_dim = 5"), "{e}");
    }
}
