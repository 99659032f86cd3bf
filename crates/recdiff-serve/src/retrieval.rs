//! Retrieval serving for sequential runs (`recdiff seq train`): a user's recent history -> the
//! top-K next items, by exact inner-product search over the catalogue or through an HNSW index
//! (hnsw_rs).
//!
//! Inner-product search is reduced to nearest-neighbour search (Bachrach et al. 2014): every item
//! vector `x` gets an extra coordinate `sqrt(M² - |x|²)` (`M` the largest norm), the query a 0, so
//! the L2-nearest augmented item is the one with the largest inner product. The index returns
//! `k + |history|` candidates (history items are then removed) searched with `ef = max(64, 2·that)`.

use crate::model::LoadError;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use hnsw_rs::prelude::{DistL2, Hnsw};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use recdiff_seq::SeqExperimentConfig;
use recdiff_seq::data::query_window;
use recdiff_seq::model::SeqModel;
use recdiff_seq::sasrec::ids_tensor;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `POST /v1/recommend`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendRequest {
    /// Item keys, oldest first.
    pub history: Vec<serde_json::Value>,
    #[serde(default = "default_k")]
    pub k: usize,
    /// Exact search over the whole catalogue instead of the ANN index.
    #[serde(default)]
    pub exact: bool,
    /// Leave the history's items out of the answer.
    #[serde(default = "yes")]
    pub exclude_history: bool,
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
    /// Retrieval vectors `[n + 1, d]`, row-major.
    vectors: Vec<f32>,
    dim: usize,
    hnsw: Hnsw<'static, f32, DistL2>,
}

fn err(path: &Path, message: impl ToString) -> LoadError {
    LoadError::Run { path: path.to_path_buf(), message: message.to_string() }
}

impl RetrievalModel {
    pub fn load(run: &Path) -> Result<Self, LoadError> {
        let cfg_path = run.join("config.resolved.toml");
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| err(&cfg_path, e))?;
        let cfg: SeqExperimentConfig = toml::from_str(&text).map_err(|e| err(&cfg_path, e))?;
        let items_path = run.join(recdiff_seq::train::ITEMS_FILE);
        let items: Vec<String> = match std::fs::read(&items_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| err(&items_path, e))?,
            Err(_) => recdiff_seq::train::load_data(&cfg).map_err(|e| err(run, e))?.0.items,
        };
        let device = Device::flex();
        let mut model = cfg.model.init(items.len() - 1, cfg.data.max_len, cfg.seed, &device);
        let weights = run.join("best.safetensors");
        let bytes = std::fs::read(&weights).map_err(|e| err(&weights, e))?;
        let applied = model
            .load_from(&mut SafetensorsStore::from_bytes(Some(bytes)))
            .map_err(|e| err(&weights, format!("{e:?}")))?;
        if !applied.missing.is_empty() {
            return Err(err(&weights, format!("missing tensors {:?}", applied.missing)));
        }
        let table = model.item_vectors();
        let dim = table.dims()[1];
        let vectors = table.into_data().try_into_vec::<f32>().map_err(|e| err(&weights, format!("{e:?}")))?;
        let hnsw = build_index(&vectors, dim);
        let index_of = items.iter().enumerate().skip(1).map(|(i, k)| (k.clone(), i as u32)).collect();
        Ok(Self {
            run: run.to_path_buf(),
            name: cfg.model.name().into(),
            cfg,
            items,
            index_of,
            model,
            device,
            vectors,
            dim,
            hnsw,
        })
    }

    /// Item ids of a request's history; an unknown item or a non-key value is an error naming it.
    pub fn history_ids(&self, history: &[serde_json::Value]) -> Result<Vec<u32>, crate::request::RequestError> {
        history
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let key = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) if n.is_i64() => n.to_string(),
                    _ => {
                        return Err(crate::request::RequestError::new(
                            format!("history[{i}]"),
                            "expected an item key (string or integer)",
                        ));
                    }
                };
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
        let (_, q) = self.model.retrieval(&self.cfg.model, ids_tensor(&[window], &self.device), &mut rng);
        q.into_data().try_into_vec::<f32>().unwrap_or_default()
    }

    fn score(&self, q: &[f32], id: u32) -> f32 {
        let row = &self.vectors[id as usize * self.dim..(id as usize + 1) * self.dim];
        row.iter().zip(q).map(|(a, b)| a * b).sum()
    }

    /// Top-`k` item ids for query `q`, `excluded` left out; exact or through the index.
    pub fn top_k(&self, q: &[f32], k: usize, excluded: &[u32], exact: bool) -> Vec<(u32, f32)> {
        let n = self.items.len();
        let mut found: Vec<(u32, f32)> = if exact {
            (1..n as u32).filter(|i| !excluded.contains(i)).map(|i| (i, self.score(q, i))).collect()
        } else {
            let want = (k + excluded.len()).min(n - 1);
            let mut aug = q.to_vec();
            aug.push(0.0);
            self.hnsw
                .search(&aug, want, want.saturating_mul(2).max(64))
                .into_iter()
                .map(|nb| nb.d_id as u32)
                .filter(|&i| i != 0 && !excluded.contains(&i))
                .map(|i| (i, self.score(q, i)))
                .collect()
        };
        found.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        found.truncate(k);
        found
    }

    pub fn recommend(&self, req: &RecommendRequest) -> Result<Vec<Recommended>, crate::request::RequestError> {
        if req.k == 0 || req.k > self.items.len() - 1 {
            return Err(crate::request::RequestError::new("k", format!("must be 1..={}", self.items.len() - 1)));
        }
        if req.history.is_empty() {
            return Err(crate::request::RequestError::new("history", "must list at least one item"));
        }
        let history = self.history_ids(&req.history)?;
        let q = self.query(&history);
        let excluded: &[u32] = if req.exclude_history { &history } else { &[] };
        Ok(self
            .top_k(&q, req.k, excluded, req.exact)
            .into_iter()
            .map(|(i, score)| Recommended { item: self.items[i as usize].clone(), score })
            .collect())
    }

    pub fn items(&self) -> usize {
        self.items.len() - 1
    }

    pub fn max_len(&self) -> usize {
        self.cfg.data.max_len
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

/// Share of the exact top-`k` that the index also returns, averaged over `histories`.
pub fn ann_recall(model: &RetrievalModel, histories: &[Vec<u32>], k: usize) -> f64 {
    let mut total = 0.0;
    for h in histories {
        let q = model.query(h);
        let exact: Vec<u32> = model.top_k(&q, k, h, true).into_iter().map(|x| x.0).collect();
        let ann: Vec<u32> = model.top_k(&q, k, h, false).into_iter().map(|x| x.0).collect();
        total += exact.iter().filter(|i| ann.contains(i)).count() as f64 / k as f64;
    }
    total / histories.len().max(1) as f64
}
