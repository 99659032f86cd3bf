//! The top-K collaborative-filtering protocol's data, as RecBole defines it: every interaction of a
//! user is an implicit positive (repeats collapsed to one), each user's items are split at random
//! 8:1:1 into train, valid and test, and each split is a sparse user x item matrix (CSR), so a
//! model with one output per item densifies only the users of a batch, never the whole matrix.
//!
//! Split sizes follow RecBole's `split_by_ratio`: valid and test get `floor(ratio * n)` items, train
//! the rest; then, test first, a split whose share is under one item but above zero takes one item
//! from train while train keeps more than one. A user with one item only trains.
//!
//! Items are numbered `0..n_items` in order of first appearance (`Interactions` ids minus one).
//! Each train entry carries its recency in `[0, 1]` among the user's train items (0 the oldest,
//! 1 the newest; 1 for a single item), the order T-DiffRec's weights follow; a repeated item takes
//! the time of its last interaction.

use crate::histories::Interactions;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// A sparse binary matrix, row by row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Csr {
    /// Row `u` is `indices[indptr[u]..indptr[u + 1]]`.
    pub indptr: Vec<usize>,
    /// Column ids, ascending within a row.
    pub indices: Vec<u32>,
}

impl Csr {
    pub fn from_rows(rows: &[Vec<u32>]) -> Self {
        let mut m = Csr { indptr: Vec::with_capacity(rows.len() + 1), indices: Vec::new() };
        m.indptr.push(0);
        for r in rows {
            let mut r = r.clone();
            r.sort_unstable();
            m.indices.extend(r);
            m.indptr.push(m.indices.len());
        }
        m
    }
    pub fn rows(&self) -> usize {
        self.indptr.len() - 1
    }
    pub fn row(&self, u: usize) -> &[u32] {
        &self.indices[self.indptr[u]..self.indptr[u + 1]]
    }
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }
}

/// The three splits of the user x item matrix.
#[derive(Debug, Clone)]
pub struct UserItemSplit {
    pub n_users: usize,
    pub n_items: usize,
    pub train: Csr,
    pub valid: Csr,
    pub test: Csr,
    /// Recency of each train entry, aligned with `train.indices`.
    pub train_recency: Vec<f32>,
}

/// RecBole's per-user split counts for `n` items and `ratios` (train, valid, test).
pub fn split_counts(n: usize, ratios: [f64; 3]) -> [usize; 3] {
    let total: f64 = ratios.iter().sum();
    let share = |r: f64| r / total * n as f64;
    let mut cnt = [0, share(ratios[1]).floor() as usize, share(ratios[2]).floor() as usize];
    cnt[0] = n - cnt[1] - cnt[2];
    for i in [2, 1] {
        if cnt[0] <= 1 {
            break;
        }
        let s = share(ratios[i]);
        if s > 0.0 && s < 1.0 {
            cnt[i] += 1;
            cnt[0] -= 1;
        }
    }
    cnt
}

impl UserItemSplit {
    /// Splits every user's distinct items at random (a ChaCha8 stream per user from `seed`).
    pub fn new(data: &Interactions, ratios: [f64; 3], seed: u64) -> Self {
        Self::split_with(data, ratios, |u, items| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            items.shuffle(&mut rng);
        })
    }

    /// Splits every user's distinct items by time: the oldest share trains, the next validates,
    /// the newest tests (each item at the time of its last interaction).
    pub fn by_time(data: &Interactions, ratios: [f64; 3]) -> Self {
        Self::split_with(data, ratios, |_, items| items.sort_unstable_by_key(|&(_, t)| t))
    }

    /// Shares cut from each user's distinct items `(item, position of its last interaction)` in
    /// the order `arrange` leaves them.
    fn split_with(data: &Interactions, ratios: [f64; 3], arrange: impl Fn(usize, &mut Vec<(u32, usize)>)) -> Self {
        let (mut train, mut valid, mut test, mut recency) = (vec![], vec![], vec![], vec![]);
        for (u, history) in data.histories.iter().enumerate() {
            // Distinct items, each at the position of its last interaction.
            let mut last = std::collections::HashMap::with_capacity(history.len());
            for (t, &item) in history.iter().enumerate() {
                last.insert(item - 1, t);
            }
            let mut items: Vec<(u32, usize)> = last.into_iter().collect();
            items.sort_unstable();
            arrange(u, &mut items);
            let [a, b, _] = split_counts(items.len(), ratios);
            let mut tr: Vec<(u32, usize)> = items[..a].to_vec();
            tr.sort_unstable();
            let mut by_time: Vec<usize> = tr.iter().map(|&(_, t)| t).collect();
            by_time.sort_unstable();
            let rank = |t: usize| by_time.partition_point(|&x| x < t);
            let span = (tr.len().max(2) - 1) as f32;
            recency.extend(tr.iter().map(|&(_, t)| if tr.len() == 1 { 1.0 } else { rank(t) as f32 / span }));
            train.push(tr.iter().map(|&(i, _)| i).collect::<Vec<_>>());
            valid.push(items[a..a + b].iter().map(|&(i, _)| i).collect::<Vec<_>>());
            test.push(items[a + b..].iter().map(|&(i, _)| i).collect::<Vec<_>>());
        }
        Self {
            n_users: data.histories.len(),
            n_items: data.n_items(),
            train: Csr::from_rows(&train),
            valid: Csr::from_rows(&valid),
            test: Csr::from_rows(&test),
            train_recency: recency,
        }
    }

    /// The users with at least one training item: those an epoch visits.
    pub fn train_users(&self) -> Vec<usize> {
        (0..self.n_users).filter(|&u| !self.train.row(u).is_empty()).collect()
    }

    /// Items a query for `split` must not rank: train items for valid; train and valid for test.
    pub fn seen(&self, user: usize, test: bool) -> impl Iterator<Item = u32> + '_ {
        let valid: &[u32] = if test { self.valid.row(user) } else { &[] };
        self.train.row(user).iter().chain(valid).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interactions(histories: Vec<Vec<u32>>) -> Interactions {
        let n = histories.iter().flatten().copied().max().unwrap_or(0) as usize;
        Interactions {
            items: (0..=n).map(|i| i.to_string()).collect(),
            users: (0..histories.len()).map(|u| u.to_string()).collect(),
            attributes: vec![vec![]; n + 1],
            histories,
        }
    }

    #[test]
    fn the_time_split_tests_each_users_newest_items_and_trains_the_oldest() {
        // User 0 re-watches item 3 last, so it counts at its last position.
        let h = vec![vec![5, 3, 1, 2, 4, 6, 7, 8, 9, 10, 3], vec![7, 1, 2]];
        let s = UserItemSplit::by_time(&interactions(h), [0.8, 0.1, 0.1]);
        // 10 distinct items (0-based ids, time order 4 0 1 3 5 6 7 8 9 2): 8 train, 1 valid, 1 test.
        assert_eq!(s.train.row(0), &[0, 1, 3, 4, 5, 6, 7, 8]);
        assert_eq!((s.valid.row(0), s.test.row(0)), (&[9][..], &[2][..]));
        // 3 items: [2, 0, 1] by split_counts(3) = [1, 1, 1].
        assert_eq!((s.train.row(1), s.valid.row(1), s.test.row(1)), (&[6][..], &[0][..], &[1][..]));
    }

    #[test]
    fn counts_follow_recbole_split_by_ratio() {
        let r = [0.8, 0.1, 0.1];
        assert_eq!(split_counts(20, r), [16, 2, 2]);
        assert_eq!(split_counts(25, r), [21, 2, 2], "floor(2.5) each, train takes the rest");
        assert_eq!(split_counts(5, r), [3, 1, 1], "0.5 items each round up to one, test first");
        assert_eq!(split_counts(2, r), [1, 0, 1], "train keeps one item before valid takes one");
        assert_eq!(split_counts(1, r), [1, 0, 0]);
    }

    #[test]
    fn every_distinct_item_lands_in_exactly_one_split_and_the_seed_fixes_which() {
        let h = vec![(1..=30).collect::<Vec<u32>>(), vec![3, 4, 3, 5, 6, 7, 8, 9, 10, 11, 12]];
        let data = interactions(h);
        let s = UserItemSplit::new(&data, [0.8, 0.1, 0.1], 7);
        for (u, distinct) in [(0usize, 30usize), (1, 10)] {
            let mut all: Vec<u32> = [s.train.row(u), s.valid.row(u), s.test.row(u)].concat();
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), distinct, "user {u}");
            assert_eq!(s.train.row(u).len() + s.valid.row(u).len() + s.test.row(u).len(), distinct);
        }
        assert_eq!((s.train.row(0).len(), s.valid.row(0).len(), s.test.row(0).len()), (24, 3, 3));
        let again = UserItemSplit::new(&data, [0.8, 0.1, 0.1], 7);
        assert_eq!(again.test, s.test);
        let other = UserItemSplit::new(&data, [0.8, 0.1, 0.1], 8);
        assert_ne!(other.test, s.test, "another seed draws another split");
    }

    #[test]
    fn recency_ranks_train_items_by_their_last_interaction() {
        // Item 1 (id 0) is seen first and again last: its last interaction makes it the newest.
        let data = interactions(vec![vec![1, 2, 3, 1]]);
        let s = UserItemSplit::new(&data, [1.0, 0.0, 0.0], 1);
        assert_eq!(s.train.row(0), &[0, 1, 2]);
        assert_eq!(s.train_recency, vec![1.0, 0.0, 0.5]);
        assert_eq!(s.seen(0, true).count(), 3);
    }
}
