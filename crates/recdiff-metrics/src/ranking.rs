//! Top-K retrieval metrics for one query: a ranked list of item ids against the set of relevant ids.
//!
//! Binary relevance throughout. NDCG uses the `1 / log2(rank + 1)` discount (rank 1-based) and the
//! ideal DCG of `min(|relevant|, K)` hits. MRR is the reciprocal 1-based rank of the first relevant
//! item in the whole list (0 when none appears). [`RankingSummary`] averages them over queries.

use crate::MetricError;
use std::collections::HashSet;

fn check(ranked: &[u32], relevant: &[u32]) -> Result<(), MetricError> {
    if relevant.is_empty() {
        return Err(MetricError::Empty);
    }
    let mut seen = HashSet::with_capacity(ranked.len());
    for (index, &id) in ranked.iter().enumerate() {
        if !seen.insert(id) {
            return Err(MetricError::NotFinite { what: "ranked list (duplicate item id)", index, value: id as f64 });
        }
    }
    Ok(())
}

fn hits_in_top(ranked: &[u32], relevant: &[u32], k: usize) -> usize {
    ranked.iter().take(k).filter(|id| relevant.contains(id)).count()
}

/// 1 if any relevant item is among the first `k`, else 0.
pub fn hit_rate_at(ranked: &[u32], relevant: &[u32], k: usize) -> Result<f64, MetricError> {
    check(ranked, relevant)?;
    Ok((hits_in_top(ranked, relevant, k) > 0) as u8 as f64)
}

/// Share of the relevant items found among the first `k`.
pub fn recall_at(ranked: &[u32], relevant: &[u32], k: usize) -> Result<f64, MetricError> {
    check(ranked, relevant)?;
    Ok(hits_in_top(ranked, relevant, k) as f64 / relevant.len() as f64)
}

/// Normalised discounted cumulative gain of the first `k` items.
pub fn ndcg_at(ranked: &[u32], relevant: &[u32], k: usize) -> Result<f64, MetricError> {
    check(ranked, relevant)?;
    let discount = |pos: usize| 1.0 / ((pos + 2) as f64).log2();
    let dcg: f64 =
        ranked.iter().take(k).enumerate().filter(|(_, id)| relevant.contains(id)).map(|(pos, _)| discount(pos)).sum();
    let ideal: f64 = (0..relevant.len().min(k)).map(discount).sum();
    Ok(if ideal > 0.0 { dcg / ideal } else { 0.0 })
}

/// Share of the first `k` items that are relevant (hits / k, as RecBole's Precision@K).
pub fn precision_at(ranked: &[u32], relevant: &[u32], k: usize) -> Result<f64, MetricError> {
    check(ranked, relevant)?;
    Ok(hits_in_top(ranked, relevant, k) as f64 / k.max(1) as f64)
}

/// Reciprocal rank of the first relevant item among the first `k`, 0 if none is there.
pub fn mrr_at(ranked: &[u32], relevant: &[u32], k: usize) -> Result<f64, MetricError> {
    check(ranked, relevant)?;
    Ok(ranked.iter().take(k).position(|id| relevant.contains(id)).map_or(0.0, |pos| 1.0 / (pos + 1) as f64))
}

/// Reciprocal rank of the first relevant item in the whole list, 0 if none is present.
pub fn mrr(ranked: &[u32], relevant: &[u32]) -> Result<f64, MetricError> {
    check(ranked, relevant)?;
    Ok(ranked.iter().position(|id| relevant.contains(id)).map_or(0.0, |pos| 1.0 / (pos + 1) as f64))
}

/// Running means of HR/NDCG/Recall at several cut-offs and MRR over queries.
#[derive(Debug, Clone, PartialEq)]
pub struct RankingSummary {
    pub ks: Vec<usize>,
    pub hit_rate: Vec<f64>,
    pub ndcg: Vec<f64>,
    pub recall: Vec<f64>,
    pub mrr: f64,
    pub queries: usize,
}

impl RankingSummary {
    pub fn new(ks: &[usize]) -> Self {
        Self {
            ks: ks.to_vec(),
            hit_rate: vec![0.0; ks.len()],
            ndcg: vec![0.0; ks.len()],
            recall: vec![0.0; ks.len()],
            mrr: 0.0,
            queries: 0,
        }
    }

    /// Adds one query's ranked list.
    pub fn add(&mut self, ranked: &[u32], relevant: &[u32]) -> Result<(), MetricError> {
        for (i, &k) in self.ks.iter().enumerate() {
            self.hit_rate[i] += hit_rate_at(ranked, relevant, k)?;
            self.ndcg[i] += ndcg_at(ranked, relevant, k)?;
            self.recall[i] += recall_at(ranked, relevant, k)?;
        }
        self.mrr += mrr(ranked, relevant)?;
        self.queries += 1;
        Ok(())
    }

    /// The means over the queries added so far.
    pub fn means(&self) -> Result<Self, MetricError> {
        if self.queries == 0 {
            return Err(MetricError::Empty);
        }
        let n = self.queries as f64;
        let div = |v: &[f64]| v.iter().map(|x| x / n).collect();
        Ok(Self {
            ks: self.ks.clone(),
            hit_rate: div(&self.hit_rate),
            ndcg: div(&self.ndcg),
            recall: div(&self.recall),
            mrr: self.mrr / n,
            queries: self.queries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reference NDCG written from the textbook definition with explicit relevance gains.
    fn naive_ndcg(ranked: &[u32], relevant: &[u32], k: usize) -> f64 {
        let gains: Vec<f64> = ranked.iter().map(|id| if relevant.contains(id) { 1.0 } else { 0.0 }).collect();
        let dcg = |g: &[f64]| -> f64 {
            g.iter().take(k).enumerate().map(|(i, g)| (2f64.powf(*g) - 1.0) / (i as f64 + 2.0).log2()).sum()
        };
        let mut ideal = vec![1.0; relevant.len()];
        ideal.resize(ranked.len().max(relevant.len()), 0.0);
        let idcg = dcg(&ideal);
        if idcg == 0.0 { 0.0 } else { dcg(&gains) / idcg }
    }

    fn query() -> impl Strategy<Value = (Vec<u32>, Vec<u32>, usize)> {
        (Just((0u32..40).collect::<Vec<_>>()).prop_shuffle(), prop::collection::btree_set(0u32..60, 1..6), 1usize..45)
            .prop_map(|(r, rel, k)| (r, rel.into_iter().collect(), k))
    }

    proptest! {
        #[test]
        fn ndcg_matches_textbook_definition((ranked, relevant, k) in query()) {
            let got = ndcg_at(&ranked, &relevant, k).unwrap();
            prop_assert!((got - naive_ndcg(&ranked, &relevant, k)).abs() < 1e-12);
            prop_assert!((0.0..=1.0).contains(&got));
        }

        #[test]
        fn hit_recall_and_mrr_match_linear_scans((ranked, relevant, k) in query()) {
            let top = &ranked[..k.min(ranked.len())];
            let hits = relevant.iter().filter(|r| top.contains(r)).count();
            let expected_hit = if hits > 0 { 1.0 } else { 0.0 };
            prop_assert_eq!(hit_rate_at(&ranked, &relevant, k).unwrap(), expected_hit);
            prop_assert!((recall_at(&ranked, &relevant, k).unwrap() - hits as f64 / relevant.len() as f64).abs() < 1e-12);
            let first = relevant.iter().filter_map(|r| ranked.iter().position(|x| x == r)).min();
            prop_assert_eq!(mrr(&ranked, &relevant).unwrap(), first.map_or(0.0, |p| 1.0 / (p + 1) as f64));
        }
    }

    #[test]
    fn precision_and_truncated_mrr_on_two_relevant_items() {
        let ranked = [5, 7, 9, 1, 4];
        assert!((precision_at(&ranked, &[7, 4], 2).unwrap() - 0.5).abs() < 1e-12);
        assert!((precision_at(&ranked, &[7, 4], 5).unwrap() - 0.4).abs() < 1e-12);
        assert_eq!(mrr_at(&ranked, &[9, 4], 2).unwrap(), 0.0, "the first hit is at rank 3");
        assert!((mrr_at(&ranked, &[9, 4], 3).unwrap() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn single_target_at_rank_three() {
        let ranked = [5, 7, 9, 1];
        assert_eq!(hit_rate_at(&ranked, &[9], 2).unwrap(), 0.0);
        assert_eq!(hit_rate_at(&ranked, &[9], 3).unwrap(), 1.0);
        assert!((ndcg_at(&ranked, &[9], 3).unwrap() - 0.5).abs() < 1e-12);
        assert!((mrr(&ranked, &[9]).unwrap() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn summary_averages_over_queries_and_rejects_duplicates() {
        let mut s = RankingSummary::new(&[1, 2]);
        s.add(&[1, 2], &[1]).unwrap();
        s.add(&[1, 2], &[2]).unwrap();
        let m = s.means().unwrap();
        assert_eq!(m.hit_rate, vec![0.5, 1.0]);
        assert!((m.mrr - 0.75).abs() < 1e-12);
        assert!(s.add(&[1, 1], &[1]).is_err());
    }
}
