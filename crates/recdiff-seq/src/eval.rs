//! Full-ranking evaluation: every query scores the whole catalogue; the padding id and (when
//! configured) the items of the user's history are removed; the rest are ranked by score. Ties are
//! resolved conservatively: the held-out item goes after every item with the same score (a model
//! that scores everything alike ranks its target last, not by the luck of its id); other ties go by
//! id. HR@K, NDCG@K, Recall@K over the single held-out item, MRR over the full ranking, and the
//! diversity of the top-K lists: intra-list distance on item attributes and catalogue coverage.

use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use recdiff_data::histories::{Interactions, LeaveOneOut, query_window};
use recdiff_metrics::RankingSummary;
use recdiff_metrics::diversity::{coverage, intra_list_distance};
use recdiff_model::seq::{SeqModel, ids_tensor};
use serde::{Deserialize, Serialize};

/// Metrics of one split; vectors are per cut-off in `ks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeqMetrics {
    pub ks: Vec<usize>,
    pub hit_rate: Vec<f64>,
    pub ndcg: Vec<f64>,
    pub recall: Vec<f64>,
    pub mrr: f64,
    pub coverage: Vec<f64>,
    /// Mean intra-list distance on item attributes; `None` without attributes.
    pub ild: Vec<Option<f64>>,
    pub queries: usize,
}

/// Every metric an evaluation with cut-offs `ks` reports: `hr@K`, `ndcg@K`, `recall@K`,
/// `coverage@K`, `ild@K` and `mrr`, all higher-is-better.
pub fn registry(ks: &[usize]) -> Vec<recdiff_experiment::MetricSpec> {
    let mut names = vec!["mrr".to_string()];
    for m in ["hr", "ndcg", "recall", "coverage", "ild"] {
        names.extend(ks.iter().map(|k| format!("{m}@{k}")));
    }
    names.into_iter().map(recdiff_experiment::MetricSpec::higher).collect()
}

impl SeqMetrics {
    /// A metric by name, e.g. `ndcg@10`, `hr@50`, `mrr`, `coverage@10`; `None` when not
    /// reported or absent.
    pub fn get(&self, name: &str) -> Option<f64> {
        if name == "mrr" {
            return Some(self.mrr);
        }
        let (metric, k) = name.split_once('@')?;
        let at = self.ks.iter().position(|&x| x.to_string() == k)?;
        match metric {
            "hr" => Some(self.hit_rate[at]),
            "ndcg" => Some(self.ndcg[at]),
            "recall" => Some(self.recall[at]),
            "coverage" => Some(self.coverage[at]),
            "ild" => self.ild[at],
            _ => None,
        }
    }

    /// The metrics by name, as every family reports them.
    pub fn to_metrics(&self) -> recdiff_experiment::Metrics {
        let mut m = recdiff_experiment::Metrics::new();
        for spec in registry(&self.ks) {
            let value = self.get(&spec.name);
            m.set(spec.name, value);
        }
        m
    }
}

/// How queries are built and ranked.
#[derive(Debug, Clone)]
pub struct EvalSpec {
    pub ks: Vec<usize>,
    pub max_len: usize,
    pub exclude_history: bool,
    pub batch_size: usize,
    pub seed: u64,
    /// Show a progress bar over the query batches.
    pub progress: bool,
}

impl EvalSpec {
    /// The evaluation an experiment config asks for.
    pub fn of(cfg: &crate::SeqExperimentConfig) -> Self {
        Self {
            ks: cfg.train.ks.clone(),
            max_len: cfg.data.max_len,
            exclude_history: cfg.data.exclude_history,
            batch_size: cfg.train.eval_batch_size,
            seed: cfg.seed,
            progress: cfg.train.progress,
        }
    }
}

/// Ids ranked best first, `excluded` left out; `target` after every item tied with it, other
/// ties by id.
pub fn rank(scores: &[f32], excluded: &[u32], target: u32) -> Vec<u32> {
    let mut ids: Vec<u32> = (1..scores.len() as u32).filter(|i| !excluded.contains(i)).collect();
    ids.sort_by(|&a, &b| {
        scores[b as usize].total_cmp(&scores[a as usize]).then((a == target).cmp(&(b == target))).then(a.cmp(&b))
    });
    ids
}

/// Evaluates `model` (inference backend) on the validation (`test = false`) or test targets.
pub fn evaluate(
    model: &SeqModel,
    data: &Interactions,
    split: &LeaveOneOut,
    test: bool,
    spec: &EvalSpec,
    device: &Device,
) -> Result<SeqMetrics, recdiff_metrics::MetricError> {
    let targets = if test { &split.test } else { &split.valid };
    let users: Vec<usize> = (0..targets.len()).filter(|&u| targets[u].is_some()).collect();
    let mut summary = RankingSummary::new(&spec.ks);
    let mut tops: Vec<Vec<Vec<u32>>> = vec![Vec::new(); spec.ks.len()];
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let kmax = spec.ks.iter().copied().max().unwrap_or(10);
    let label = if test { "test" } else { "valid" };
    let bar =
        recdiff_experiment::progress::bar(spec.progress, label, users.len().div_ceil(spec.batch_size.max(1)) as u64);
    for chunk in users.chunks(spec.batch_size.max(1)) {
        let histories: Vec<Vec<u32>> = chunk.iter().map(|&u| split.history(u, test)).collect();
        let windows: Vec<Vec<u32>> = histories.iter().map(|h| query_window(h, spec.max_len)).collect();
        let scores = model.scores(ids_tensor(&windows, device), &mut rng);
        let width = scores.dims()[1];
        let flat = scores.into_data().try_into_vec::<f32>().unwrap_or_default();
        for (row, (&u, history)) in chunk.iter().zip(&histories).enumerate() {
            let excluded: &[u32] = if spec.exclude_history { history } else { &[] };
            let target = targets[u].unwrap_or_default();
            let ranked = rank(&flat[row * width..(row + 1) * width], excluded, target);
            summary.add(&ranked, &[target])?;
            for (i, &k) in spec.ks.iter().enumerate() {
                tops[i].push(ranked[..k.min(ranked.len())].to_vec());
            }
            debug_assert!(ranked.len() >= kmax.min(width - 1 - excluded.len()));
        }
        bar.inc(1);
    }
    let means = summary.means()?;
    let has_attributes = data.attributes.iter().any(|a| !a.is_empty());
    let ild = tops
        .iter()
        .map(|lists| {
            if !has_attributes {
                return None;
            }
            let v: Vec<f64> = lists.iter().filter_map(|l| intra_list_distance(l, &data.attributes)).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        })
        .collect();
    Ok(SeqMetrics {
        coverage: tops.iter().map(|lists| coverage(lists.iter().map(Vec::as_slice), data.n_items())).collect(),
        ild,
        ks: means.ks,
        hit_rate: means.hit_rate,
        ndcg: means.ndcg,
        recall: means.recall,
        mrr: means.mrr,
        queries: means.queries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_skips_padding_and_history_and_breaks_ties_by_id() {
        let scores = [9.0, 0.5, 2.0, 2.0, 3.0, -1.0];
        assert_eq!(rank(&scores, &[], 1), vec![4, 2, 3, 1, 5]);
        assert_eq!(rank(&scores, &[4, 3], 5), vec![2, 1, 5]);
    }

    #[test]
    fn the_target_ranks_after_every_item_tied_with_it() {
        let scores = [9.0, 2.0, 2.0, 2.0, 3.0, 2.0];
        assert_eq!(rank(&scores, &[], 2), vec![4, 1, 3, 5, 2]);
        // A constant scorer puts the target last whatever its id.
        assert_eq!(rank(&[0.0; 6], &[], 1).last(), Some(&1));
    }
}
