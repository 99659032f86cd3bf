//! `POST /v1/recommend` for every ranking family: a sequential run answers from a history or a
//! user's history ([`crate::retrieval::RetrievalModel`]); a top-K run answers for a user of its
//! data, from the user's training row, with every item the user is known to have left out
//! ([`TopKRecommender`]). Which one a run is comes from its `[model] kind`.

use crate::model::LoadError;
use crate::request::RequestError;
use crate::retrieval::{RecommendRequest, Recommended, RetrievalModel};
use burn::tensor::Device;
use recdiff_run::TopKRun;
use std::path::{Path, PathBuf};

/// Why a recommendation was not given: the request (400), a user the run does not know (404),
/// what this server cannot answer (422), or the model (500).
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

/// A key given as a JSON string or integer; `field` and `what` name it in the error.
pub fn key_of(v: &serde_json::Value, field: &str, what: &str) -> Result<String, RequestError> {
    match v {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) if n.is_i64() => Ok(n.to_string()),
        _ => Err(RequestError::new(field, format!("expected {what} (string or integer)"))),
    }
}

/// `k` must be 1..=`items`.
pub fn check_k(k: usize, items: usize) -> Result<(), RequestError> {
    if k == 0 || k > items {
        return Err(RequestError::new("k", format!("must be 1..={items}")));
    }
    Ok(())
}

/// A top-K run opened for recommendation (it reads the run's data: the users and their items).
pub struct TopKRecommender {
    pub run: PathBuf,
    pub name: String,
    inner: TopKRun,
}

impl TopKRecommender {
    pub fn load(run: &Path) -> Result<Self, LoadError> {
        let inner =
            TopKRun::open(run, &Device::flex()).map_err(|e| LoadError::Run { path: e.path, message: e.message })?;
        Ok(Self { run: run.to_path_buf(), name: inner.cfg.model.name().into(), inner })
    }

    pub fn recommend(&self, req: &RecommendRequest) -> Result<Vec<Recommended>, RecommendError> {
        let run = &self.inner;
        check_k(req.k, run.items.len())?;
        if !req.history.is_empty() {
            return Err(
                RequestError::new("history", "a top-K run recommends for a user of its data: give \"user\"").into()
            );
        }
        let user = req.user.as_ref().ok_or_else(|| RequestError::new("user", "required for a top-K run"))?;
        let key = key_of(user, "user", "a user key")?;
        let u = run.user(&key).ok_or(RecommendError::UnknownUser(key))?;
        let ranked = run.recommend(u, req.k).map_err(RecommendError::Internal)?;
        Ok(ranked.into_iter().map(|(i, score)| Recommended { item: run.items[i as usize].clone(), score }).collect())
    }
}

/// The run behind `/v1/recommend`.
pub enum Recommender {
    Seq(Box<RetrievalModel>),
    TopK(Box<TopKRecommender>),
}

impl Recommender {
    /// Opens `run` as the family its config's `[model] kind` names.
    pub fn load(run: &Path) -> Result<Self, LoadError> {
        let path = run.join(recdiff_run::ctr::CONFIG_FILE);
        let fail = |message: String| LoadError::Run { path: path.clone(), message };
        let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| fail(e.to_string()))?;
        let kind = table.get("model").and_then(|m| m.get("kind")).and_then(|k| k.as_str()).unwrap_or_default();
        if recdiff_model::topk::KINDS.contains(&kind) {
            Ok(Self::TopK(Box::new(TopKRecommender::load(run)?)))
        } else if recdiff_model::seq::KINDS.contains(&kind) {
            Ok(Self::Seq(Box::new(RetrievalModel::load(run)?)))
        } else {
            Err(fail(format!(
                "[model] kind {kind:?} is not a sequential or top-K model: /v1/recommend cannot serve it"
            )))
        }
    }

    pub fn run(&self) -> &Path {
        match self {
            Self::Seq(m) => &m.run,
            Self::TopK(m) => &m.run,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Self::Seq(m) => &m.name,
            Self::TopK(m) => &m.name,
        }
    }

    /// Items in the catalogue.
    pub fn items(&self) -> usize {
        match self {
            Self::Seq(m) => m.items(),
            Self::TopK(m) => m.inner.items.len(),
        }
    }

    /// The answer and how it was searched (`exact` or `hnsw`; top-K runs score every item).
    pub fn recommend(&self, req: &RecommendRequest) -> Result<(Vec<Recommended>, &'static str), RecommendError> {
        match self {
            Self::Seq(m) => Ok((m.recommend(req)?, if req.exact { "exact" } else { "hnsw" })),
            Self::TopK(m) => Ok((m.recommend(req)?, "exact")),
        }
    }
}

impl From<RecommendError> for crate::ApiError {
    fn from(e: RecommendError) -> Self {
        use axum::http::StatusCode;
        match e {
            RecommendError::Request(r) => r.into(),
            e @ RecommendError::UnknownUser(_) => {
                Self::new(StatusCode::NOT_FOUND, "unknown_user", e.to_string()).with_field("user")
            }
            RecommendError::Unavailable(m) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unavailable", m),
            RecommendError::Internal(m) => Self::internal(m),
        }
    }
}
