//! Full-ranking evaluation of the top-K family. Every user with held-out items scores the whole
//! catalogue from their training vector; the items they are known to have (train for validation;
//! train and valid for test, as RecBole masks them) are removed; the rest are ranked by score.
//! Ties are resolved conservatively: a held-out item goes after every item with the same score,
//! other ties by id. Recall, NDCG, Hit, MRR and Precision at each cut-off are averaged over users;
//! coverage@K is the share of the catalogue in anyone's top K.

use crate::batch::{train_rows, user_ids};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use recdiff_data::user_item::UserItemSplit;
use recdiff_metrics::MetricError;
use recdiff_metrics::ranking::{hit_rate_at, mrr_at, ndcg_at, precision_at, recall_at};
use recdiff_model::topk::TopKModel;
use serde::{Deserialize, Serialize};

/// Metrics by name (`recall@10`, …), in the order of `metric_names`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopKMetrics {
    pub values: Vec<(String, f64)>,
    pub users: usize,
}

impl TopKMetrics {
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    pub fn to_metrics(&self) -> recdiff_experiment::Metrics {
        let mut m = recdiff_experiment::Metrics::new();
        for (name, v) in &self.values {
            m.set(name.clone(), Some(*v));
        }
        m
    }
}

/// The first `k` item ids by score, `excluded` left out, `relevant` after every item tied with
/// them, other ties by id.
pub fn top_k(scores: &[f32], excluded: &[u32], relevant: &[u32], k: usize) -> Vec<u32> {
    let mut keep = vec![true; scores.len()];
    for &e in excluded {
        keep[e as usize] = false;
    }
    let mut ids: Vec<u32> = (0..scores.len() as u32).filter(|&i| keep[i as usize]).collect();
    let order = |&a: &u32, &b: &u32| {
        let rel = |x: u32| relevant.binary_search(&x).is_ok();
        scores[b as usize].total_cmp(&scores[a as usize]).then(rel(a).cmp(&rel(b))).then(a.cmp(&b))
    };
    let k = k.min(ids.len());
    if k > 0 && k < ids.len() {
        ids.select_nth_unstable_by(k - 1, order);
        ids.truncate(k);
    }
    ids.sort_by(order);
    ids
}

/// Evaluates `model` (inference backend) on the valid (`test = false`) or test items.
pub fn evaluate(
    model: &TopKModel,
    split: &UserItemSplit,
    test: bool,
    cfg: &recdiff_run::topk_config::TopKExperimentConfig,
    device: &burn::tensor::Device,
) -> Result<TopKMetrics, MetricError> {
    let targets = if test { &split.test } else { &split.valid };
    let users: Vec<usize> = (0..split.n_users).filter(|&u| !targets.row(u).is_empty()).collect();
    let ks = &cfg.train.ks;
    let kmax = ks.iter().copied().max().unwrap_or(10);
    let mut sums = vec![[0.0f64; 5]; ks.len()];
    let mut covered = vec![vec![false; split.n_items]; ks.len()];
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xE7A1);
    let recency = cfg.model.recency();
    for chunk in users.chunks(cfg.train.eval_batch_size.max(1)) {
        let x = train_rows(split, chunk, recency, device);
        let scores = model.scores(x, user_ids(chunk, device), &mut rng);
        let n = scores.dims()[1];
        let flat = scores.into_data().try_into_vec::<f32>().unwrap_or_default();
        for (row, &u) in chunk.iter().enumerate() {
            let excluded: Vec<u32> = split.seen(u, test).collect();
            let relevant = targets.row(u);
            let ranked = top_k(&flat[row * n..(row + 1) * n], &excluded, relevant, kmax);
            for (i, &k) in ks.iter().enumerate() {
                let s = &mut sums[i];
                s[0] += recall_at(&ranked, relevant, k)?;
                s[1] += ndcg_at(&ranked, relevant, k)?;
                s[2] += hit_rate_at(&ranked, relevant, k)?;
                s[3] += mrr_at(&ranked, relevant, k)?;
                s[4] += precision_at(&ranked, relevant, k)?;
                for &item in ranked.iter().take(k) {
                    covered[i][item as usize] = true;
                }
            }
        }
    }
    if users.is_empty() {
        return Err(MetricError::Empty);
    }
    let count = users.len() as f64;
    let mut values = Vec::new();
    for (m, name) in ["recall", "ndcg", "hr", "mrr", "precision"].iter().enumerate() {
        values.extend(ks.iter().enumerate().map(|(i, k)| (format!("{name}@{k}"), sums[i][m] / count)));
    }
    values.extend(ks.iter().enumerate().map(|(i, k)| {
        (format!("coverage@{k}"), covered[i].iter().filter(|&&c| c).count() as f64 / split.n_items as f64)
    }));
    Ok(TopKMetrics { values, users: users.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_masks_known_items_and_puts_held_out_items_after_their_ties() {
        let scores = [0.5, 2.0, 2.0, 3.0, 2.0, -1.0];
        assert_eq!(top_k(&scores, &[3], &[1], 3), vec![2, 4, 1], "item 1 ties with 2 and 4 and goes last");
        assert_eq!(top_k(&scores, &[], &[], 10), vec![3, 1, 2, 4, 0, 5]);
        assert_eq!(top_k(&[0.0; 4], &[], &[0], 4).last(), Some(&0), "a constant scorer ranks targets last");
    }
}
