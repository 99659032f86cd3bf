//! Retrieval serving for sequential runs (`recdiff seq train`): a user's recent history -> the
//! top-K next items, by exact inner-product search over the catalogue or through an HNSW index
//! (hnsw_rs).
//!
//! Inner-product search is reduced to nearest-neighbour search (Bachrach et al. 2014): every item
//! vector `x` gets an extra coordinate `sqrt(M² - |x|²)` (`M` the largest norm), the query a 0, so
//! the L2-nearest augmented item is the one with the largest inner product. The index returns
//! `k + |history|` candidates (history items are then removed), searched with the request's `ef`
//! (default 64, at least the number of candidates).

use crate::model::LoadError;
use crate::recommender::{RecommendError, check_k, key_of};
use crate::request::RequestError;
use burn::tensor::Device;
use hnsw_rs::prelude::{DistL2, Hnsw};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use recdiff_data::histories::query_window;
use recdiff_model::seq::{SeqModel, ids_tensor};
use recdiff_run::{SeqExperimentConfig, SeqRun};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `POST /v1/recommend`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendRequest {
    /// Item keys, oldest first (sequential runs).
    #[serde(default)]
    pub history: Vec<serde_json::Value>,
    /// A user key of the run's data, instead of a history: the user's whole history is the query
    /// (sequential runs), or their known items the input (top-K runs); unknown users get a 404.
    #[serde(default)]
    pub user: Option<serde_json::Value>,
    #[serde(default = "default_k")]
    pub k: usize,
    /// Exact search over the whole catalogue instead of the ANN index.
    #[serde(default)]
    pub exact: bool,
    /// Leave the history's items out of the answer.
    #[serde(default = "yes")]
    pub exclude_history: bool,
    /// HNSW search width (1..=10000; default 64): recall against latency on large catalogues.
    #[serde(default)]
    pub ef: Option<usize>,
}

impl RecommendRequest {
    /// The search this request asks for.
    pub fn search(&self) -> Search {
        if self.exact { Search::Exact } else { Search::Hnsw { ef: self.ef } }
    }
}

fn default_k() -> usize {
    10
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommended {
    pub item: String,
    pub score: f32,
}

pub struct RetrievalModel {
    pub run: PathBuf,
    pub name: String,
    cfg: SeqExperimentConfig,
    items: Vec<String>,
    index_of: HashMap<String, u32>,
    model: SeqModel,
    device: Device,
    index: ItemIndex,
    /// Each user's history (item ids, oldest first) by user key, from the run's data; `None`
    /// when the data could not be read (then only histories are served).
    users: Option<HashMap<String, Vec<u32>>>,
}

/// The HNSW search width when a request gives none (at least the number of results wanted).
pub const DEFAULT_EF: usize = 64;

/// Largest `ef` a request may ask for.
pub const MAX_EF: usize = 10_000;

/// How the top-K is found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Search {
    /// Every item scored.
    Exact,
    /// HNSW with search width `ef` (default [`DEFAULT_EF`]): wider is slower and closer to exact.
    Hnsw { ef: Option<usize> },
}

/// Item vectors (`[n + 1, d]`, row 0 padding, never returned) searched by inner product, exactly
/// or through an HNSW index over their MIPS augmentation.
pub struct ItemIndex {
    vectors: Vec<f32>,
    dim: usize,
    hnsw: Hnsw<'static, f32, DistL2>,
}

fn err(path: &Path, message: impl ToString) -> LoadError {
    LoadError::Run { path: path.to_path_buf(), message: message.to_string() }
}

impl RetrievalModel {
    pub fn load(run: &Path) -> Result<Self, LoadError> {
        let device = Device::flex();
        let loaded = SeqRun::open(run, &device).map_err(|e| LoadError::Run { path: e.path, message: e.message })?;
        let (cfg, items, model) = (loaded.cfg, loaded.items, loaded.model);
        let weights = run.join("best.safetensors");
        let table = model.item_vectors();
        let dim = table.dims()[1];
        let vectors = table.into_data().try_into_vec::<f32>().map_err(|e| err(&weights, format!("{e:?}")))?;
        let index = ItemIndex::new(vectors, dim);
        let index_of = items.iter().enumerate().skip(1).map(|(i, k)| (k.clone(), i as u32)).collect();
        let users = user_histories(&cfg, &items);
        let name = cfg.model.name().into();
        Ok(Self { run: run.to_path_buf(), name, cfg, items, index_of, model, device, index, users })
    }

    /// Item ids of a request's history; an unknown item or a non-key value is an error naming it.
    pub fn history_ids(&self, history: &[serde_json::Value]) -> Result<Vec<u32>, crate::request::RequestError> {
        history
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let key = key_of(v, &format!("history[{i}]"), "an item key")?;
                self.index_of.get(&key).copied().ok_or_else(|| {
                    crate::request::RequestError::new(format!("history[{i}]"), format!("unknown item {key:?}"))
                })
            })
            .collect()
    }

    /// The query vector of a history (ids, oldest first).
    pub fn query(&self, history: &[u32]) -> Vec<f32> {
        let window = query_window(history, self.cfg.data.max_len);
        let mut rng = ChaCha8Rng::seed_from_u64(self.cfg.seed);
        let q = self.model.query(ids_tensor(&[window], &self.device), &mut rng);
        q.into_data().try_into_vec::<f32>().unwrap_or_default()
    }

    /// Top-`k` item ids for query `q`, `excluded` left out; exact or through the index.
    pub fn top_k(&self, q: &[f32], k: usize, excluded: &[u32], search: Search) -> Vec<(u32, f32)> {
        self.index.top_k(q, k, excluded, search)
    }

    pub fn recommend(&self, req: &RecommendRequest) -> Result<Vec<Recommended>, RecommendError> {
        check_k(req.k, self.items.len() - 1)?;
        if req.ef.is_some_and(|ef| ef == 0 || ef > MAX_EF) {
            return Err(RequestError::new("ef", format!("must be 1..={MAX_EF}")).into());
        }
        let history = match &req.user {
            Some(_) if !req.history.is_empty() => {
                return Err(RequestError::new("user", "give a user or a history, not both").into());
            }
            Some(user) => self.user_history(user)?,
            None if req.history.is_empty() => {
                return Err(RequestError::new("history", "must list at least one item (or give a user)").into());
            }
            None => self.history_ids(&req.history)?,
        };
        let q = self.query(&history);
        let excluded: &[u32] = if req.exclude_history { &history } else { &[] };
        Ok(self
            .top_k(&q, req.k, excluded, req.search())
            .into_iter()
            .map(|(i, score)| Recommended { item: self.items[i as usize].clone(), score })
            .collect())
    }

    /// The whole history of the user keyed by `user` in the run's data.
    fn user_history(&self, user: &serde_json::Value) -> Result<Vec<u32>, RecommendError> {
        let key = key_of(user, "user", "a user key")?;
        let users = self.users.as_ref().ok_or_else(|| {
            RecommendError::Unavailable("users: the run's training data could not be read when it was loaded".into())
        })?;
        users.get(&key).cloned().ok_or(RecommendError::UnknownUser(key))
    }

    /// The index over the run's item vectors.
    pub fn index(&self) -> &ItemIndex {
        &self.index
    }

    pub fn items(&self) -> usize {
        self.items.len() - 1
    }

    pub fn max_len(&self) -> usize {
        self.cfg.data.max_len
    }

    /// The resolved config the run was trained under.
    pub fn config(&self) -> &SeqExperimentConfig {
        &self.cfg
    }
}

/// Each user's history by key, from the data `cfg` names, when it reads and its items are the
/// run's (`items`, padding first); otherwise `None`, with the reason logged.
fn user_histories(cfg: &SeqExperimentConfig, items: &[String]) -> Option<HashMap<String, Vec<u32>>> {
    let data = match recdiff_run::seq::load_data(cfg) {
        Ok((data, _)) => data,
        Err(e) => {
            tracing::warn!("requests by user are off: reading the run's data failed: {e}");
            return None;
        }
    };
    if data.items != items {
        tracing::warn!("requests by user are off: the data's items are not the ones the run was trained on");
        return None;
    }
    Some(data.users.into_iter().zip(data.histories).collect())
}

impl ItemIndex {
    /// Indexes `vectors` (`[n + 1, dim]`, row-major).
    pub fn new(vectors: Vec<f32>, dim: usize) -> Self {
        let hnsw = build_index(&vectors, dim);
        Self { vectors, dim, hnsw }
    }

    /// Items (padding row not counted).
    pub fn len(&self) -> usize {
        (self.vectors.len() / self.dim.max(1)).saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The vectors, `[n + 1, dim]` row-major, and `dim`.
    pub fn vectors(&self) -> (&[f32], usize) {
        (&self.vectors, self.dim)
    }

    /// Share of the exact top-`k` of each query that `search` also returns, averaged; query `i`
    /// leaves out `excluded[i]` (none where `excluded` is shorter).
    pub fn recall(&self, queries: &[Vec<f32>], excluded: &[Vec<u32>], k: usize, search: Search) -> f64 {
        let mut total = 0.0;
        for (i, q) in queries.iter().enumerate() {
            let skip = excluded.get(i).map_or(&[][..], Vec::as_slice);
            let exact: Vec<u32> = self.top_k(q, k, skip, Search::Exact).into_iter().map(|x| x.0).collect();
            let ann: Vec<u32> = self.top_k(q, k, skip, search).into_iter().map(|x| x.0).collect();
            total += exact.iter().filter(|i| ann.contains(i)).count() as f64 / k as f64;
        }
        total / queries.len().max(1) as f64
    }

    fn score(&self, q: &[f32], id: u32) -> f32 {
        let row = &self.vectors[id as usize * self.dim..(id as usize + 1) * self.dim];
        row.iter().zip(q).map(|(a, b)| a * b).sum()
    }

    /// Top-`k` item ids for query `q`, `excluded` left out.
    pub fn top_k(&self, q: &[f32], k: usize, excluded: &[u32], search: Search) -> Vec<(u32, f32)> {
        let n = self.len() + 1;
        let skip: std::collections::HashSet<u32> = excluded.iter().copied().collect();
        let mut found: Vec<(u32, f32)> = if let Search::Hnsw { ef } = search {
            let want = (k + excluded.len()).min(n - 1);
            let ef = ef.unwrap_or(DEFAULT_EF).max(want);
            let mut aug = q.to_vec();
            aug.push(0.0);
            self.hnsw
                .search(&aug, want, ef)
                .into_iter()
                .map(|nb| nb.d_id as u32)
                .filter(|&i| i != 0 && !skip.contains(&i))
                .map(|i| (i, self.score(q, i)))
                .collect()
        } else {
            (1..n as u32).filter(|i| !skip.contains(i)).map(|i| (i, self.score(q, i))).collect()
        };
        found.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        found.truncate(k);
        found
    }
}

/// An HNSW index over the augmented item vectors (ids 1..=n).
fn build_index(vectors: &[f32], dim: usize) -> Hnsw<'static, f32, DistL2> {
    let n = vectors.len() / dim;
    let norms: Vec<f32> = vectors.chunks(dim).map(|r| r.iter().map(|v| v * v).sum::<f32>()).collect();
    let max = norms.iter().skip(1).copied().fold(0.0f32, f32::max);
    let augmented: Vec<Vec<f32>> = vectors
        .chunks(dim)
        .zip(&norms)
        .map(|(r, &nn)| {
            let mut v = r.to_vec();
            v.push((max - nn).max(0.0).sqrt());
            v
        })
        .collect();
    let hnsw = Hnsw::new(16, n, 16, 200, DistL2 {});
    let data: Vec<(&Vec<f32>, usize)> = augmented.iter().enumerate().skip(1).map(|(i, v)| (v, i)).collect();
    hnsw.parallel_insert(&data);
    hnsw
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn random_index(n: usize, dim: usize, seed: u64) -> (ItemIndex, Vec<Vec<f32>>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Uniform entries: norms differ, so inner product and cosine rank differently.
        let vectors: Vec<f32> = (0..(n + 1) * dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let queries = (0..50).map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect()).collect();
        (ItemIndex::new(vectors, dim), queries)
    }

    #[test]
    fn exact_search_is_the_inner_product_order_without_padding_and_exclusions() {
        let (index, queries) = random_index(300, 8, 1);
        let (vectors, dim) = index.vectors();
        for q in &queries {
            let mut naive: Vec<(u32, f32)> = (1..=300u32)
                .filter(|i| ![3, 7].contains(i))
                .map(|i| (i, vectors[i as usize * dim..][..dim].iter().zip(q).map(|(a, b)| a * b).sum()))
                .collect();
            naive.sort_by(|a, b| b.1.total_cmp(&a.1));
            naive.truncate(10);
            assert_eq!(index.top_k(q, 10, &[3, 7], Search::Exact), naive);
        }
    }

    #[test]
    fn hnsw_recall_of_the_inner_product_top_k_is_high_and_grows_with_ef() {
        let (index, queries) = random_index(3000, 16, 2);
        let narrow = index.recall(&queries, &[], 10, Search::Hnsw { ef: Some(10) });
        let default = index.recall(&queries, &[], 10, Search::Hnsw { ef: None });
        let wide = index.recall(&queries, &[], 10, Search::Hnsw { ef: Some(500) });
        assert!(wide >= default && default >= narrow, "{narrow} {default} {wide}");
        assert!(wide > 0.97, "recall@10 at ef 500: {wide}");
        let excluded = index.top_k(&queries[0], 10, &[1, 2, 3], Search::Hnsw { ef: None });
        assert!(excluded.iter().all(|(i, _)| *i > 3) && excluded.len() == 10, "{excluded:?}");
    }
}
